// Operating qilin: HUP re-reads the config and survives a broken app, the pid file guards against a
// second server, unusable log/pid paths and config typos are reported clearly, and what npm ships.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT, fixture, freePort, pollFor, request, runQilin, sleep, startQilin, type Qilin } from '../helpers.js';

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qilin-ops-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The arbiter's worker processes, by title: a TypeScript config makes tsx start an esbuild service
 * process in the arbiter too, which Qilin.workerPids() would count.
 */
function workers(q: Qilin): number[] {
  return q.workerPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qilin: worker');
    } catch {
      return false;
    }
  });
}

async function waitForWorkers(q: Qilin, n: number, timeout = 15000): Promise<number[]> {
  const end = Date.now() + timeout;
  for (;;) {
    const pids = workers(q);
    if (pids.length === n) return pids;
    if (Date.now() > end) throw new Error(`expected ${n} workers, have ${pids.length}:\n${q.output}`);
    await sleep(50);
  }
}

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

const CONFIGS: Record<string, (workers: number) => string> = {
  'qilin.config.mjs': (n) => `export default { workers: ${n} };\n`,
  'qilin.config.cjs': (n) => `module.exports = { workers: ${n} };\n`,
  'qilin.config.ts': (n) => `const workers: number = ${n};\nexport default { workers };\n`,
};

for (const [name, source] of Object.entries(CONFIGS)) {
  t.test(`HUP re-reads the config file (${path.extname(name)})`, async (t) => {
    const dir = tempDir(t, 'hup-config');
    const config = path.join(dir, name);
    writeFileSync(config, source(3));
    const q = await startQilin(t, ['-c', config, fixture('ops-app.mjs')], { ready: 3 });
    const before = await waitForWorkers(q, 3);
    writeFileSync(config, source(2));
    q.signal('SIGHUP');
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 5 }); // 3 at start, 2 after the reload
    const after = await waitForWorkers(q, 2);
    await sleep(1500);
    t.equal(workers(q).length, 2, 'the reload started the 2 workers the edited config asks for');
    t.notOk(
      after.some((p) => before.includes(p)),
      'all new workers',
    );
    t.equal((await request(q.url + '/')).status, 200);
  });
}

t.test('HUP with the app broken on disk keeps the running workers; fixed, HUP replaces them', async (t) => {
  const dir = tempDir(t, 'hup-broken');
  const app = path.join(dir, 'app.mjs');
  copyFileSync(fixture('ops-app.mjs'), app);
  const q = await startQilin(t, ['-w', '2', app], { ready: 2 });
  const old = (await q.waitForWorkers(2)).sort();

  writeFileSync(app, "throw new Error('broken on disk');\n");
  q.signal('SIGHUP');
  await q.waitFor(/\[ERROR\] Reload failed: worker \(pid:\d+\) could not load the app; keeping the running workers/);
  const booted = count(q.output, /Booting worker/);
  const { statuses, pids } = await pollFor(q, 3000, '/pid', Number);
  t.ok(statuses.length > 10 && statuses.every((s) => s === 200), `every request answered 200 (${statuses.join(',')})`);
  t.ok(
    [...pids].every((p) => old.includes(p)),
    'served by the old workers',
  );
  t.equal(q.exit, null, 'the arbiter is alive');
  t.match(q.output, /broken on disk/, 'the import error is logged');
  t.equal(count(q.output, /Booting worker/), booted, 'no more workers forked while the old ones serve');
  t.same((await q.waitForWorkers(2)).sort(), old, 'the old workers were kept');

  copyFileSync(fixture('ops-app.mjs'), app);
  q.signal('SIGHUP');
  await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 4 });
  const now = await q.waitForWorkers(2);
  t.notOk(
    now.some((p) => old.includes(p)),
    'the fixed app runs in new workers',
  );
  const r = await request(q.url + '/pid');
  t.equal(r.status, 200);
  t.ok(now.includes(Number(r.body)), 'a new worker serves');
});

t.test('a replacement that cannot load the app is retried at most once a second while others serve', async (t) => {
  const dir = tempDir(t, 'respawn-broken');
  const app = path.join(dir, 'app.mjs');
  copyFileSync(fixture('ops-app.mjs'), app);
  const q = await startQilin(t, ['-w', '2', app], { ready: 2 });
  const [victim, survivor] = await q.waitForWorkers(2);
  writeFileSync(app, 'export default {\n'); // a syntax error
  process.kill(victim!, 'SIGKILL');
  await q.waitFor(/could not load the app; keeping the running workers/);
  const booted = count(q.output, /Booting worker/);
  const { statuses, pids } = await pollFor(q, 3000, '/pid', Number);
  t.ok(
    statuses.every((s) => s === 200),
    'the surviving worker answers every request',
  );
  t.same([...pids], [survivor], 'served by the survivor');
  const retries = count(q.output, /Booting worker/) - booted;
  t.ok(retries >= 1 && retries <= 4, `retried ${retries} times in 3 s`);
  t.equal(q.exit, null, 'the arbiter is alive');

  copyFileSync(fixture('ops-app.mjs'), app);
  const now = await q.waitForWorkers(2);
  await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 3 });
  t.ok(now.includes(survivor!), 'the fixed app boots without a reload');
});

t.test('pid file: a second server refuses to start; the first keeps its pid file', async (t) => {
  const dir = tempDir(t, 'pid');
  const pidfile = path.join(dir, 'qilin.pid');
  const first = await startQilin(t, ['-p', pidfile, fixture('ops-app.mjs')]);
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(first.pid));

  const port = await freePort();
  const second = await runQilin(['-p', pidfile, '-b', `127.0.0.1:${port}`, fixture('ops-app.mjs')]);
  // Gunicorn: the RuntimeError from Pidfile.create is printed as "Error: ..." with exit 1.
  t.equal(second.code, 1, 'exit 1');
  t.equal(
    second.output,
    `Error: Already running on PID ${first.pid} (or pid file '${pidfile}' is stale)\n`,
    'one clear line',
  );
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(first.pid), 'the first server keeps its pid file');
  t.equal((await request(first.url + '/')).status, 200, 'and keeps serving');
  t.equal((await first.stop()).code, 0);
  t.notOk(existsSync(pidfile), 'removed at exit by its owner');
});

t.test('pid file: a stale one (dead pid) is replaced', async (t) => {
  const dir = tempDir(t, 'pid-stale');
  const pidfile = path.join(dir, 'qilin.pid');
  const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid names nobody now
  writeFileSync(pidfile, `${dead}\n`);
  const q = await startQilin(t, ['-p', pidfile, fixture('ops-app.mjs')]);
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(q.pid), 'our pid replaced the stale one');
  t.equal((await q.stop()).code, 0);
  t.notOk(existsSync(pidfile));
});

t.test('an unusable log or pid path: one line naming the setting, exit 1, no worker', async (t) => {
  const dir = tempDir(t, 'paths');
  const missing = path.join(dir, 'no-such-dir', 'x');
  for (const [flag, setting, file] of [
    ['--error-logfile', 'errorlog', missing],
    ['--access-logfile', 'accesslog', missing],
    ['--pid', 'pidfile', missing],
    ['--error-logfile', 'errorlog', '/proc/x'],
    ['--pid', 'pidfile', '/proc/x'],
  ] as const) {
    const port = await freePort();
    const r = await runQilin([flag, file, '-b', `127.0.0.1:${port}`, fixture('ops-app.mjs')]);
    t.equal(r.code, 1, `${flag} ${file} → exit 1`);
    t.equal(r.output.trim().split('\n').length, 1, `one line: ${r.output.trim()}`);
    t.match(
      r.output,
      new RegExp(`^Error: Invalid value for ${setting}: ${JSON.stringify(file).replace(/[/.]/g, '\\$&')} \\(E[A-Z]+: `),
    );
    t.notMatch(r.output, /Booting worker|Unhandled exception|\n\s+at /);
  }
});

t.test('unknown keys in the config file are warned about at start, with the closest setting', async (t) => {
  const dir = tempDir(t, 'typo');
  const config = path.join(dir, 'qilin.config.mjs');
  writeFileSync(
    config,
    'export const worker = 4;\nexport const log_level = "debug";\nexport const zzzzzz = 1;\n' +
      'export function on_starting() {}\nexport const timeout = 20;\n',
  );
  const q = await startQilin(t, ['-c', config, fixture('ops-app.mjs')]);
  t.match(
    q.output,
    /\[WARNING\] Unknown setting 'worker' in config file .*qilin\.config\.mjs, ignored \(did you mean 'workers'\?\)/,
  );
  t.match(q.output, /\[WARNING\] Unknown setting 'log_level' .*\(did you mean 'loglevel'\?\)/);
  t.match(
    q.output,
    /\[WARNING\] Unknown setting 'zzzzzz' in config file .*, ignored\n/,
    'no suggestion when nothing is close',
  );
  t.notMatch(q.output, /on_starting|'timeout'/, 'functions (hooks) and known settings are not warned about');
  t.equal(q.workerPids().length, 1, 'the typo did not set workers');
});

t.test('a CommonJS module exporting the app under a name', async (t) => {
  const port = await freePort();
  const r = await runQilin(['-b', `127.0.0.1:${port}`, fixture('ops-handler.cjs')]);
  t.equal(r.code, 4, 'the default export is not an app: exit 4');
  t.match(
    r.output,
    /'default' in '.*ops-handler\.cjs' is not an app qilin can serve.*\(exports: [^)]*\bhandler\b/,
    'lists module.exports names',
  );
  const q = await startQilin(t, [`${fixture('ops-handler.cjs')}:handler`]);
  const res = await request(q.url + '/');
  t.equal(res.status, 200);
  t.equal(res.body, 'from cjs handler', 'MODULE:handler serves module.exports.handler');
});

t.test('npm pack ships the runtime, README, CHANGELOG and LICENSE only', async (t) => {
  // --ignore-scripts: `prepare` would rebuild dist/ under the other tests' feet.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  const stray = files.filter(
    (f) => /^(test|bench|tap-snapshots|\.ci|dist\/test|dist\/bench)\//.test(f) || f.endsWith('.map'),
  );
  t.same(stray, [], 'no tests, bench, snapshots, CI files or source maps');
  for (const f of [
    'dist/bin/qilin.js',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/workers/main.js',
    'README.md',
    'CHANGELOG.md',
    'LICENSE',
    'package.json',
  ]) {
    t.ok(files.includes(f), `ships ${f}`);
  }
  t.ok(
    files.every((f) => /^dist\/(bin|lib|workers)\/|^(README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(f)),
    'nothing else',
  );
});
