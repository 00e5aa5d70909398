// What the server tells about itself: the JSON access log, statsd and the arbiter's /metrics, on
// each engine and for Node-style apps. Real UDP listeners, real scrapes, real signals.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import t from 'tap';
import {
  ENGINES,
  fixture,
  freePort,
  request,
  runQilin,
  scrapeMetrics,
  sleep,
  startQilin,
  type Qilin,
} from '../helpers.js';

/** A statsd server: every datagram received, as text. */
async function statsdServer(t: {
  teardown(fn: () => unknown): void;
}): Promise<{ port: number; packets: string[]; lines(): string[] }> {
  const socket = dgram.createSocket('udp4');
  const packets: string[] = [];
  socket.on('message', (m) => packets.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  return { port: socket.address().port, packets, lines: () => packets.flatMap((p) => p.split('\n')) };
}

/** Sum of a statsd counter over every line received (`name:N|c...`). */
function counter(lines: string[], name: string): number {
  let n = 0;
  for (const l of lines)
    if (l.startsWith(`${name}:`) && l.includes('|c')) n += Number(l.slice(name.length + 1, l.indexOf('|')));
  return n;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function sum(samples: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const [k, v] of samples) if (k.startsWith(prefix)) n += v;
  return n;
}

/** The JSON access lines printed so far, parsed (a line that does not parse fails the test). */
function jsonLines(q: Qilin): Record<string, unknown>[] {
  return q.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitForLines(q: Qilin, n: number): Promise<Record<string, unknown>[]> {
  await q.waitFor(/^\{"time":/m, { count: n });
  return jsonLines(q);
}

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('--access-logformat json: one object per request, hostile values escaped', async (t) => {
      const q = await startQilin(t, ['--access-logfile', '-', '--access-logformat', 'json', fixture('app.ts')], {
        engine,
      });
      const before = Date.now();
      const ua = 'agent "quoted" \\ back\\slash </script> {"x":1}\tTab';
      await request(q.url + '/?a=1&b=two', {
        headers: { 'user-agent': ua, referer: 'http://example.com/"\'', 'x-request-id': 'req-42' },
      });
      await request(q.url + '/echo', { method: 'POST', body: 'hello' });
      await request(q.url + '/throw');
      // Bytes past ASCII, as a raw client may send them (node keeps them as latin1; uWS 20.30 drops them).
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(q.port, '127.0.0.1', () => {
          s.write(
            Buffer.concat([
              Buffer.from('GET /raw HTTP/1.1\r\nHost: x\r\nUser-Agent: caf'),
              Buffer.from([0xe9, 0xff, 0x22]),
              Buffer.from('\r\nConnection: close\r\n\r\n'),
            ]),
          );
        });
        s.on('data', () => {});
        s.on('close', () => resolve());
        s.on('error', reject);
      });
      const lines = await waitForLines(q, 4);
      t.equal(lines.length, 4, 'four requests, four lines, each valid JSON');
      const [get, post, thrown, raw] = lines as [
        Record<string, unknown>,
        Record<string, unknown>,
        Record<string, unknown>,
        Record<string, unknown>,
      ];
      t.same(Object.keys(get), [
        'time',
        'remote',
        'method',
        'path',
        'query',
        'protocol',
        'status',
        'bytes',
        'duration_ms',
        'referer',
        'user_agent',
        'request_id',
        'pid',
      ]);
      t.match(get, {
        remote: '127.0.0.1',
        method: 'GET',
        path: '/',
        query: 'a=1&b=two',
        protocol: 'HTTP/1.1',
        status: 200,
        bytes: 13,
        referer: 'http://example.com/"\'',
        user_agent: ua,
        request_id: 'req-42',
      });
      const time = Date.parse(get.time as string);
      t.ok(time >= before - 1000 && time <= Date.now() + 1000, `time is ISO 8601 and now (${get.time as string})`);
      t.match(get.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      t.ok(
        typeof get.duration_ms === 'number' && get.duration_ms >= 0 && get.duration_ms < 5000,
        `duration_ms ${get.duration_ms as number}`,
      );
      t.ok(q.workerPids().includes(get.pid as number), 'pid is the worker that served it');
      t.match(post, {
        method: 'POST',
        path: '/echo',
        query: '',
        status: 200,
        bytes: 5,
        referer: null,
        request_id: null,
      });
      t.match(thrown, { path: '/throw', status: 500 });
      t.match(raw, { path: '/raw', status: 404 });
      t.type(raw.user_agent, 'string', 'a user agent with bytes past ASCII is still a JSON string');
      if (engine === 'node') t.equal(raw.user_agent, 'caf\u00e9\u00ff"', 'node: the bytes as latin1 characters');
    });
  });

t.test('node engine, Express app: the JSON access log sees what Express answered', async (t) => {
  const q = await startQilin(
    t,
    ['--access-logfile', '-', '--access-logformat', 'JSON', fixture('node-apps/express-app.cjs')],
    { engine: 'node' },
  );
  await request(q.url + '/users/7?x=1', { headers: { 'x-request-id': 'abc' } });
  await request(q.url + '/nowhere');
  const [user, missing] = (await waitForLines(q, 2)) as [Record<string, unknown>, Record<string, unknown>];
  t.match(user, {
    method: 'GET',
    path: '/users/7',
    query: 'x=1',
    status: 200,
    request_id: 'abc',
    protocol: 'HTTP/1.1',
  });
  t.ok((user.bytes as number) > 0, 'body bytes counted');
  t.match(missing, { path: '/nowhere', status: 404 });
});

for (const engine of ENGINES)
  t.test(`statsd (${engine})`, async (t) => {
    t.test("Gunicorn's metrics, qilin's names, prefix and tags; batched datagrams", async (t) => {
      const statsd = await statsdServer(t);
      const q = await startQilin(
        t,
        [
          '--statsd-host',
          `127.0.0.1:${statsd.port}`,
          '--statsd-prefix',
          'app',
          '--dogstatsd-tags',
          'env:test,svc:q',
          fixture('app.ts'),
        ],
        { engine },
      );
      for (let i = 0; i < 5; i++) await request(q.url + '/');
      await request(q.url + '/throw');
      await request(q.url + '/nowhere');
      const lines = () => statsd.lines();
      await until('7 requests counted', () => counter(lines(), 'app.qilin.requests') === 7);
      const all = lines();
      t.equal(counter(all, 'app.qilin.request.status.200'), 5);
      t.equal(counter(all, 'app.qilin.request.status.500'), 1);
      t.equal(counter(all, 'app.qilin.request.status.404'), 1);
      const timers = all.filter((l) => l.startsWith('app.qilin.request.duration:'));
      t.equal(timers.length, 7, 'one timer line per request');
      t.ok(
        timers.every((l) => /^app\.qilin\.request\.duration:\d+(\.\d+)?\|ms\|#env:test,svc:q$/.test(l)),
        'timers in ms, tagged',
      );
      t.ok(
        all.every((l) => l.endsWith('|#env:test,svc:q')),
        'every line carries the tags',
      );
      await until('log.exception counted', () => counter(lines(), 'app.qilin.log.exception') >= 1);
      await until('the arbiter sends the workers gauge', () =>
        lines().some((l) => /^app\.qilin\.workers:1\|g/.test(l)),
      );
      t.ok(
        statsd.packets.every((p) => Buffer.byteLength(p) <= 1432),
        'no datagram over 1432 bytes',
      );
      t.ok(
        statsd.packets.length < all.length,
        `lines share datagrams (${all.length} lines in ${statsd.packets.length})`,
      );
    });

    t.test('a statsd server that is down costs nothing and breaks nothing', async (t) => {
      const port = await freePort(); // nobody listens there
      const q = await startQilin(t, ['--statsd-host', `127.0.0.1:${port}`, fixture('app.ts')], { engine });
      const [pid] = q.workerPids();
      for (let i = 0; i < 50; i++) t.equal((await request(q.url + '/')).status, 200);
      t.same(q.workerPids(), [pid], 'the same worker serves');
      t.notMatch(q.output, /ERROR|Traceback|ECONNREFUSED/, 'nothing in the error log');
    });
  });

for (const engine of ENGINES)
  t.test(`/metrics (${engine})`, async (t) => {
    t.test('the totals of 2 workers; a killed worker lowers no counter', async (t) => {
      const mport = await freePort();
      const q = await startQilin(t, ['-w', '2', '--metrics-bind', `127.0.0.1:${mport}`, fixture('app.ts')], { engine });
      await q.waitFor(new RegExp(`Metrics at: http://127\\.0\\.0\\.1:${mport}/metrics`));
      const N = 40;
      for (let i = 0; i < N; i++) await request(q.url + (i % 10 === 9 ? '/nowhere' : '/'));
      await until(
        `${N} requests in /metrics`,
        async () => sum((await scrapeMetrics({ port: mport })).samples, 'qilin_requests_total') === N,
      );
      const m = await scrapeMetrics({ port: mport });
      t.equal(m.status, 200);
      t.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
      t.equal(m.samples.get('qilin_requests_total{method="GET",status="2xx"}'), 36);
      t.equal(m.samples.get('qilin_requests_total{method="GET",status="4xx"}'), 4);
      t.equal(m.samples.get('qilin_request_duration_seconds_count'), N, 'the histogram counts every request');
      t.equal(m.samples.get('qilin_request_duration_seconds_bucket{le="+Inf"}'), N);
      t.equal(m.samples.get('qilin_workers'), 2);
      const pids = q.workerPids();
      for (const pid of pids) {
        t.ok(m.samples.has(`qilin_worker_resident_memory_bytes{pid="${pid}"}`), `RSS of worker ${pid}`);
        t.ok((m.samples.get(`qilin_worker_heartbeat_age_seconds{pid="${pid}"}`) ?? 99) < 5, 'heard from recently');
        t.ok(m.samples.has(`qilin_worker_event_loop_lag_seconds{pid="${pid}"}`), 'event-loop lag');
        t.equal(m.samples.get(`qilin_worker_requests_in_flight{pid="${pid}"}`), 0);
        t.equal(m.samples.get(`qilin_worker_requests_queued{pid="${pid}"}`), 0);
      }
      t.ok((m.samples.get('process_start_time_seconds') ?? 0) > Date.now() / 1000 - 120, 'start time');
      t.match(m.text, /# TYPE qilin_request_duration_seconds histogram/);

      // kill -9: its counts stay in the totals, the restart is counted.
      process.kill(pids[0]!, 'SIGKILL');
      await q.waitFor(/was sent SIGKILL/);
      await q.waitForWorkers(2);
      const after = await scrapeMetrics({ port: mport });
      t.equal(sum(after.samples, 'qilin_requests_total'), N, 'no counter went down');
      t.equal(after.samples.get('qilin_worker_restarts_total{reason="signal"}'), 1, 'restart counted, reason signal');
      for (let i = 0; i < 10; i++) await request(q.url + '/');
      await until(
        `${N + 10} requests`,
        async () => sum((await scrapeMetrics({ port: mport })).samples, 'qilin_requests_total') === N + 10,
      );
      t.pass('later requests add on');
    });

    t.test('max_requests: exact totals across replacements, restarts by reason', async (t) => {
      const mport = await freePort();
      const q = await startQilin(
        t,
        ['--max-requests', '5', '--metrics-bind', `127.0.0.1:${mport}`, fixture('app.ts')],
        { engine },
      );
      for (let i = 0; i < 12; i++) t.equal((await request(q.url + '/')).status, 200);
      // A retiring worker serves on until its replacement is ready, then ends.
      await until(
        'a replacement counted',
        async () =>
          ((await scrapeMetrics({ port: mport })).samples.get('qilin_worker_restarts_total{reason="max_requests"}') ??
            0) >= 1,
      );
      await until(
        '12 requests',
        async () => sum((await scrapeMetrics({ port: mport })).samples, 'qilin_requests_total') === 12,
      );
      t.pass('a recycled worker reports its last requests as it ends');
    });
  });

t.test('/metrics on a unix socket; other paths and methods', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'metrics.sock');
  const q = await startQilin(t, ['--metrics-bind', `unix:${socketPath}`, fixture('app.ts')]);
  await request(q.url + '/');
  await until(
    'the request in /metrics',
    async () => sum((await scrapeMetrics({ socketPath })).samples, 'qilin_requests_total') === 1,
  );
  t.equal((await scrapeMetrics({ socketPath }, '/')).status, 404, 'only /metrics');
  const post = await new Promise<number>((resolve, reject) => {
    http
      .request({ socketPath, path: '/metrics', method: 'POST', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on('error', reject)
      .end();
  });
  t.equal(post, 405);
  await q.stop();
  t.notOk(existsSync(socketPath), 'the socket file is removed at exit');
});

t.test('bad statsd_host and metrics_bind: one line, exit 1; a metrics address in use: exit 3', async (t) => {
  const port = await freePort();
  for (const [args, re] of [
    [
      ['--statsd-host', 'unix:/tmp/statsd.sock'],
      /Error: Invalid value for statsd_host: "unix:\/tmp\/statsd\.sock" \(Node\.js has no unix datagram sockets/,
    ],
    [['--statsd-host', 'localhost'], /Error: Invalid value for statsd_host: "localhost" \(expected HOST:PORT\)/],
    [['--metrics-bind', 'fd://3'], /Error: Invalid value for metrics_bind: "fd:\/\/3"/],
    [
      ['--metrics-bind', '127.0.0.1:99999'],
      /Error: Invalid value for metrics_bind: "127\.0\.0\.1:99999" \(port must be 0-65535\)/,
    ],
  ] as const) {
    const r = await runQilin(['-b', `127.0.0.1:${port}`, ...args, fixture('app.ts')]);
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
    t.match(r.output, re);
  }
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const taken = (busy.address() as net.AddressInfo).port;
  const r = await runQilin(['-b', `127.0.0.1:${port}`, '--metrics-bind', `127.0.0.1:${taken}`, fixture('app.ts')]);
  t.equal(r.code, 3, 'exit 3, as for a bind in use');
  t.match(r.output, new RegExp(`Connection in use: 127\\.0\\.0\\.1:${taken}`));
});
