// qilin in a container, as docs/many-machines.md recommends running it: a PID namespace stands for the
// container (what Docker and Kubernetes give a process), and the checks are the ones an orchestrator
// relies on. The command in exec form is PID 1 and gets the stop signal; a shell in front of it swallows
// that signal (PID 1 ignores a signal it has no handler for); an init (tini) in front reaps orphans and
// passes the signal on; and /metrics carries the numbers an autoscaler reads.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { childrenOf, freePort, QILIN, Qilin, request, scrapeMetrics, sleep, startQilin } from '../helpers.js';

const canUnshare = (() => {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const hasTini = (() => {
  try {
    execFileSync('tini', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}
const NO_NAMESPACE = 'unshare --pid needs root (CI runs as root)';

/** An app with a slow route (to be in flight when the stop comes) and one that leaves an orphan behind. */
function writeApp(t: Teardown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-container-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app.mjs');
  writeFileSync(
    app,
    `import { spawn } from 'node:child_process';
export default async (req) => {
  const { pathname } = new URL(req.url);
  if (pathname === '/slow') await new Promise((r) => setTimeout(r, 1500));
  if (pathname === '/orphan') spawn('sh', ['-c', 'sleep 0.3 &'], { stdio: 'ignore' });
  return new Response('ok ' + pathname);
};
`,
  );
  return app;
}

/** Start `unshare --pid --fork --mount-proc CMD...` (the container); its PID 1 is the host pid of unshare's child. */
async function container(t: Teardown, cmd: string[], port: number): Promise<{ q: Qilin; pid1: number }> {
  const proc = spawn('unshare', ['--pid', '--fork', '--mount-proc', ...cmd], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const q = new Qilin(proc, port);
  t.teardown(async () => {
    q.kill(); // SIGKILL to the group: PID 1 of the namespace dies, and with it every process in it
    await q.exited;
  });
  await q.waitFor(/Worker \(pid:\d+\) ready/);
  let pid1 = 0;
  for (let i = 0; i < 50 && !pid1; i++) {
    pid1 = childrenOf(proc.pid!)[0]?.pid ?? 0;
    if (!pid1) await sleep(20);
  }
  return { q, pid1 };
}

const qilinCmd = (port: number, app: string) => [
  process.execPath,
  QILIN,
  '--log-level',
  'debug',
  '--graceful-timeout',
  '10',
  '-b',
  `127.0.0.1:${port}`,
  app,
];

t.test(
  'exec form: qilin is PID 1, and TERM stops it gracefully (the in-flight request is answered, exit 0)',
  { skip: canUnshare ? false : NO_NAMESPACE },
  async (t) => {
    const app = writeApp(t);
    const port = await freePort();
    const { q, pid1 } = await container(t, qilinCmd(port, app), port);
    t.match(q.output, /\[1\] \[INFO\] Starting qilin/, 'the arbiter is PID 1 of its namespace');
    const slow = request(`${q.url}/slow`);
    await sleep(300);
    process.kill(pid1, 'SIGTERM'); // what `docker stop` and the kubelet send
    const res = await slow;
    t.equal(res.status, 200, 'the request in flight at TERM is answered');
    t.equal(res.body, 'ok /slow');
    const exit = await q.exited;
    t.equal(exit.code, 0, 'the container exits 0: a clean stop, not a kill', { output: q.output });
    t.match(q.output, /Handling signal: term/);
    t.match(q.output, /Shutting down: Master/);
  },
);

t.test(
  'shell form: a shell as PID 1 does not pass TERM on (why the image uses the exec form)',
  { skip: canUnshare ? false : NO_NAMESPACE },
  async (t) => {
    const app = writeApp(t);
    const port = await freePort();
    // `; true` keeps the shell from replacing itself with qilin (what `CMD qilin …` in shell form gives).
    const script = `${qilinCmd(port, app)
      .map((w) => `'${w}'`)
      .join(' ')}; true`;
    const { q, pid1 } = await container(t, ['/bin/sh', '-c', script], port);
    t.match(
      childrenOf(pid1)[0]?.comm,
      /^(node|qilin)/,
      'PID 1 is the shell, qilin its child (its arbiter titled `qilin: master`)',
    );
    process.kill(pid1, 'SIGTERM');
    await sleep(1500);
    t.equal(
      q.exit,
      null,
      'still running 1.5 s after TERM: the orchestrator would have to KILL it after its grace period',
    );
    t.notMatch(q.output, /Handling signal: term/, 'qilin never saw the TERM');
    t.equal((await request(`${q.url}/`)).status, 200, 'and it still serves');
  },
);

t.test(
  'tini in front: orphans are reaped, TERM is passed on, no PID 1 warning',
  { skip: !canUnshare ? NO_NAMESPACE : hasTini ? false : 'tini is not installed (apt-get install tini)' },
  async (t) => {
    const app = writeApp(t);
    const port = await freePort();
    const { q, pid1 } = await container(t, ['tini', '--', ...qilinCmd(port, app)], port);
    t.notMatch(q.output, /qilin is PID 1/, 'qilin is not PID 1: no warning');
    const arbiter = childrenOf(pid1)[0]?.pid;
    t.ok(arbiter, 'the arbiter runs under tini');
    t.equal((await request(`${q.url}/orphan`)).status, 200);
    await sleep(1000); // the orphaned sleep exits after 0.3 s
    t.same(
      childrenOf(pid1).filter((c) => c.state === 'Z'),
      [],
      'no zombie under PID 1 (tini reaped the orphan)',
    );
    t.same(
      childrenOf(arbiter!).filter((c) => c.state === 'Z'),
      [],
      'none under the arbiter',
    );
    const slow = request(`${q.url}/slow`);
    await sleep(300);
    process.kill(pid1, 'SIGTERM');
    t.equal((await slow).status, 200, 'the request in flight is answered');
    const exit = await q.exited;
    t.equal(exit.code, 0, "tini exits with qilin's 0", { output: q.output });
    t.match(q.output, /Handling signal: term/, 'qilin got the TERM from tini');
  },
);

t.test('what an autoscaler reads: in-flight and queued requests per worker, and the worker count', async (t) => {
  const app = writeApp(t);
  const metricsPort = await freePort();
  const q = await startQilin(
    t,
    ['-w', '2', '--worker-connections', '1', '--metrics-bind', `127.0.0.1:${metricsPort}`, app],
    { engine: 'node' },
  );
  const held = Array.from({ length: 3 }, () => request(`${q.url}/slow`));
  let inFlight = 0;
  let queued = 0;
  let workers = 0;
  // Reports reach the arbiter about once a second: poll until all three requests are seen.
  for (let i = 0; i < 30 && inFlight + queued < 3; i++) {
    await sleep(100);
    const m = await scrapeMetrics({ port: metricsPort });
    inFlight = 0;
    queued = 0;
    for (const [k, v] of m.samples) {
      if (k.startsWith('qilin_worker_requests_in_flight{')) inFlight += v;
      if (k.startsWith('qilin_worker_requests_queued{')) queued += v;
    }
    workers = m.samples.get('qilin_workers') ?? 0;
  }
  t.equal(workers, 2, 'qilin_workers');
  t.equal(inFlight + queued, 3, 'the three held requests are counted, in flight or queued');
  t.ok(queued >= 1, 'with one slot per worker, at least one waits in a queue: the saturation signal');
  for (const r of await Promise.all(held)) t.equal(r.status, 200);
});
