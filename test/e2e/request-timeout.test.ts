// No worker held by a request that never ends: request_timeout answers it 503 and frees its pool
// slot, a client that leaves frees it at once; max_worker_memory replaces a worker that grew too big.
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ENGINES,
  enableReusePortMigration,
  fixture,
  freePort,
  loadFor,
  parseResponses,
  rawExchange,
  rawGet,
  request,
  runQilin,
  scrapeMetrics,
  sleep,
  startQilin,
  type HttpResult,
  type Qilin,
} from '../helpers.js';

t.setTimeout(240_000);

// Worker replacement under load is lossless on the uws engine only with accept-queue migration.
const noMigration = enableReusePortMigration(t);

const APP = fixture('timeout-app.ts');
const NODE_APP = fixture('node-apps/hang.mjs');

/** A request that gives up after `ms` (null then): a worker whose slots are all held answers nothing. */
function within(url: string, ms: number): Promise<HttpResult | null> {
  return Promise.race([request(url).catch(() => null), sleep(ms).then(() => null)]);
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Open a connection, send a GET for `target`, and leave after `ms` without waiting for the answer. */
async function leaveAfter(port: number, target: string, ms: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await sleep(ms);
  sock.destroy();
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'qilin-request-timeout-'));

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test(
      'a handler that never settles: 503 after request_timeout, its signal aborted, the slot freed, counted',
      async (t) => {
        const dir = tmp();
        const marker = path.join(dir, 'signal');
        const metricsPort = await freePort();
        const q = await startQilin(
          t,
          ['--worker-connections', '1', '--request-timeout', '1', '--metrics-bind', `127.0.0.1:${metricsPort}`, APP],
          { engine },
        );
        // On a keep-alive connection: the 503 says, and does, Connection: close.
        const t0 = Date.now();
        const raw = await rawExchange(q.port, rawGet(`/hang?file=${encodeURIComponent(marker)}`), 4000);
        const took = Date.now() - t0;
        const [r] = parseResponses(raw.text);
        t.equal(r?.status, 503, 'the client gets 503');
        t.ok(took >= 1000 && took < 2500, `after request_timeout (${took} ms)`);
        t.match(r?.body, /<title>Service Unavailable<\/title>/, "Gunicorn's error page");
        t.equal(r?.headers.connection, 'close', 'says Connection: close');
        t.ok(raw.closed, 'and closes the connection');
        await q.waitFor(
          /\[ERROR\] Request timeout: GET \/hang not answered after 1\.\d s \(request_timeout 1 s\): 503/,
        );
        t.match(
          readFileSync(marker, 'utf8'),
          /^TimeoutError: .*request_timeout \(1 s\)/,
          'request.signal aborted with a TimeoutError',
        );
        const next = await within(`${q.url}/`, 3000);
        t.equal(next?.status, 200, 'the one slot was freed: the next request is served');

        // An answer that comes after the 503 is dropped without a word.
        const late = await request(`${q.url}/late?ms=1600`);
        t.equal(late.status, 503, 'an app that answers too late: 503 all the same');
        await sleep(900);
        t.notMatch(q.output, /Error handling request|Exception/, 'its late answer is dropped, nothing logged');
        t.equal((await within(`${q.url}/`, 3000))?.status, 200, 'still serving');

        let samples = new Map<string, number>();
        await until('two timeouts in /metrics', async () => {
          samples = (await scrapeMetrics({ port: metricsPort })).samples;
          return samples.get('qilin_request_timeouts_total') === 2;
        });
        t.equal(samples.get('qilin_request_timeouts_total'), 2, 'qilin_request_timeouts_total counts both');
        t.equal(samples.get('qilin_requests_total{method="GET",status="5xx"}'), 2, 'and they are 5xx requests');
      },
    );

    t.test('a client that leaves frees its slot at once, without any request_timeout', async (t) => {
      const q = await startQilin(t, ['--worker-connections', '1', '--request-timeout', '0', APP], { engine });
      await leaveAfter(q.port, '/hang', 200);
      const t0 = Date.now();
      const r = await within(`${q.url}/`, 3000);
      t.equal(r?.status, 200, `the next request is served (${Date.now() - t0} ms)`);
      // And again: no slot is lost for good.
      await leaveAfter(q.port, '/hang', 200);
      t.equal((await within(`${q.url}/`, 3000))?.status, 200, 'every time');
    });

    t.test('a streamed body that goes on past request_timeout is not cut', async (t) => {
      const q = await startQilin(t, ['--request-timeout', '0.5', APP], { engine });
      const t0 = Date.now();
      const r = await request(`${q.url}/stream?n=8&ms=250`);
      t.equal(r.status, 200);
      t.ok(Date.now() - t0 >= 1500, `it streamed for ${Date.now() - t0} ms, three times request_timeout`);
      t.equal(r.body.match(/^data: \d+$/gm)?.length, 8, 'every event arrived');
      t.notMatch(q.output, /Request timeout/, 'nothing timed out');
    });
  });

t.test('a Node-style app (node engine)', async (t) => {
  t.test('that never answers: 503, its req destroyed with a TimeoutError, the slot freed', async (t) => {
    const dir = tmp();
    const marker = path.join(dir, 'req');
    const q = await startQilin(t, ['--worker-connections', '1', '--request-timeout', '1', NODE_APP], {
      engine: 'node',
    });
    const t0 = Date.now();
    const r = await request(`${q.url}/hang?file=${encodeURIComponent(marker)}`);
    const took = Date.now() - t0;
    t.equal(r.status, 503, 'the client gets 503');
    t.ok(took >= 1000 && took < 2500, `after request_timeout (${took} ms)`);
    t.match(r.body, /<title>Service Unavailable<\/title>/);
    t.equal(r.headers.connection, 'close');
    await q.waitFor(/\[ERROR\] Request timeout: GET \/hang not answered after 1\.\d s \(request_timeout 1 s\): 503/);
    await until('the app to see its req end', () => {
      try {
        return readFileSync(marker, 'utf8') !== '';
      } catch {
        return false;
      }
    });
    t.equal(
      readFileSync(marker, 'utf8'),
      'destroyed=true error=TimeoutError',
      'req destroyed, its error a TimeoutError',
    );
    t.equal((await within(`${q.url}/`, 3000))?.status, 200, 'the next request is served');
  });

  t.test('a client that leaves frees its slot; a stream past request_timeout is not cut', async (t) => {
    const q = await startQilin(t, ['--worker-connections', '1', '--request-timeout', '0.5', NODE_APP], {
      engine: 'node',
    });
    await leaveAfter(q.port, '/hang', 200);
    t.equal((await within(`${q.url}/`, 3000))?.status, 200, 'the next request is served');
    const r = await request(`${q.url}/stream?n=8&ms=250`);
    t.equal(r.status, 200);
    t.equal(r.body.match(/^data: \d+$/gm)?.length, 8, 'every event arrived');
    t.notMatch(q.output, /Request timeout/, 'nothing timed out');
  });
});

t.test('request_timeout and max_worker_memory: bad values are config errors', async (t) => {
  for (const [args, setting] of [
    [['--request-timeout', '-1'], 'request_timeout'],
    [['--request-timeout', 'abc'], 'request_timeout'],
    [['--max-worker-memory', '-1'], 'max_worker_memory'],
    [['--max-worker-memory', '1.5'], 'max_worker_memory'],
  ] as const) {
    const r = await runQilin([...args, APP]);
    t.equal(r.code, 1, `${args.join(' ')} → exit 1`);
    t.equal(r.output.trim().split('\n').length, 1, 'one line');
    t.match(r.output, new RegExp(`^Error: .*\\b${setting}\\b`), `names ${setting}`);
  }
  const r = await runQilin(['--print-config', '--request-timeout', '2.5', '--max-worker-memory', '512', APP]);
  t.equal(r.code, 0);
  t.match(r.output, /^request_timeout\s+= 2\.5$/m, 'seconds may be fractional');
  t.match(r.output, /^max_worker_memory\s+= 512$/m);
  const d = await runQilin(['--print-config', APP]);
  t.match(d.output, /^request_timeout\s+= 300$/m, 'request_timeout defaults to 300 s');
  t.match(d.output, /^max_worker_memory\s+= 0$/m, 'max_worker_memory is off by default');
});

for (const engine of ENGINES)
  t.test(`${engine}: max_worker_memory replaces a worker that grew past it, no request failed`, async (t) => {
    const metricsPort = await freePort();
    const q: Qilin = await startQilin(
      t,
      ['--max-worker-memory', '200', '--keep-alive', '1', '--metrics-bind', `127.0.0.1:${metricsPort}`, APP],
      { engine },
    );
    const [old] = q.workerPids();
    let grown = 0;
    let replacement = 0;
    const load = await loadFor(`${q.url}/`, {
      connections: 4,
      durationMs: 9000,
      during: async () => {
        await sleep(1500);
        t.notMatch(q.output, /max_worker_memory/, 'under the limit, the worker is left alone');
        t.same(q.workerPids(), [old], 'the same worker serves');
        // ~40 MiB kept per call: past 200 MiB after a few.
        while (!/over max_worker_memory/.test(q.output) && grown < 12) {
          await request(`${q.url}/grow`);
          grown++;
          await sleep(300);
        }
        await q.waitFor(
          new RegExp(
            `\\[WARNING\\] Worker \\(pid:${old}\\) uses \\d+ MiB, over max_worker_memory 200 MiB: replacing it`,
          ),
        );
        await until('the old worker to exit', () => !q.workerPids().includes(old!), 15000);
        replacement = Number((await request(`${q.url}/pid`)).body);
      },
    });
    t.ok(grown >= 2 && grown <= 8, `replaced after ${grown} calls of /grow`);
    t.not(replacement, old, `a new worker (pid ${replacement}) serves`);
    t.equal(q.output.match(/over max_worker_memory/g)?.length, 1, 'logged once');
    t.ok(load.ok > 100, `${load.ok} requests served meanwhile`);
    t.equal(load.failed, 0, `no failed request (${load.errors.slice(0, 3).join('; ')})`, {
      skip: engine === 'uws' ? (noMigration ?? false) : false,
    });
    let samples = new Map<string, number>();
    await until('the restart in /metrics', async () => {
      samples = (await scrapeMetrics({ port: metricsPort })).samples;
      return samples.get('qilin_worker_restarts_total{reason="memory"}') === 1;
    });
    t.equal(samples.get('qilin_worker_restarts_total{reason="memory"}'), 1, 'counted as a restart for memory');
  });
