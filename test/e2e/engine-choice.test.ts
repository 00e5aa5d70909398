// Which engine and which uWebSockets.js build serve (an unset engine is settled by loading the app
// once in a child before any worker is forked), and binds that fail loudly on every engine: a port
// another process holds is `Connection in use` and exit 3, never a random port.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { fixture, freePort, ROOT, request, runQilin, startQilin } from '../helpers.js';

const require = createRequire(import.meta.url);
const hello = `${fixture('app.mjs')}:handler`;
/** The engines that can serve on this Node and machine (no native uWS build: node only). */
const uwsHere = (await runQilin(['--version'])).output.includes('uws engine: uWebSockets.js');
const engines = uwsHere ? (['node', 'uws'] as const) : (['node'] as const);

/** A port held by another process (a plain listener, as another server would). */
async function holdPort(t: Test, opts: { reusePort?: boolean } = {}): Promise<number> {
  const port = await freePort();
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `
    require('net').createServer(() => {}).listen({ host: '127.0.0.1', port: ${port}${opts.reusePort ? ', reusePort: true' : ''} }, () => console.log('held'));
  `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return port;
}

/** Nothing of qilin's may be left listening anywhere: the arbiter exited, its group is gone. */
function assertInUse(t: Test, r: { code: number | null; output: string }, port: number, what: string): void {
  t.equal(r.code, 3, `${what}: exit 3`);
  t.match(r.output, `Connection in use: 127.0.0.1:${port}`, `${what}: says the port is in use`);
  t.notMatch(r.output, /Listening at:/, `${what}: never says it listens`);
}

t.test('a port another process holds: exit 3 on every engine, however chosen', async (t) => {
  const port = await holdPort(t);
  for (const engine of engines) {
    const r = await runQilin(['--engine', engine, '-b', `127.0.0.1:${port}`, hello]);
    assertInUse(t, r, port, `--engine ${engine}`);
  }
  assertInUse(t, await runQilin(['-b', `127.0.0.1:${port}`, hello]), port, 'engine unset');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-bind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const engine of engines) {
    writeFileSync(
      path.join(dir, `${engine}.config.mjs`),
      `export const engine = '${engine}';\nexport const bind = ['127.0.0.1:${port}'];\n`,
    );
    assertInUse(
      t,
      await runQilin(['-c', `${engine}.config.mjs`, hello], { cwd: dir }),
      port,
      `engine = "${engine}" in a config file`,
    );
  }
  // A Node-style app settles an unset engine on node (loaded in a child first): the same answer.
  assertInUse(
    t,
    await runQilin(['-b', `127.0.0.1:${port}`, fixture('node-apps/express-app.cjs')]),
    port,
    'a Node-style app',
  );
});

t.test('engine unset: the app is loaded once in a child to settle it; an engine given skips that', async (t) => {
  const CHECKED = /\[DEBUG\] App loaded before forking workers: /;
  const unset = await startQilin(t, [hello]);
  if (uwsHere) {
    t.match(unset.output, CHECKED, 'engine unset: loaded before forking');
    t.ok(unset.output.search(CHECKED) < unset.output.indexOf('Booting worker'), 'before the first worker');
    t.match(unset.output, /Using engine: uws /, 'a fetch app keeps the default');
  } else {
    t.notMatch(unset.output, CHECKED, 'no uWebSockets.js build here: node is settled without loading the app');
  }
  t.equal(unset.output.match(/Booting worker/g)?.length, 1, 'one worker forked, none replaced');
  for (const engine of engines) {
    const given = await startQilin(t, [hello], { engine });
    t.notMatch(given.output, CHECKED, `--engine ${engine}: no check`);
    t.equal((await request(given.url)).status, 200);
  }
});

t.test(
  '--engine uws with a Node-style app and --preload: exit 1 before any worker is forked',
  { skip: !uwsHere && 'no native uWebSockets.js build here' },
  async (t) => {
    const r = await runQilin([
      '--engine',
      'uws',
      '--preload',
      '-b',
      `127.0.0.1:${await freePort()}`,
      fixture('node-apps/express-app.cjs'),
    ]);
    t.equal(r.code, 1);
    t.match(
      r.output,
      /Reason: Invalid value for engine: "uws" \(.*express-app\.cjs is an Express app, a Node-style app: it needs the node engine/,
    );
    t.notMatch(r.output, /Booting worker/);
  },
);

t.test('a port held with SO_REUSEPORT (another uws server, say) is in use too', async (t) => {
  const port = await holdPort(t, { reusePort: true });
  for (const engine of engines) {
    assertInUse(t, await runQilin(['--engine', engine, '-b', `127.0.0.1:${port}`, hello]), port, `--engine ${engine}`);
  }
});

t.test('a second qilin on the same port exits 3; the first serves on', async (t) => {
  for (const engine of engines) {
    const first = await startQilin(t, [hello], { engine });
    const second = await runQilin(['--engine', engine, '-b', `127.0.0.1:${first.port}`, hello]);
    assertInUse(t, second, first.port, `${engine}: the second server`);
    t.equal((await request(first.url)).status, 200, `${engine}: the first still answers`);
  }
});

/** An app directory with its own `node_modules/uWebSockets.js`, made from a bundled build's files. */
function appWithOwnUws(t: Test, withBinary: boolean): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-own-uws-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 20.30 loads on this machine's Node 20: its layout is src/uws.js + binaries/.
  const main = require.resolve('uws-legacy');
  const pkgDir = path.resolve(path.dirname(main), '..');
  const own = path.join(dir, 'node_modules', 'uWebSockets.js');
  mkdirSync(path.join(own, 'src'), { recursive: true });
  cpSync(main, path.join(own, 'src', 'uws.js'));
  cpSync(path.join(pkgDir, 'dist'), path.join(own, 'dist'), { recursive: true }); // its JavaScript fallback
  writeFileSync(
    path.join(own, 'package.json'),
    JSON.stringify({ name: 'uWebSockets.js', version: '20.30.0', main: 'src/uws.js' }),
  );
  if (withBinary) {
    const bin = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    mkdirSync(path.join(own, 'binaries'));
    cpSync(path.join(pkgDir, 'binaries', bin), path.join(own, 'binaries', bin));
  }
  writeFileSync(path.join(dir, 'app.mjs'), 'export default { fetch: () => new Response("own") };\n');
  return dir;
}

const nativeUwsHere = (() => {
  try {
    require(
      path.join(
        path.dirname(require.resolve('uws-legacy')),
        '..',
        'binaries',
        `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
      ),
    );
    return true;
  } catch {
    return false;
  }
})();

t.test(
  'a uWebSockets.js the app installed itself is used first',
  { skip: !nativeUwsHere && 'uWS 20.30 has no binary for this Node' },
  async (t) => {
    const dir = appWithOwnUws(t, true);
    const q = await startQilin(t, ['app.mjs'], { cwd: dir });
    t.match(
      q.output,
      new RegExp(
        `Using engine: uws \\(uWebSockets\\.js 20\\.30\\.0\\) \\(the app's own, ${dir}/node_modules/uWebSockets\\.js/src\\)`,
      ),
      "the start-up line names the app's build",
    );
    t.equal((await request(q.url)).body, 'own');
    t.match(
      q.output,
      `Worker using uWebSockets.js 20.30.0 (the arbiter's choice, ${dir}/node_modules/uWebSockets.js/src)`,
      'the worker loads the same build',
    );
    const v = await runQilin(['--version', 'app.mjs'], { cwd: dir });
    t.match(v.output, /^qilin \(version [\d.]+\)\n/, '--version: its first line as before');
    t.match(
      v.output,
      `uws engine: uWebSockets.js 20.30.0 (the app's own, ${dir}/node_modules/uWebSockets.js/src)`,
      '--version names the build',
    );
  },
);

t.test(
  'a build whose binary does not fit is skipped, never its JavaScript fallback',
  { skip: !nativeUwsHere && 'uWS 20.30 has no binary for this Node' },
  async (t) => {
    const dir = appWithOwnUws(t, false);
    const q = await startQilin(t, ['app.mjs'], { cwd: dir });
    t.match(
      q.output,
      /Using engine: uws \(uWebSockets\.js [\d.]+\) \(bundled; skipped uWebSockets\.js 20\.30\.0 \(the app's own, [^)]*\): no binary for Node \d+ \(ABI \d+\) on linux-x64/,
      "the app's build without a binary is skipped, and the line says why",
    );
    t.notMatch(q.output, /Falling back|NodeJS implementation/, 'no JavaScript stand-in');
    t.equal((await request(q.url)).body, 'own', 'served by a native build');
    const v = await runQilin(['--version', 'app.mjs'], { cwd: dir });
    t.match(v.output, /uws engine: uWebSockets\.js [\d.]+ \(bundled\)\n/);
    t.match(v.output, / {2}skipped uWebSockets\.js 20\.30\.0 \(the app's own, .*\): no binary for Node/);
  },
);

t.test('--version names this platform and every engine', async (t) => {
  const v = await runQilin(['--version'], { cwd: ROOT });
  t.equal(v.code, 0);
  t.match(
    v.output,
    new RegExp(
      `Node ${process.version.replace(/\./g, '\\.')} \\(ABI ${process.versions.modules}\\), linux-x64, (glibc [\\d.]+|musl)`,
    ),
  );
  t.match(v.output, /uws engine: (uWebSockets\.js [\d.]+ \(bundled\)|unavailable, engine unset serves with node)/);
  t.match(v.output, /node engine: node:http/);
});

t.test(
  'no native build for this Node: engine unset serves with node and says why; --engine uws exits 1',
  { skip: uwsHere && 'a native build loads on this Node (the platform suite covers the other lines)' },
  async (t) => {
    const q = await startQilin(t, [hello]);
    t.match(
      q.output,
      /Using engine: node \(node:http\) \(no native uWebSockets\.js build loads here: Node v[\d.]+ \(ABI \d+\)[^\n]*; (a glibc|install a uWebSockets|uWebSockets\.js publishes)/,
    );
    t.equal((await request(q.url)).status, 200);
    const r = await runQilin(['--engine', 'uws', '-b', `127.0.0.1:${await freePort()}`, hello]);
    t.equal(r.code, 1);
    t.match(r.output, /^Error: Invalid value for engine: "uws" \(no native uWebSockets\.js build loads here/m);
  },
);
