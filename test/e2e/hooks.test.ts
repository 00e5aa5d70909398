// Server hooks from a real config file: called in the process and order Gunicorn calls them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fixture, request, sleep, startQilin } from '../helpers.js';

interface Call {
  name: string;
  pid: number;
  detail: string;
}

function calls(file: string): Call[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, pid, ...rest] = line.split(' ');
      return { name: name!, pid: Number(pid), detail: rest.join(' ') };
    });
}

function hookLogFile(tt: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-hooks-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'hooks.log');
}

async function until(what: () => boolean, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

t.test('every hook, in the arbiter or the worker, in Gunicorn order (fetch app, uws)', async (t) => {
  const log = hookLogFile(t);
  const q = await startQilin(t, ['-c', fixture('hooks.config.mjs'), `${fixture('app.mjs')}:handler`], {
    engine: 'uws',
    env: { HOOK_LOG: log },
    ready: 2,
  });
  const arbiter = q.pid;
  const first = await q.waitForWorkers(2);

  const ok = await request(`${q.url}/hello`);
  t.equal(ok.status, 200);
  const refused = await request(`${q.url}/refused-by-hook`);
  t.equal(refused.status, 500, 'a throwing pre_request answers that request 500');
  t.equal((await request(`${q.url}/after`)).status, 200, 'and the worker serves on');
  await until(() => calls(log).filter((c) => c.name === 'post_request').length >= 3);

  q.signal('SIGTTIN');
  await q.waitForWorkers(3);
  q.signal('SIGTTOU');
  await q.waitForWorkers(2);
  q.signal('SIGHUP');
  await until(() => calls(log).some((c) => c.name === 'on_reload'));
  await until(() => {
    const now = q.workerPids();
    return now.length === 2 && now.every((p) => !first.includes(p));
  }, 20000);
  q.signal('SIGTERM');
  t.same(await q.exited, { code: 0, signal: null });

  const all = calls(log);
  const names = all.map((c) => c.name);
  const inArbiter = (name: string) => all.filter((c) => c.name === name).every((c) => c.pid === arbiter);
  const inWorkers = (name: string) => all.filter((c) => c.name === name).every((c) => c.pid !== arbiter);

  t.same(names.slice(0, 3), ['nworkers_changed', 'on_starting', 'when_ready'], 'set-up hooks first, in order');
  t.equal(all[0]!.detail, 'null->2');
  t.equal(all[1]!.detail, `arbiter=${arbiter}`);
  t.equal(names.at(-1), 'on_exit', 'on_exit last');
  for (const name of [
    'nworkers_changed',
    'on_starting',
    'when_ready',
    'pre_fork',
    'on_reload',
    'child_exit',
    'on_exit',
  ]) {
    t.ok(names.includes(name), `${name} called`);
    t.ok(inArbiter(name), `${name} runs in the arbiter`);
  }
  for (const name of ['post_fork', 'post_worker_init', 'pre_request', 'post_request', 'worker_exit']) {
    t.ok(names.includes(name), `${name} called`);
    t.ok(inWorkers(name), `${name} runs in a worker`);
  }
  // Per worker: pre_fork (arbiter) → post_fork → post_worker_init (that worker).
  for (const pid of first) {
    const fork = all.findIndex((c) => c.name === 'post_fork' && c.pid === pid);
    const init = all.findIndex((c) => c.name === 'post_worker_init' && c.pid === pid);
    t.ok(fork >= 0 && init > fork, `worker ${pid}: post_fork before post_worker_init`);
    t.equal(all[fork]!.detail.split(' ')[0], `arbiter=${arbiter}`, 'post_fork is given the arbiter');
    t.equal(all[init]!.detail, `pid=${pid}`, 'post_worker_init is given its worker');
    const age = all[fork]!.detail.split(' ')[1];
    const pre = all.findIndex((c) => c.name === 'pre_fork' && c.detail === age);
    t.ok(pre >= 0 && pre < fork, `pre_fork (${age}) before that worker's post_fork`);
    t.ok(
      all.some((c) => c.name === 'worker_exit' && c.pid === pid && c.detail === `pid=${pid}`),
      `worker_exit in ${pid}`,
    );
    t.ok(
      all.some((c) => c.name === 'child_exit' && c.detail === `pid=${pid}`),
      `child_exit for ${pid}`,
    );
  }
  t.same(
    all.filter((c) => c.name === 'nworkers_changed').map((c) => c.detail),
    ['null->2', '2->3', '3->2'],
    'nworkers_changed on start, TTIN and TTOU (a reload to the same count is no change)',
  );
  const posts = all.filter((c) => c.name === 'post_request').map((c) => c.detail);
  t.ok(posts.includes('GET /hello 200 text/plain;charset=UTF-8'), 'post_request sees the request and the response');
  t.ok(
    posts.some((p) => p.startsWith('GET /refused-by-hook 500 ')),
    'and the 500 a pre_request throw gave',
  );
  const pres = all.filter((c) => c.name === 'pre_request').map((c) => c.detail);
  t.ok(
    pres.some((u) => u.endsWith('/hello')),
    'pre_request gets the request',
  );
  const reloadAt = names.indexOf('on_reload');
  const newFork = all.findIndex((c, i) => i > reloadAt && c.name === 'pre_fork');
  t.ok(newFork > reloadAt, 'on_reload before the new workers are forked');
  t.notOk(names.includes('worker_int'), 'no worker_int on TERM');
});

t.test("Node-style app on the node engine: pre_request gets node's req; INT calls worker_int", async (t) => {
  const log = hookLogFile(t);
  const q = await startQilin(t, ['-c', fixture('hooks.config.mjs'), '-w', '1', fixture('node-apps/handler.mjs')], {
    engine: 'node',
    env: { HOOK_LOG: log },
    ready: 1,
  });
  t.equal((await request(`${q.url}/pid`)).status, 200);
  t.equal((await request(`${q.url}/refused-by-hook`)).status, 500, 'a throwing pre_request: 500');
  await until(() => calls(log).filter((c) => c.name === 'post_request').length >= 2);
  const [worker] = q.workerPids();
  q.signal('SIGINT');
  await q.exited;
  const all = calls(log);
  t.ok(
    all.some((c) => c.name === 'pre_request' && c.detail === '/pid'),
    "node's req.url is the path",
  );
  t.ok(
    all.some((c) => c.name === 'post_request' && c.detail.startsWith('GET /pid 200')),
    'post_request',
  );
  const int = all.findIndex((c) => c.name === 'worker_int' && c.pid === worker);
  const exit = all.findIndex((c) => c.name === 'worker_exit' && c.pid === worker);
  t.ok(int >= 0, 'worker_int in the worker on INT');
  t.ok(exit > int, 'then worker_exit');
  t.equal(all.at(-1)!.name, 'on_exit');
});

t.test('a hook that is not a function is a config error', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'bad.config.mjs');
  (await import('node:fs')).writeFileSync(cfg, 'export default { post_fork: "not a function" };\n');
  const { runQilin } = await import('../helpers.js');
  const r = await runQilin(['-c', cfg, `${fixture('app.mjs')}:handler`]);
  t.equal(r.code, 1);
  t.match(r.output, /Error: Invalid value for post_fork: string \(a function is needed\)/);
});
