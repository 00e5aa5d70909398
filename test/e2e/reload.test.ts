// reload (development mode): edits to the app's files replace the workers, a broken edit keeps the
// running ones, reload_extra_files and the poll engine; and preload_app's check before forking.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Reloader } from '../../lib/arbiter/reloader.js';
import { ENGINES, fixture, freePort, pollFor, request, runQilin, sleep, startQilin, type Qilin } from '../helpers.js';

// Several servers per engine, each started with tsx and reloaded a few times on a busy 2-core machine.
t.setTimeout(360_000);

type Flavour = 'ts' | 'mjs';

/** The reload fixture of one flavour in a fresh temp dir (removed at teardown). */
function appDir(t: { teardown(fn: () => void): void }, flavour: Flavour): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of [`app.${flavour}`, `message.${flavour}`, 'greeting.txt'])
    copyFileSync(fixture(`reload/${f}`), path.join(dir, f));
  return dir;
}

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

/** GET / until the body matches `re`; the body, split into its words. */
async function waitForBody(q: Qilin, re: RegExp, timeout = 30000): Promise<string[]> {
  const end = Date.now() + timeout;
  let last = '';
  for (;;) {
    try {
      last = (await request(q.url + '/')).body;
      if (re.test(last)) return last.split(' ');
    } catch {
      /* between workers */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for a body matching ${re} (last: ${last}):\n${q.output}`);
    await sleep(100);
  }
}

/** Replace `from` by `to` in a file, as an editor's save does (write in place). */
function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not hold ${from}`);
  writeFileSync(file, text.replace(from, to));
}

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    // One flavour per engine: TypeScript (tsx, CommonJS here: require.cache) and ES modules (the resolve hook).
    const flavour: Flavour = engine === 'uws' ? 'ts' : 'mjs';
    const app = `app.${flavour}`;
    const message = `message.${flavour}`;

    t.test(`edits to ${app} and to the module it imports replace the workers`, async (t) => {
      const dir = appDir(t, flavour);
      const q = await startQilin(t, ['--reload', '-w', '2', app], { engine, cwd: dir, ready: 2 });
      t.match(q.output, /\[WARNING\] Reloader is on\. Use in development only!/);
      const [, , , first] = await waitForBody(q, /^app1 v1 hello \d+$/);
      const old = await q.waitForWorkers(2);

      edit(path.join(dir, app), "'app1'", "'app2'");
      const [, , , pid2] = await waitForBody(q, /^app2 v1 hello \d+$/);
      t.match(q.output, new RegExp(`\\[INFO\\] Reloading workers: ${app.replace('.', '\\.')} modified`));
      t.notOk(old.includes(Number(pid2)), `a new worker serves the edited app (${first} → ${pid2})`);
      const second = await q.waitForWorkers(2);
      t.notOk(
        second.some((p) => old.includes(p)),
        'every old worker was replaced',
      );

      edit(path.join(dir, message), "'v1'", "'v2'");
      const [, , , pid3] = await waitForBody(q, /^app2 v2 hello \d+$/);
      t.match(
        q.output,
        new RegExp(`Reloading workers: ${message.replace('.', '\\.')} modified`),
        'the imported module is watched',
      );
      t.notOk(second.includes(Number(pid3)), 'replaced again');

      // greeting.txt is read, not imported: the module graph does not hold it, so nothing reloads.
      const reloads = count(q.output, /Reloading workers/);
      writeFileSync(path.join(dir, 'greeting.txt'), 'ignored\n');
      writeFileSync(path.join(dir, 'notes.md'), 'a file next to the app\n');
      await sleep(2500);
      t.equal(count(q.output, /Reloading workers/), reloads, 'a file outside the module graph does not reload');
      t.equal(q.exit, null);
    });

    t.test('a broken edit keeps the running workers; the fix is picked up', async (t) => {
      const dir = appDir(t, flavour);
      const q = await startQilin(t, ['--reload', '-w', '2', app], { engine, cwd: dir, ready: 2 });
      await waitForBody(q, /^app1 v1 hello/);
      const old = (await q.waitForWorkers(2)).sort();
      const file = path.join(dir, message);
      const good = readFileSync(file, 'utf8');

      writeFileSync(file, `${good}}\n`); // a syntax error
      await q.waitFor(
        /\[ERROR\] Reload failed: worker \(pid:\d+\) could not load the app; keeping the running workers/,
        { timeout: 30000 },
      );
      t.match(q.output, new RegExp(`Failed to load module ${app.replace('.', '\\.')}`), 'the load error is logged');
      let { statuses, pids } = await pollFor(q, 1500, '/', (body) => Number(body.split(' ').at(-1)));
      t.ok(
        statuses.length > 5 && statuses.every((s) => s === 200),
        `every request answered 200 (${statuses.join(',')})`,
      );
      t.ok(
        [...pids].every((p) => old.includes(p)),
        'by the old workers',
      );

      writeFileSync(file, "throw new Error('broken on purpose');\nexport const message = () => 'never';\n");
      await q.waitFor(/Reload failed: worker \(pid:\d+\) could not load the app/, { timeout: 30000, count: 2 });
      t.match(q.output, /broken on purpose/, 'the error thrown at import is logged');
      ({ statuses, pids } = await pollFor(q, 1500, '/', (body) => Number(body.split(' ').at(-1))));
      t.ok(
        statuses.every((s) => s === 200),
        `still every request answered 200 (${statuses.join(',')})`,
      );
      t.ok(
        [...pids].every((p) => old.includes(p)),
        'still by the old workers',
      );
      t.same((await q.waitForWorkers(2)).sort(), old, 'the old workers were kept');

      writeFileSync(file, good.replace("'v1'", "'v3'"));
      const [, , , pid] = await waitForBody(q, /^app1 v3 hello \d+$/);
      t.notOk(old.includes(Number(pid)), 'the fixed app runs in new workers');
      t.equal(q.exit, null, 'the arbiter is alive');
    });

    t.test('--reload-extra-file: a change to a file the app reads reloads it', async (t) => {
      const dir = appDir(t, flavour);
      const q = await startQilin(t, ['--reload', '--reload-extra-file', 'greeting.txt', app], { engine, cwd: dir });
      const [, , , before] = await waitForBody(q, /^app1 v1 hello \d+$/);
      writeFileSync(path.join(dir, 'greeting.txt'), 'bonjour\n');
      const [, , , after] = await waitForBody(q, /^app1 v1 bonjour \d+$/);
      t.not(after, before, 'served by a new worker');
      t.match(q.output, /Reloading workers: greeting\.txt modified/);
    });
  });

t.test('--reload-engine poll: an edit is seen by polling', async (t) => {
  const dir = appDir(t, 'mjs');
  const q = await startQilin(t, ['--reload', '--reload-engine', 'poll', 'app.mjs'], { cwd: dir });
  await waitForBody(q, /^app1 v1 hello/);
  t.match(q.output, /Reloader watching 2 file\(s\) \(polling\)/, 'the app and its import, polled');
  await sleep(1100); // a new mtime on filesystems that keep whole seconds
  edit(path.join(dir, 'message.mjs'), "'v1'", "'v2'");
  await waitForBody(q, /^app1 v2 hello/);
  t.match(q.output, /Reloading workers: message\.mjs modified/);
});

t.test('--reload-extra-file that does not exist: one clear error, exit 1', async (t) => {
  const r = await runQilin(['--reload', '--reload-extra-file', 'no-such-file.txt', fixture('ops-app.mjs')]);
  t.equal(r.code, 1);
  t.equal(r.output, 'Error: Invalid value for reload_extra_files: "no-such-file.txt" (no such file or directory)\n');
});

t.test('the directory watch (workers cannot tell the module files) skips node_modules and dotfiles', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-reload-tree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['src', 'node_modules/dep', '.git']) mkdirSync(path.join(dir, d), { recursive: true });
  for (const engine of ['inotify', 'poll'] as const) {
    const seen: string[][] = [];
    const reloader = new Reloader({
      engine,
      extra: [],
      appDir: dir,
      onChange: (files) => seen.push(files),
      warn: () => {},
      debug: () => {},
    });
    t.teardown(() => reloader.close());
    reloader.setModuleFiles(null, true);
    const settle = engine === 'poll' ? 2500 : 1000;
    await sleep(engine === 'poll' ? 1100 : 100);
    writeFileSync(path.join(dir, 'node_modules/dep/index.js'), `// ${engine}\n`);
    writeFileSync(path.join(dir, '.git/HEAD'), `${engine}\n`);
    writeFileSync(path.join(dir, 'src/.view.swp'), `${engine}\n`);
    await sleep(settle);
    t.same(seen, [], `${engine}: node_modules and dotfiles are not watched`);
    writeFileSync(path.join(dir, 'src/view.js'), `// ${engine}\n`);
    writeFileSync(path.join(dir, 'src/view.js'), `// ${engine} again\n`);
    const end = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < end) await sleep(50);
    t.same(
      seen,
      [[path.join(dir, 'src/view.js')]],
      `${engine}: a file below the app's directory is, two writes make one change`,
    );
    reloader.close();
  }
});

t.test("after a failed load, a file created next to the app's modules reloads (the missing import)", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-reload-broken-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app.mjs');
  writeFileSync(app, "import './missing.mjs';\n");
  const seen: string[][] = [];
  const reloader = new Reloader({
    engine: 'inotify',
    extra: [],
    appDir: dir,
    onChange: (files) => seen.push(files),
    warn: () => {},
    debug: () => {},
  });
  t.teardown(() => reloader.close());
  reloader.setModuleFiles([app], true);
  writeFileSync(path.join(dir, 'missing.mjs'), '// not yet imported\n');
  await sleep(1000);
  t.same(seen, [], 'while the app loads, only its module files count');
  reloader.setModuleFiles([app], false);
  writeFileSync(path.join(dir, 'missing.mjs'), '// the fix\n');
  const end = Date.now() + 5000;
  while (seen.length === 0 && Date.now() < end) await sleep(50);
  t.same(seen, [[path.join(dir, 'missing.mjs')]], 'once it failed, a new file next to it counts');
});

t.test('--preload with an app that cannot load: exit 4 before any worker is forked', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-preload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app.mjs');
  writeFileSync(app, "throw new Error('broken on purpose');\n");
  const r = await runQilin(['--preload', '-b', `127.0.0.1:${await freePort()}`, app]);
  t.equal(r.code, 4, 'exit 4, as Gunicorn for an app that cannot load');
  t.match(r.output, /broken on purpose/, 'the error is logged');
  t.match(r.output, /\[ERROR\] Reason: App failed to load\./);
  t.notMatch(r.output, /Booting worker/, 'no worker was forked');
  t.notMatch(r.output, /Listening at/, 'nothing was bound');
});

t.test('--preload with a good app: checked once, then served', async (t) => {
  const q = await startQilin(t, ['--preload', fixture('ops-app.mjs')]);
  const loaded = /\[(\d+)\] \[DEBUG\] App loaded before forking workers: /.exec(q.output);
  t.ok(loaded, 'the app was loaded before forking');
  const [worker] = await q.waitForWorkers(1);
  t.not(Number(loaded?.[1]), q.pid, 'in its own process, not the arbiter');
  t.not(Number(loaded?.[1]), worker, 'nor the worker');
  t.ok(q.output.indexOf('App loaded before forking') < q.output.indexOf('Booting worker'), 'before the first worker');
  t.equal((await request(q.url + '/')).status, 200);
  t.same(q.workerPids(), [worker], 'the checking process is gone');
});
