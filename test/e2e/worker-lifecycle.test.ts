// A worker's lifecycle with real arbiters, signalled one worker at a time: what each stop leaves
// behind. Each test would fail if leaving the worker's scope did not tear everything down in order:
// a quick stop that does not cancel the requests in flight or skips worker_exit, a graceful stop held
// up by a timer, a last report that never goes out, a heartbeat gone before worker_exit ends, a stall
// watchdog thread still running at exit.
//
// The config file written below notes, in the worker, each hook and the process's 'exit' event with
// its code, the time and the number of the process's threads (/proc/self/task).
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ENGINES,
  fixture,
  freePort,
  rawExchange,
  request,
  scrapeMetrics,
  sleep,
  startQilin,
  type Qilin,
} from '../helpers.js';

t.setTimeout(300_000);

const CONFIG = `
import { appendFileSync, readdirSync } from 'node:fs';
const note = (name, detail = '') => appendFileSync(process.env.LIFECYCLE_LOG, \`\${name} \${process.pid} \${detail}\\n\`);
const threads = () => readdirSync('/proc/self/task').length;
let inWorker = false;
process.on('exit', (code) => { if (inWorker) note('exit', \`code=\${code} at=\${Date.now()} threads=\${threads()}\`); });
export default {
  post_fork: () => { inWorker = true; note('post_fork'); },
  worker_int: () => note('worker_int'),
  worker_abort: () => note('worker_abort'),
  worker_exit: async () => {
    note('worker_exit', \`threads=\${threads()}\`);
    const ms = Number(process.env.EXIT_HOOK_MS ?? 0);
    if (ms < 0) await new Promise(() => {}); // never settles
    else if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    note('worker_exit_done');
  },
};
`;

interface Note {
  name: string;
  pid: number;
  fields: Record<string, string>;
}

class Lifecycle {
  readonly dir: string;
  readonly log: string;
  readonly config: string;
  constructor(tt: { teardown(fn: () => void): void }) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-lifecycle-'));
    tt.teardown(() => rmSync(this.dir, { recursive: true, force: true }));
    this.log = path.join(this.dir, 'lifecycle.log');
    this.config = path.join(this.dir, 'lifecycle.config.mjs');
    writeFileSync(this.config, CONFIG);
  }

  notes(pid: number): Note[] {
    let text = '';
    try {
      text = readFileSync(this.log, 'utf8');
    } catch {
      /* nothing yet */
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, p, ...rest] = line.split(' ');
        return {
          name: name!,
          pid: Number(p),
          fields: Object.fromEntries(rest.map((f) => f.split('=') as [string, string])),
        };
      })
      .filter((n) => n.pid === pid);
  }

  names(pid: number): string[] {
    return this.notes(pid).map((n) => n.name);
  }

  /** The worker's 'exit' note, once it has exited. */
  async exited(pid: number, ms = 15000): Promise<{ code: number; at: number; threads: number }> {
    const end = Date.now() + ms;
    for (;;) {
      const exit = this.notes(pid).find((n) => n.name === 'exit');
      if (exit)
        return { code: Number(exit.fields.code), at: Number(exit.fields.at), threads: Number(exit.fields.threads) };
      if (Date.now() > end)
        throw new Error(`worker ${pid} did not exit within ${ms} ms: ${this.names(pid).join(', ')}`);
      await sleep(20);
    }
  }
}

async function onlyWorker(q: Qilin): Promise<number> {
  const [pid] = await q.waitForWorkers(1);
  return pid!;
}

/** A kept-alive connection that has been answered once and is idle now. */
async function idleConnection(port: number): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  let text = '';
  sock.on('data', (d) => {
    text += d;
  });
  sock.write('GET /pid HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < 200 && !/\r\n\r\n\d+$/.test(text); i++) await sleep(10);
  return sock;
}

const requestsTotal = (samples: Map<string, number>): number =>
  [...samples].filter(([k]) => k.startsWith('qilin_requests_total{')).reduce((sum, [, v]) => sum + v, 0);

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    for (const sig of ['SIGINT', 'SIGQUIT'] as const)
      t.test(
        `${sig.slice(3)}: out at once, requests in flight cancelled, worker_int then worker_exit, exit 0`,
        async (t) => {
          const life = new Lifecycle(t);
          const marker = path.join(life.dir, 'aborted');
          const control = path.join(life.dir, 'qilin.ctl'); // the worker reports its load for it every second
          const q = await startQilin(
            t,
            ['-c', life.config, '--graceful-timeout', '30', '--control-socket', control, fixture('app.ts')],
            {
              engine,
              env: { LIFECYCLE_LOG: life.log },
            },
          );
          const pid = await onlyWorker(q);
          const stuck = rawExchange(
            q.port,
            `GET /abort-marker?file=${encodeURIComponent(marker)} HTTP/1.1\r\nHost: x\r\n\r\n`,
            10000,
          );
          const slow = rawExchange(q.port, 'GET /slow?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n', 10000);
          await sleep(300);
          const t0 = Date.now();
          process.kill(pid, sig);
          const exit = await life.exited(pid);
          t.equal(exit.code, 0, 'exit 0');
          t.ok(exit.at - t0 < 1500, `out within the quick stop's second (${exit.at - t0} ms)`);
          t.same(
            life.names(pid),
            ['post_fork', 'worker_int', 'worker_exit', 'worker_exit_done', 'exit'],
            'worker_int, then worker_exit, then the exit',
          );
          // The pools were halted as the scope ended, not left to the process's end: the app was told.
          t.match(
            readFileSync(marker, 'utf8'),
            /request cancelled/,
            'the request signal of a request in flight was aborted',
          );
          for (const [name, cut] of [
            ['never-answered', await stuck],
            ['slow', await slow],
          ] as const) {
            t.ok(cut.closed, `the ${name} request's connection was closed`);
            t.equal(cut.text, '', `with no response`);
          }
          await q.waitFor(new RegExp(`Worker \\(pid:${pid}\\) exited with code 0`));
          await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2 });
          t.equal((await request(q.url + '/')).status, 200, 'its replacement serves');
        },
      );

    t.test(
      'TERM: the slow request finishes, then out soon after, not after graceful_timeout; last report and worker_exit',
      async (t) => {
        const life = new Lifecycle(t);
        const mport = await freePort();
        const statsdPort = await freePort();
        const q = await startQilin(
          t,
          [
            '-c',
            life.config,
            '--graceful-timeout',
            '30',
            '--request-timeout',
            '60',
            '--timeout',
            '10',
            '--metrics-bind',
            `127.0.0.1:${mport}`,
            '--statsd-host',
            `127.0.0.1:${statsdPort}`,
            fixture('app.ts'),
          ],
          { engine, env: { LIFECYCLE_LOG: life.log } },
        );
        const pid = await onlyWorker(q);
        const idle = await idleConnection(q.port);
        t.teardown(() => idle.destroy());
        const idleClosed = new Promise<boolean>((resolve) => idle.once('close', () => resolve(true)));
        const slow = request(q.url + '/slow?ms=1500');
        await sleep(300);
        process.kill(pid, 'SIGTERM');
        const r = await slow;
        const answered = Date.now();
        t.equal(r.status, 200, 'the request in flight was answered');
        const exit = await life.exited(pid);
        t.equal(exit.code, 0, 'exit 0');
        // What is waited for after the response: the idle keep-alive connection's quiet half second.
        t.ok(exit.at - answered < 2000, `out ${exit.at - answered} ms after the last response (graceful_timeout 30 s)`);
        t.same(life.names(pid), ['post_fork', 'worker_exit', 'worker_exit_done', 'exit'], 'worker_exit, no worker_int');
        t.ok(
          await Promise.race([idleClosed, sleep(2000).then(() => false)]),
          'the idle keep-alive connection was closed',
        );
        // The slow request was answered within a second of the exit: counted by the report sent as the
        // worker left, unless a periodic one came in between.
        await q.waitFor(new RegExp(`Worker \\(pid:${pid}\\) exited with code 0`));
        const stats = await scrapeMetrics({ port: mport });
        t.equal(requestsTotal(stats.samples), 2, 'the requests it answered are counted (its last report went out)');
        t.notMatch(q.output, `Worker (pid:${pid}) stuck for`, 'the watchdog said nothing');
      },
    );
  });

t.test('INT during a graceful stop: the drain is cut short', async (t) => {
  const life = new Lifecycle(t);
  const q = await startQilin(t, ['-c', life.config, '--graceful-timeout', '30', fixture('app.ts')], {
    engine: 'uws',
    env: { LIFECYCLE_LOG: life.log },
  });
  const pid = await onlyWorker(q);
  const slow = rawExchange(q.port, 'GET /slow?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n', 10000);
  await sleep(300);
  process.kill(pid, 'SIGTERM');
  await sleep(500);
  t.same(life.names(pid), ['post_fork'], 'still draining');
  const t0 = Date.now();
  process.kill(pid, 'SIGINT');
  const exit = await life.exited(pid);
  t.equal(exit.code, 0, 'exit 0');
  t.ok(exit.at - t0 < 1500, `out within the quick stop's second (${exit.at - t0} ms)`);
  t.same(life.names(pid), ['post_fork', 'worker_int', 'worker_exit', 'worker_exit_done', 'exit']);
  const cut = await slow;
  t.ok(cut.closed && cut.text === '', 'the slow request was cut');
});

t.test('INT while the app is still loading: out at once, worker_int and worker_exit', async (t) => {
  const life = new Lifecycle(t);
  const app = path.join(life.dir, 'slow-app.mjs');
  writeFileSync(app, 'await new Promise((r) => setTimeout(r, 8000));\nexport default () => new Response("late");\n');
  const q = await startQilin(t, ['-c', life.config, '--timeout', '60', app], {
    engine: 'uws',
    env: { LIFECYCLE_LOG: life.log },
    ready: false,
  });
  await q.waitFor(/Booting worker with pid/);
  const pid = await onlyWorker(q);
  for (let i = 0; i < 400 && !life.names(pid).includes('post_fork'); i++) await sleep(25);
  await sleep(500); // the app's top-level await has begun
  const t0 = Date.now();
  process.kill(pid, 'SIGINT');
  const exit = await life.exited(pid);
  t.equal(exit.code, 0, 'exit 0');
  t.ok(exit.at - t0 < 1500, `out in ${exit.at - t0} ms, not once the app has loaded`);
  t.same(life.names(pid), ['post_fork', 'worker_int', 'worker_exit', 'worker_exit_done', 'exit']);
});

t.test('a worker_exit that never settles: a quick stop still ends within its second', async (t) => {
  const life = new Lifecycle(t);
  const q = await startQilin(t, ['-c', life.config, fixture('app.ts')], {
    engine: 'uws',
    env: { LIFECYCLE_LOG: life.log, EXIT_HOOK_MS: '-1' },
  });
  const pid = await onlyWorker(q);
  const t0 = Date.now();
  process.kill(pid, 'SIGQUIT');
  const exit = await life.exited(pid);
  t.equal(exit.code, 0, 'exit 0');
  t.ok(exit.at - t0 >= 900 && exit.at - t0 < 2000, `out when the second ran out (${exit.at - t0} ms)`);
  t.same(life.names(pid), ['post_fork', 'worker_int', 'worker_exit', 'exit'], 'worker_exit was called, and left');
});

t.test('SIGABRT with worker_abort set: worker_abort, worker_exit, exit 1', async (t) => {
  const life = new Lifecycle(t);
  const q = await startQilin(t, ['-c', life.config, fixture('app.ts')], {
    engine: 'uws',
    env: { LIFECYCLE_LOG: life.log },
  });
  const pid = await onlyWorker(q);
  process.kill(pid, 'SIGABRT');
  const exit = await life.exited(pid);
  t.equal(exit.code, 1, 'exit 1');
  t.same(life.names(pid), ['post_fork', 'worker_abort', 'worker_exit', 'worker_exit_done', 'exit']);
  await q.waitFor(new RegExp(`Worker \\(pid:${pid}\\) exited with code 1`));
});

t.test('USR1 to a worker: it reopens its access log and serves on', async (t) => {
  const life = new Lifecycle(t);
  const access = path.join(life.dir, 'access.log');
  const q = await startQilin(t, ['--access-logfile', access, fixture('app.ts')], { engine: 'uws' });
  const pid = await onlyWorker(q);
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  await request(q.url + '/pid?before');
  for (let i = 0; i < 100 && !read(access).includes('before'); i++) await sleep(50);
  renameSync(access, access + '.1');
  process.kill(pid, 'SIGUSR1');
  await sleep(300); // no line says it was handled: give it a moment
  for (let i = 0; i < 100 && !read(access).includes('after'); i++) {
    t.equal((await request(q.url + '/pid?after')).body, String(pid), 'the same worker answers');
    await sleep(50);
  }
  t.match(read(access), /"GET \/pid\?after HTTP\/1\.1" 200/, 'the new file gets the access lines');
  t.notMatch(read(access + '.1'), /after/, 'the rotated one none of them');
  t.same(q.workerPids(), [pid], 'and the worker is still the one serving');
});

t.test(
  'a worker_exit longer than timeout: the heartbeat goes on until it ends, no WORKER TIMEOUT, no stuck report',
  async (t) => {
    const life = new Lifecycle(t);
    // A plain module app boots fast: a worker is not taken for a stuck one while it boots.
    const q = await startQilin(t, ['-c', life.config, '--timeout', '4', `${fixture('app.mjs')}:handler`], {
      engine: 'uws',
      env: { LIFECYCLE_LOG: life.log, EXIT_HOOK_MS: '6000' },
    });
    const pid = await onlyWorker(q);
    process.kill(pid, 'SIGTERM'); // the arbiter did not ask for it: it keeps checking this worker's heartbeat
    const exit = await life.exited(pid, 20000);
    t.equal(exit.code, 0, 'exit 0');
    t.same(life.names(pid), ['post_fork', 'worker_exit', 'worker_exit_done', 'exit'], 'worker_exit ran to its end');
    t.notMatch(q.output, `WORKER TIMEOUT (pid:${pid})`, 'the arbiter did not take it for stuck');
    t.notMatch(q.output, `Worker (pid:${pid}) stuck for`, 'nor did its watchdog');
  },
);

t.test('the stall watchdog thread has ended before the worker exits', async (t) => {
  for (const [args, watchdog] of [
    [[], true],
    [['--no-stuck-stack'], false],
  ] as const) {
    const life = new Lifecycle(t);
    const q = await startQilin(t, ['-c', life.config, ...args, fixture('app.ts')], {
      engine: 'uws',
      env: { LIFECYCLE_LOG: life.log },
    });
    const pid = await onlyWorker(q);
    process.kill(pid, 'SIGTERM');
    const exit = await life.exited(pid);
    const atExitHook = Number(life.notes(pid).find((n) => n.name === 'worker_exit')!.fields.threads);
    // The watchdog's thread (and what Node runs beside it) has ended; nothing else has.
    const message = `${args.join(' ') || 'watchdog on'}: ${atExitHook} threads at worker_exit, ${exit.threads} at exit`;
    if (watchdog) t.ok(exit.threads < atExitHook, message);
    else t.equal(exit.threads, atExitHook, message);
    await q.stop('SIGQUIT');
  }
});

t.test('the arbiter goes away: the worker stops gracefully by itself', async (t) => {
  const life = new Lifecycle(t);
  const q = await startQilin(t, ['-c', life.config, '--graceful-timeout', '30', fixture('app.ts')], {
    engine: 'uws',
    env: { LIFECYCLE_LOG: life.log },
  });
  const pid = await onlyWorker(q);
  const slow = request(q.url + '/slow?ms=1000');
  await sleep(300);
  q.proc.kill('SIGKILL'); // the arbiter only
  t.equal((await slow).status, 200, 'the request in flight was answered');
  const exit = await life.exited(pid);
  t.equal(exit.code, 0, 'exit 0');
  t.same(life.names(pid), ['post_fork', 'worker_exit', 'worker_exit_done', 'exit']);
  await sleep(100);
  t.match(q.output, new RegExp(`\\[INFO\\] Parent changed, shutting down: ${pid}`), 'and said why');
});
