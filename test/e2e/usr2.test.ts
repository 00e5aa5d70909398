// USR2: a new arbiter from the same command line beside the old one; then TERM the old one. Under
// load the whole way, no request may fail; the pid file moves as Gunicorn's does.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ENGINES, enableReusePortMigration, fixture, loadFor, request, sleep, startQilin } from '../helpers.js';

const noMigration = enableReusePortMigration(t);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const readPid = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null);

async function until(what: () => boolean, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

for (const engine of ENGINES) {
  t.test(
    `${engine}: USR2 then TERM to the old arbiter, under load: no request fails`,
    { skip: engine === 'uws' ? (noMigration ?? false) : false },
    async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-usr2-'));
      const pidfile = path.join(dir, 'qilin.pid');
      let newPid = 0;
      t.teardown(() => {
        if (newPid && alive(newPid)) process.kill(newPid, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      });
      const q = await startQilin(
        t,
        ['-w', '2', '-p', pidfile, '--graceful-timeout', '5', '--keep-alive', '1', fixture('node-apps/handler.mjs')]
          .filter((a) => engine === 'node' || a !== fixture('node-apps/handler.mjs'))
          .concat(engine === 'uws' ? [`${fixture('app.mjs')}:handler`] : []),
        { engine, ready: 2 },
      );
      const old = q.pid;
      t.equal(readPid(pidfile), old);
      const path0 = engine === 'node' ? '/pid' : '/';

      // Keep-alive clients and clients that open a new connection for every request, the whole way.
      const churn = loadFor(`${q.url}${path0}`, { connections: 8, durationMs: 9000, churn: true });
      const load = await loadFor(`${q.url}${path0}`, {
        connections: 8,
        durationMs: 9000,
        during: async () => {
          await sleep(500);
          q.signal('SIGUSR2');
          await q.waitFor(/Started by arbiter \d+ \(USR2\)/);
          await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 4, timeout: 20000 });
          newPid = readPid(`${pidfile}.2`) ?? 0;
          t.not(newPid, 0, 'the new arbiter writes <pidfile>.2');
          t.not(newPid, old);
          t.equal(readPid(`${pidfile}.oldbin`), old, 'the old pid file is renamed .oldbin');
          t.notOk(existsSync(pidfile), 'no pid file while both run');
          await sleep(1000);
          q.signal('SIGTERM');
          t.same(await q.exited, { code: 0, signal: null }, 'the old arbiter stops cleanly');
          // The new arbiter shares the old one's stderr: its lines still arrive in q.output.
          await until(() => readPid(pidfile) === newPid);
          // It logs before it renames the pid file, but the pipe may deliver the line a little later.
          await until(() => /Master has been promoted\./.test(q.output), 5000);
          t.pass('the new arbiter logs its promotion');
        },
      });
      const churned = await churn;
      t.equal(load.failed, 0, `no keep-alive request failed (${load.ok} ok; ${load.errors.slice(0, 3).join(', ')})`);
      t.ok(load.ok > 100, 'requests were served throughout');
      t.equal(
        churned.failed,
        0,
        `no request on a new connection failed (${churned.ok} ok; ${churned.errors.slice(0, 3).join(', ')})`,
      );
      t.ok(churned.ok > 100, 'new connections were served throughout');
      t.equal(readPid(pidfile), newPid, 'the promoted arbiter has the pid file');
      t.notOk(existsSync(`${pidfile}.oldbin`), '.oldbin removed by the old arbiter');
      t.notOk(existsSync(`${pidfile}.2`), '.2 renamed');
      t.equal((await request(`${q.url}${path0}`)).status, 200, 'the new generation serves');

      process.kill(newPid, 'SIGTERM');
      await until(() => !alive(newPid));
      t.notOk(existsSync(pidfile), 'the new arbiter removes its pid file at exit');
    },
  );
}

t.test(
  'USR2 twice: the second is ignored while the new arbiter runs; pre_exec; the old one outlives a failed new one',
  async (t) => {
    let newPid = 0;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-usr2-'));
    const hookLog = path.join(dir, 'hooks.log');
    t.teardown(() => {
      if (newPid && alive(newPid)) process.kill(newPid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const q = await startQilin(t, ['-c', fixture('hooks.config.mjs'), '-w', '1', `${fixture('app.mjs')}:handler`], {
      engine: 'node',
      ready: 1,
      env: { HOOK_LOG: hookLog },
    });
    q.signal('SIGUSR2');
    await q.waitFor(/Started by arbiter \d+ \(USR2\)/);
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 20000 });
    newPid = Number(/\[(\d+)\] \[INFO\] Started by arbiter/.exec(q.output)?.[1]);
    q.signal('SIGUSR2');
    await q.waitFor(/USR2 signal ignored\. Child exists\./);
    t.pass('ignored');
    const lines = readFileSync(hookLog, 'utf8').split('\n');
    t.ok(lines.includes(`pre_exec ${q.pid} `), 'pre_exec runs in the old arbiter');
    t.ok(
      lines.includes(`on_starting ${newPid} arbiter=${newPid}`),
      'the new arbiter reads the same config (and hooks)',
    );
    t.ok(
      lines.indexOf(`pre_exec ${q.pid} `) < lines.indexOf(`on_starting ${newPid} arbiter=${newPid}`),
      'pre_exec first',
    );
    // Stopping the new arbiter: the old one is told and keeps serving.
    process.kill(newPid, 'SIGTERM');
    await q.waitFor(/The new arbiter \(pid:\d+\) exited/);
    t.equal((await request(`${q.url}/`)).status, 200, 'the old arbiter serves on');
  },
);

t.test(
  'USR2 with a Node-style app and the engine unset: the new arbiter serves on the sockets it was handed',
  async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-usr2-node-'));
    const pidfile = path.join(dir, 'qilin.pid');
    let newPid = 0;
    t.teardown(() => {
      if (newPid && alive(newPid)) process.kill(newPid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const q = await startQilin(t, ['-p', pidfile, fixture('node-apps/handler.mjs')]);
    t.match(q.output, /Using engine: node \(node:http\) \(.*a Node-style app\)/);
    q.signal('SIGUSR2');
    await q.waitFor(/Started by arbiter \d+ \(USR2\)/);
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 20000 });
    t.match(
      q.output,
      /Using engine: node \(node:http\) \(the arbiter that started this one by USR2 served with it\)/,
      'the new arbiter stays on node',
    );
    t.notMatch(q.output, /Connection in use/, 'and binds nothing the old one holds');
    t.equal(
      q.output.match(/App loaded before forking workers/g)?.length,
      1,
      'only the first arbiter loaded the app to settle its engine',
    );
    newPid = readPid(`${pidfile}.2`) ?? 0;
    t.not(newPid, 0);
    q.signal('SIGTERM');
    t.same(await q.exited, { code: 0, signal: null }, 'the old arbiter stops cleanly');
    await until(() => readPid(pidfile) === newPid);
    t.equal((await request(`${q.url}/pid`)).status, 200, 'the new arbiter serves');
    process.kill(newPid, 'SIGTERM');
    await until(() => !alive(newPid));
  },
);
