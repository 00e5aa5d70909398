// What qilin tells monitoring (lib/metrics/). statsd as Gunicorn sends it, with `qilin.` for
// `gunicorn.`: the address and prefix rules, then the client against a real UDP socket on 127.0.0.1:
// one turn's metrics batched into datagrams that never pass 1432 bytes, counters summed, one timer line
// per request, tags. The arbiter's /metrics, with a worker's counts (stats.ts): the Prometheus text
// format (0.0.4), totals that never go down when workers are replaced, a report that comes in after
// its worker exited, and the admin listener on loopback.
import dgram from 'node:dgram';
import http from 'node:http';
import t, { type Test } from 'tap';
import { parseBind } from '../../lib/config/binds.js';
import { MetricsServer } from '../../lib/arbiter/metrics-server.js';
import { parseStatsdHost } from '../../lib/config/binds.js';
import { MetricsHub, RESTART_REASONS } from '../../lib/metrics/prometheus.js';
import { DURATION_BUCKETS, RequestStats, emptyTotals, type RequestTotals } from '../../lib/metrics/stats.js';
import { Statsd, statsdFor, statsdPrefix } from '../../lib/metrics/statsd.js';

/** A statsd server on loopback: the datagrams it got, and a way to wait for more. */
async function receiver(t: { teardown(fn: () => void): void }) {
  const socket = dgram.createSocket('udp4');
  const packets: string[] = [];
  let wake: (() => void) | null = null;
  socket.on('message', (m) => {
    packets.push(m.toString());
    wake?.();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  return {
    port: socket.address().port,
    packets,
    /** Resolves once `n` datagrams have come (fails after 2 s). */
    async until(n: number): Promise<string[]> {
      const end = Date.now() + 2000;
      while (packets.length < n) {
        if (Date.now() > end) throw new Error(`${packets.length} of ${n} datagrams after 2 s`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return packets;
    },
  };
}
const lines = (packets: string[]) => packets.flatMap((p) => p.split('\n'));
const quiet = (ms = 100) => new Promise((r) => setTimeout(r, ms));

t.test('statsd_host: HOST:PORT or [IPv6]:PORT, UDP only', async (t) => {
  t.same(parseStatsdHost('localhost:8125'), { host: 'localhost', port: 8125 });
  t.same(parseStatsdHost('10.0.0.5:9125'), { host: '10.0.0.5', port: 9125 });
  t.same(parseStatsdHost('[::1]:8125'), { host: '::1', port: 8125 });
  t.match(parseStatsdHost('unix:/run/statsd.sock'), /no unix datagram sockets/);
  t.equal(parseStatsdHost('localhost'), 'expected HOST:PORT');
  t.equal(parseStatsdHost('::1:8125'), 'expected HOST:PORT', 'IPv6 needs brackets');
  t.equal(parseStatsdHost('localhost:0'), 'port 0 is out of range');
  t.equal(parseStatsdHost('localhost:65536'), 'port 65536 is out of range');
  t.equal(parseStatsdHost('[localhost]:8125'), 'localhost is not an IPv6 address');
  t.equal(statsdFor({ statsd_host: null, statsd_prefix: '', dogstatsd_tags: '' }), null, 'unset: no client');
});

t.test("statsd_prefix: Gunicorn's rule, one dot before every name", async (t) => {
  t.equal(statsdPrefix(''), '');
  t.equal(statsdPrefix('app'), 'app.');
  t.equal(statsdPrefix('app.'), 'app.');
  t.equal(statsdPrefix('a.b'), 'a.b.');
});

t.test('one turn: one datagram; counters summed; a timer and a status per request', async (t) => {
  const server = await receiver(t);
  const statsd = new Statsd({ host: '127.0.0.1', port: server.port }, 'app', '');
  t.teardown(() => statsd.close());
  statsd.increment('log.warning');
  statsd.increment('log.warning');
  statsd.increment('request.timeouts', 3);
  statsd.request(200, 1.23456);
  statsd.request(200, 0.5);
  statsd.request(404, 12);
  statsd.gauge('workers', 4);
  const [packet] = await server.until(1);
  t.same(packet!.split('\n'), [
    'app.qilin.workers:4|g',
    'app.qilin.request.duration:1.235|ms',
    'app.qilin.request.duration:0.5|ms',
    'app.qilin.request.duration:12|ms',
    'app.qilin.requests:3|c',
    'app.qilin.request.status.200:2|c',
    'app.qilin.request.status.404:1|c',
    'app.qilin.log.warning:2|c',
    'app.qilin.request.timeouts:3|c',
  ]);
  await quiet();
  t.equal(server.packets.length, 1, 'one datagram for the turn');
  statsd.increment('log.warning');
  await server.until(2);
  t.equal(server.packets[1], 'app.qilin.log.warning:1|c', 'the next turn counts from zero');
});

t.test('dogstatsd_tags go on every line; no prefix is qilin. alone', async (t) => {
  const server = await receiver(t);
  const statsd = new Statsd({ host: '127.0.0.1', port: server.port }, '', 'env:test,svc:api');
  t.teardown(() => statsd.close());
  statsd.request(500, 3);
  statsd.gauge('workers', 2);
  const [packet] = await server.until(1);
  t.same(packet!.split('\n'), [
    'qilin.workers:2|g|#env:test,svc:api',
    'qilin.request.duration:3|ms|#env:test,svc:api',
    'qilin.requests:1|c|#env:test,svc:api',
    'qilin.request.status.500:1|c|#env:test,svc:api',
  ]);
});

t.test('a busy turn: datagrams of at most 1432 bytes, no line cut in two', async (t) => {
  const server = await receiver(t);
  const statsd = new Statsd(
    { host: '127.0.0.1', port: server.port },
    'a-rather-long-prefix-for-this-app',
    'env:production',
  );
  t.teardown(() => statsd.close());
  for (let i = 0; i < 200; i++) statsd.request(i % 2 === 0 ? 200 : 503, i + 0.123);
  await server.until(2);
  await quiet();
  const got = server.packets;
  t.ok(got.length > 1, `${got.length} datagrams`);
  for (const p of got) t.ok(Buffer.byteLength(p) <= 1432, `a datagram of ${Buffer.byteLength(p)} bytes`);
  const all = lines(got);
  t.equal(all.filter((l) => l.includes('.request.duration:')).length, 200, 'every timer line, whole');
  t.ok(
    all.every((l) =>
      /^a-rather-long-prefix-for-this-app\.qilin\.[a-z.0-9]+:[\d.]+\|(ms|c|g)\|#env:production$/.test(l),
    ),
    'every line whole',
  );
  t.ok(all.includes('a-rather-long-prefix-for-this-app.qilin.requests:200|c|#env:production'));
  t.ok(all.includes('a-rather-long-prefix-for-this-app.qilin.request.status.503:100|c|#env:production'));
});

t.test('close() sends what is pending; nothing after it', async (t) => {
  const server = await receiver(t);
  const statsd = new Statsd({ host: '127.0.0.1', port: server.port }, '', '');
  statsd.gauge('workers', 2);
  await server.until(1); // connected: what follows would go out at the end of the turn
  statsd.increment('log.error');
  statsd.close();
  await server.until(2);
  t.same(server.packets, ['qilin.workers:2|g', 'qilin.log.error:1|c'], 'sent at once by close()');
  statsd.increment('log.error');
  statsd.gauge('workers', 1);
  await quiet();
  t.equal(server.packets.length, 2, 'a closed client sends nothing');
});

t.test('a server that is not there: nothing thrown, serving goes on', async (t) => {
  // A port nobody listens on: the kernel answers each datagram with ICMP port unreachable.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const statsd = new Statsd({ host: '127.0.0.1', port }, '', '');
  t.teardown(() => statsd.close());
  let escaped: unknown = null;
  const onUncaught = (err: unknown) => {
    escaped = err;
  };
  process.once('uncaughtException', onUncaught);
  t.teardown(() => {
    process.removeListener('uncaughtException', onUncaught);
  });
  for (let i = 0; i < 5; i++) {
    statsd.request(200, 1);
    await quiet(20);
  }
  t.equal(escaped, null, 'no error escaped the client (ECONNREFUSED on a connected UDP socket)');
});

type Report = Parameters<MetricsHub['report']>[1];

function report(totals: RequestTotals, over: Partial<Report> = {}): Report {
  return { running: 0, queued: 0, websockets: 0, rss: 50_000_000, totals, lagP99: 0.002, lagMax: 0.01, ...over };
}

/** The samples of a rendered page: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** What Prometheus's text parser insists on, checked line by line. */
function checkExposition(t: Test, text: string): void {
  t.ok(text.endsWith('\n'), 'ends with a newline');
  const typed = new Map<string, string>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/;
  const bad: string[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (typed.has(type[1]!)) bad.push(`TYPE twice: ${line}`);
      typed.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S/.test(line)) continue;
    const m = sample.exec(line);
    if (!m) {
      bad.push(line);
      continue;
    }
    const family = m[1]!.replace(/_(bucket|sum|count)$/, (s) =>
      typed.get(m[1]!.slice(0, -s.length)) === 'histogram' ? '' : s,
    );
    if (!typed.has(family)) bad.push(`no TYPE before: ${line}`);
  }
  t.same(bad, [], 'every line is a HELP, a TYPE or a sample of a typed family');
}

t.test('RequestStats: methods, status classes and duration buckets', async (t) => {
  const s = new RequestStats();
  s.record('GET', 200, 0.005); // on a bucket's bound: in that bucket (le)
  s.record('GET', 204, 0.0051);
  s.record('PROPFIND', 207, 0.2); // methods outside the list: other
  s.record('POST', 599, 11); // past the largest bound: +Inf
  s.record('DELETE', 600, 1); // no status class: other
  s.timedOut();
  const totals = s.totals();
  const hub = new MetricsHub();
  hub.report(1, report(totals));
  const got = samples(hub.render([{ pid: 1, heartbeatAgeMs: 250 }]));
  t.equal(got.get('qilin_requests_total{method="GET",status="2xx"}'), 2);
  t.equal(got.get('qilin_requests_total{method="other",status="2xx"}'), 1);
  t.equal(got.get('qilin_requests_total{method="POST",status="5xx"}'), 1);
  t.equal(got.get('qilin_requests_total{method="DELETE",status="other"}'), 1);
  t.notOk(got.has('qilin_requests_total{method="PUT",status="2xx"}'), 'series with nothing counted are left out');
  t.equal(got.get('qilin_request_duration_seconds_bucket{le="0.005"}'), 1, 'le: 0.005 s is in the 0.005 bucket');
  t.equal(got.get('qilin_request_duration_seconds_bucket{le="0.01"}'), 2, 'buckets are cumulative');
  t.equal(got.get('qilin_request_duration_seconds_bucket{le="0.25"}'), 3);
  t.equal(got.get('qilin_request_duration_seconds_bucket{le="10"}'), 4);
  t.equal(got.get('qilin_request_duration_seconds_bucket{le="+Inf"}'), 5);
  t.equal(got.get('qilin_request_duration_seconds_count'), 5, 'the count is the +Inf bucket');
  t.equal(Math.round(got.get('qilin_request_duration_seconds_sum')! * 1e4) / 1e4, 12.2101);
  t.equal(got.get('qilin_request_timeouts_total'), 1);
  t.equal(
    DURATION_BUCKETS.length + 1,
    [...got.keys()].filter((k) => k.startsWith('qilin_request_duration_seconds_bucket')).length,
    'one line per bucket and +Inf',
  );
});

t.test('the page: every family typed, workers and their gauges, restarts by reason', async (t) => {
  const hub = new MetricsHub();
  const a = new RequestStats();
  a.record('GET', 200, 0.01);
  hub.report(
    101,
    report(a.totals(), { running: 3, queued: 2, websockets: 1, rss: 123456789, lagP99: 0.004, lagMax: 0.02 }),
  );
  hub.report(102, report(emptyTotals()));
  const text = hub.render([
    { pid: 101, heartbeatAgeMs: 1500 },
    { pid: 102, heartbeatAgeMs: 0 },
  ]);
  checkExposition(t, text);
  const got = samples(text);
  t.equal(got.get('qilin_workers'), 2);
  t.equal(got.get('qilin_worker_requests_in_flight{pid="101"}'), 3);
  t.equal(got.get('qilin_worker_requests_queued{pid="101"}'), 2);
  t.equal(got.get('qilin_worker_websockets_open{pid="101"}'), 1);
  t.equal(got.get('qilin_worker_heartbeat_age_seconds{pid="101"}'), 1.5);
  t.equal(got.get('qilin_worker_event_loop_lag_seconds{pid="101"}'), 0.004);
  t.equal(got.get('qilin_worker_event_loop_lag_max_seconds{pid="101"}'), 0.02);
  t.equal(got.get('qilin_worker_resident_memory_bytes{pid="101"}'), 123456789);
  t.equal(got.get('qilin_worker_requests_in_flight{pid="102"}'), 0);
  for (const reason of RESTART_REASONS)
    t.equal(got.get(`qilin_worker_restarts_total{reason="${reason}"}`), 0, `restarts for ${reason}, 0 before any`);
  const start = got.get('process_start_time_seconds')!;
  t.ok(Math.abs(start - Date.now() / 1000) < 60, 'the start time, in seconds since the epoch');
  t.match(
    text,
    /^# HELP qilin_requests_total .+\n# TYPE qilin_requests_total counter\n/,
    'HELP and TYPE before the samples',
  );
  t.match(text, /# TYPE qilin_request_duration_seconds histogram\n/);
});

t.test('a replaced worker: its counts stay, so no counter goes down', async (t) => {
  const hub = new MetricsHub();
  const old = new RequestStats();
  for (let i = 0; i < 5; i++) old.record('GET', 200, 0.01);
  hub.report(1, report(old.totals()));
  const before = samples(hub.render([{ pid: 1, heartbeatAgeMs: 0 }]));
  hub.exited(1, 'max_requests');
  const fresh = new RequestStats();
  fresh.record('GET', 200, 0.01);
  hub.report(2, report(fresh.totals()));
  const after = samples(hub.render([{ pid: 2, heartbeatAgeMs: 0 }]));
  t.equal(before.get('qilin_requests_total{method="GET",status="2xx"}'), 5);
  t.equal(after.get('qilin_requests_total{method="GET",status="2xx"}'), 6, "the exited worker's 5 and the new one's 1");
  t.equal(after.get('qilin_request_duration_seconds_count'), 6);
  t.equal(after.get('qilin_worker_restarts_total{reason="max_requests"}'), 1);
  t.notOk(after.has('qilin_worker_requests_in_flight{pid="1"}'), 'no gauges for a worker that is gone');
  for (const [name, value] of before) {
    if (name.startsWith('qilin_requests_total') || name.startsWith('qilin_request_duration_seconds')) {
      t.ok((after.get(name) ?? 0) >= value, `${name} did not go down`);
    }
  }
  hub.exited(2, null);
  t.equal(
    samples(hub.render([])).get('qilin_worker_restarts_total{reason="exit"}'),
    0,
    'an exit that was no restart is not counted as one',
  );
  t.equal(
    hub.totals().requests.reduce((a, b) => a + b, 0),
    6,
    'every request still counted with no worker alive',
  );
});

t.test('a report that comes in after its worker exited adds only what it did not count', async (t) => {
  const hub = new MetricsHub();
  const stats = new RequestStats();
  stats.record('GET', 200, 0.01);
  hub.report(7, report(stats.totals()));
  hub.exited(7, 'signal');
  stats.record('GET', 200, 0.01);
  stats.record('POST', 500, 0.01);
  hub.report(7, report(stats.totals())); // its last report, read from the IPC channel after the exit
  hub.report(7, report(stats.totals())); // and the same again: nothing more to add
  const got = samples(hub.render([]));
  t.equal(
    got.get('qilin_requests_total{method="GET",status="2xx"}'),
    2,
    'not 1 (the report lost), not 3 (counted twice)',
  );
  t.equal(got.get('qilin_requests_total{method="POST",status="5xx"}'), 1);
  t.equal(got.get('qilin_workers'), 0);
});

t.test('the admin listener: GET /metrics and nothing else', async (t) => {
  const hub = new MetricsHub();
  const server = await MetricsServer.open(parseBind('127.0.0.1:0'), 0o22, () => hub.render([]));
  t.teardown(() => server.close());
  t.equal(server.bind.kind, 'tcp');
  const port = server.bind.kind === 'tcp' ? server.bind.port : 0;
  t.ok(port > 0, 'the port the OS picked');
  const ask = (method: string, p: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const get = await ask('GET', '/metrics?x=1');
  t.equal(get.status, 200);
  t.equal(get.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(Number(get.headers['content-length']), Buffer.byteLength(get.body));
  t.match(get.body, /^# HELP qilin_requests_total /);
  const head = await ask('HEAD', '/metrics');
  t.equal(head.status, 200);
  t.equal(head.body, '', 'HEAD: no body');
  t.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body), 'the length GET would have');
  const post = await ask('POST', '/metrics');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  t.equal((await ask('GET', '/')).status, 404);
  t.equal((await ask('GET', '/metricsx')).status, 404);
});
