// The arbiter's signals, worker replacement, timeouts and recycling — with real processes, on each
// engine (what only the arbiter does is checked once).
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ENGINES,
  enableReusePortMigration,
  fixture,
  loadFor,
  rawExchange,
  request,
  sleep,
  startQilin,
} from '../helpers.js';

// Every signal on two engines: more than the default time for one file when the machine is busy.
t.setTimeout(360_000);

// Worker replacement under load is lossless only with accept-queue migration between reuseport listeners.
const noMigration = enableReusePortMigration(t);
// A stopping worker closes its idle keep-alive connections once they have been quiet for half a
// second: a request a client sends on one just then is reset (as at any keep-alive timeout).

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('TERM: a slow request in flight completes, then exit 0', async (t) => {
      const q = await startQilin(t, ['--graceful-timeout', '10', fixture('app.ts')], { engine });
      const slow = request(q.url + '/slow?ms=1500');
      await sleep(300);
      q.signal('SIGTERM');
      const r = await slow;
      t.equal(r.status, 200, 'the in-flight request completed');
      // uWS 20.30 closes the connection without saying so.
      if (engine === 'node') t.equal(r.headers.connection, 'close', 'and said its connection closes');
      const exit = await q.exited;
      t.same(exit, { code: 0, signal: null }, 'exit 0');
      t.match(q.output, /Handling signal: term/);
      t.same(q.workerPids(), [], 'no worker left');
    });

    t.test('TERM past graceful_timeout: the worker gives up and aborts request.signal', async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-abort-'));
      const marker = path.join(dir, 'aborted');
      const q = await startQilin(t, ['--graceful-timeout', '1', fixture('app.ts')], { engine });
      const stuck = rawExchange(
        q.port,
        `GET /abort-marker?file=${encodeURIComponent(marker)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        8000,
      );
      await sleep(300);
      const t0 = Date.now();
      q.signal('SIGTERM');
      t.equal((await q.exited).code, 0, 'exit 0');
      t.ok(Date.now() - t0 < 5000, `stopped after graceful_timeout (${Date.now() - t0} ms)`);
      t.match(readFileSync(marker, 'utf8'), /graceful_timeout/, 'the request signal was aborted with the reason');
      t.ok((await stuck).closed, 'the connection was closed');
    });

    t.test('INT: quick stop', async (t) => {
      const q = await startQilin(t, ['-w', '2', fixture('app.ts')], { engine });
      const t0 = Date.now();
      q.signal('SIGINT');
      const exit = await q.exited;
      t.equal(exit.code, 0);
      t.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
      t.match(q.output, /Handling signal: int/);
    });

    t.test('QUIT: quick stop', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      q.signal('SIGQUIT');
      t.equal((await q.exited).code, 0);
      t.match(q.output, /Handling signal: quit/);
    });

    // The arbiter's counting; the node engine's part (a worker stopped by TTOU) is checked below.
    if (engine === 'uws')
      t.test('TTIN / TTOU change the worker count, never below 1, oldest first', async (t) => {
        const q = await startQilin(t, ['-w', '2', fixture('app.ts')], { engine });
        const first = (await q.waitForWorkers(2)).sort((a, b) => a - b);
        q.signal('SIGTTIN');
        const three = await q.waitForWorkers(3);
        t.equal(three.length, 3, 'TTIN: one more');
        // Listening before the older ones go: TTOU stops the oldest, and this one is left to serve.
        await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 3 });
        q.signal('SIGTTOU');
        const two = await q.waitForWorkers(2);
        t.notOk(two.includes(first[0]!), 'TTOU stopped the oldest worker');
        q.signal('SIGTTOU');
        await q.waitForWorkers(1);
        q.signal('SIGTTOU');
        await sleep(1500);
        t.equal(q.workerPids().length, 1, 'never below one');
        t.equal((await request(q.url + '/')).status, 200, 'still serving');
      });

    t.test('a handler in a busy loop: WORKER TIMEOUT, killed and replaced', async (t) => {
      const q = await startQilin(t, ['-t', '3', fixture('app.ts')], { engine });
      const [stuck] = q.workerPids();
      void rawExchange(q.port, 'GET /busy HTTP/1.1\r\nHost: x\r\n\r\n', 8000);
      await q.waitFor(new RegExp(`\\[CRITICAL\\] WORKER TIMEOUT \\(pid:${stuck}\\)`), { timeout: 10000 });
      await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 10000 });
      const r = await request(q.url + '/pid');
      t.equal(r.status, 200);
      t.not(r.body, String(stuck), 'a new worker serves');
    });

    t.test('HUP under continuous load: new workers, zero failed requests', async (t) => {
      const q = await startQilin(t, ['-w', '2', '--keep-alive', '1', fixture('app.ts')], { engine });
      const before = q.workerPids();
      const load = await loadFor(q.url + '/', {
        connections: 8,
        durationMs: 5000,
        during: async () => {
          await sleep(1000);
          q.signal('SIGHUP');
        },
      });
      t.ok(load.ok > 500, `${load.ok} requests served`);
      t.equal(load.failed, 0, `no failed request (${load.errors.slice(0, 3).join('; ')})`, {
        skip: noMigration ?? false,
      });
      t.match(q.output, /Hang up: Master/);
      const after = await q.waitForWorkers(2);
      t.notOk(
        after.some((p) => before.includes(p)),
        'every worker was replaced',
      );
    });

    t.test('max_requests recycles workers under load with zero failed requests', async (t) => {
      // node:http answers fewer requests a second than uWS: a lower max_requests recycles as often, sooner.
      const [max, durationMs, least] = engine === 'uws' ? ['300', 5000, 1000] : ['150', 3000, 400];
      const q = await startQilin(
        t,
        ['-w', '2', '--max-requests', max, '--max-requests-jitter', '50', '--keep-alive', '1', fixture('app.ts')],
        { engine },
      );
      const load = await loadFor(q.url + '/', { connections: 8, durationMs });
      t.ok(load.ok > least, `${load.ok} requests served`);
      t.equal(load.failed, 0, `no failed request (${load.errors.slice(0, 3).join('; ')})`, {
        skip: noMigration ?? false,
      });
      t.match(q.output, /Autorestarting worker after current request/);
      const booted = q.output.match(/Booting worker with pid/g)?.length ?? 0;
      t.ok(booted > 2, `workers were replaced (${booted} booted)`);
    });

    t.test(
      'TTIN adds a worker, TTOU stops the oldest: its in-flight request finishes, new connections go to the others',
      async (t) => {
        const q = await startQilin(t, ['--graceful-timeout', '10', fixture('app.ts')], { engine });
        const [old] = q.workerPids();
        // A kept-alive connection to the first worker, so that the slow request below surely runs there.
        const sock = net.connect(q.port, '127.0.0.1');
        sock.on('error', () => {});
        let text = '';
        sock.on('data', (d) => {
          text += d;
        });
        const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
        const until = async (re: RegExp) => {
          for (let i = 0; i < 200 && !re.test(text); i++) await sleep(25);
        };
        q.signal('SIGTTIN');
        let ready = false;
        const booted = q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2 }).then(() => {
          ready = true;
        });
        const pids = new Set<string>();
        while (!ready) {
          // requests keep it from idling out while the second worker boots
          text = '';
          sock.write('GET /pid HTTP/1.1\r\nHost: x\r\n\r\n');
          await until(/\r\n\r\n\d+$/);
          pids.add(text.split('\r\n\r\n')[1]!);
          await Promise.race([booted, sleep(300)]);
        }
        await booted;
        t.same([...pids], [String(old)], 'the kept connection is on the first worker');
        text = '';
        sock.write('GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n');
        await sleep(300);
        q.signal('SIGTTOU'); // the first worker is the oldest: it gets TERM
        await sleep(100);
        const served: string[] = [];
        for (let i = 0; i < 20; i++) {
          const r = await request(q.url + '/pid');
          served.push(r.status === 200 ? r.body : `status ${r.status}`);
        }
        t.notOk(served.includes(String(old)), 'no new connection reached the stopping worker');
        t.ok(
          served.every((p) => /^\d+$/.test(p)),
          `every new request was answered (${[...new Set(served)].join(', ')})`,
        );
        await until(/"pid":\d+/);
        t.match(text, /^HTTP\/1\.1 200 /, 'the in-flight request completed');
        t.match(text, new RegExp(`"pid":${old},`), 'on the stopping worker');
        await Promise.race([closed, sleep(5000)]);
        t.ok(sock.destroyed, 'and its connection was closed');
        await q.waitFor(new RegExp(`Worker \\(pid:${old}\\) exited with code 0`));
        t.pass('the stopped worker exited 0');
      },
    );

    t.test('USR1 reopens the access log', async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-usr1-'));
      const logfile = path.join(dir, 'access.log');
      const q = await startQilin(t, ['--access-logfile', logfile, fixture('app.ts')], { engine });
      const read = (f: string) => {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          return '';
        }
      };
      await request(q.url + '/pid?before');
      for (let i = 0; i < 100 && !read(logfile).includes('before'); i++) await sleep(50);
      renameSync(logfile, logfile + '.1'); // what logrotate does before it signals
      q.signal('SIGUSR1');
      await q.waitFor(/Handling signal: usr1/);
      // The arbiter passes USR1 on to the workers: requests land in the new file once a worker reopened.
      for (let i = 0; i < 100 && !read(logfile).includes('after'); i++) {
        await request(q.url + '/pid?after');
        await sleep(50);
      }
      t.match(read(logfile), /"GET \/pid\?after HTTP\/1\.1" 200/, 'the new file gets the access lines');
      t.match(read(logfile + '.1'), /"GET \/pid\?before HTTP\/1\.1" 200/, 'the rotated file kept the old ones');
    });
  });

// The arbiter's own work: the engine plays no part.
t.test('kill -9 of a worker: reaped and replaced', async (t) => {
  const q = await startQilin(t, ['-w', '2', fixture('app.ts')]);
  const [victim] = await q.waitForWorkers(2);
  process.kill(victim!, 'SIGKILL');
  await q.waitFor(new RegExp(`Worker \\(pid:${victim}\\) was sent SIGKILL!`));
  await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 3 });
  const now = await q.waitForWorkers(2);
  t.notOk(now.includes(victim!), 'the killed worker is gone');
  t.equal(now.length, 2, 'the count is kept');
});

t.test('HUP reopens a file error log without leaking the old descriptor', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-log-'));
  const logfile = path.join(dir, 'error.log');
  const q = await startQilin(t, ['--error-logfile', logfile, fixture('app.ts')], { ready: false });
  const openOnLog = () =>
    readdirSync(`/proc/${q.pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${q.pid}/fd/${fd}`) === logfile;
      } catch {
        return false;
      }
    }).length;
  const seen = (re: RegExp) => {
    try {
      return readFileSync(logfile, 'utf8').match(new RegExp(re, 'g'))?.length ?? 0;
    } catch {
      return 0;
    }
  };
  const waitForLog = async (re: RegExp, count: number) => {
    for (let i = 0; i < 200 && seen(re) < count; i++) await sleep(50);
  };
  await waitForLog(/Worker \(pid:\d+\) ready/, 1);
  t.equal(openOnLog(), 1, 'one descriptor at start');
  for (let n = 1; n <= 2; n++) {
    q.signal('SIGHUP');
    await waitForLog(/Hang up: Master/, n);
  }
  await sleep(300);
  t.equal(openOnLog(), 1, 'still one descriptor after two reloads');
});
