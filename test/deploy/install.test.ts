// The README's "Install in your project", followed word for word on a fresh directory: pack qilin,
// install the tarball in a new app, `npx qilin` serves it (a TypeScript app, no build step).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, request, ROOT, sleep } from '../helpers.js';

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

t.test('npm pack → npm install the tarball in a new app → npx qilin serves it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-install-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // dist/ is built by `npm test`; the tarball holds what `files` lists.
  npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  t.ok(tarball, 'npm pack made a tarball');
  const app = path.join(dir, 'my-app');
  npm(['init', '-y'], (execFileSync('mkdir', ['-p', app]), app));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, tarball!)], app);
  writeFileSync(
    path.join(app, 'app.ts'),
    'export default { fetch: (req: Request): Response => new Response(`hello from ${new URL(req.url).pathname}`) };\n',
  );

  const port = await freePort();
  const proc = spawn('npx', ['qilin', '-b', `127.0.0.1:${port}`, 'app.ts'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc.stdout.on('data', (d) => {
    output += d;
  });
  proc.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  for (let i = 0; i < 300 && !/Listening at:/.test(output); i++) await sleep(50);
  t.match(output, /Starting qilin [\d.]+/, 'the installed qilin starts');
  let res = null;
  for (let i = 0; i < 100 && !res; i++) {
    try {
      res = await request(`http://127.0.0.1:${port}/installed`);
    } catch {
      await sleep(100);
    }
  }
  t.equal(res?.status, 200);
  t.equal(res?.body, 'hello from /installed', 'a TypeScript app from the new project, served');
  t.match(output, /Using engine: (uws|node)/, 'it names its engine');
  // TERM to the whole group, as a terminal's Ctrl-C or a container stop reaches it.
  process.kill(-proc.pid!, 'SIGTERM');
  await exited;
  for (let i = 0; i < 100 && !/Shutting down: Master/.test(output); i++) await sleep(50);
  t.match(output, /Shutting down: Master/, 'qilin stops on TERM');
});
