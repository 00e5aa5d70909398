// The arbiter's /metrics (lib/metrics/prometheus.ts, with a worker's counts from lib/metrics/stats.ts):
// the Prometheus text format (0.0.4) it renders, totals that never go down when workers are
// replaced, a report that comes in after its worker exited, and the admin listener on loopback.
import http from 'node:http';
import t, { type Test } from 'tap';
import { parseBind } from '../../lib/config/binds.js';
import { MetricsHub, MetricsServer, RESTART_REASONS } from '../../lib/metrics/prometheus.js';
import { DURATION_BUCKETS, RequestStats, emptyTotals, type RequestTotals } from '../../lib/metrics/stats.js';

type Report = Parameters<MetricsHub['report']>[1];

function report(totals: RequestTotals, over: Partial<Report> = {}): Report {
  return { requests: 0, running: 0, queued: 0, websockets: 0, rss: 50_000_000, totals, lagP99: 0.002, lagMax: 0.01, ...over };
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
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/;
  const bad: string[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) { if (typed.has(type[1]!)) bad.push(`TYPE twice: ${line}`); typed.set(type[1]!, type[2]!); continue; }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S/.test(line)) continue;
    const m = sample.exec(line);
    if (!m) { bad.push(line); continue; }
    const family = m[1]!.replace(/_(bucket|sum|count)$/, (s) => (typed.get(m[1]!.slice(0, -s.length)) === 'histogram' ? '' : s));
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
  t.equal(DURATION_BUCKETS.length + 1, [...got.keys()].filter((k) => k.startsWith('qilin_request_duration_seconds_bucket')).length, 'one line per bucket and +Inf');
});

t.test('the page: every family typed, workers and their gauges, restarts by reason', async (t) => {
  const hub = new MetricsHub();
  const a = new RequestStats();
  a.record('GET', 200, 0.01);
  hub.report(101, report(a.totals(), { running: 3, queued: 2, websockets: 1, rss: 123456789, lagP99: 0.004, lagMax: 0.02 }));
  hub.report(102, report(emptyTotals()));
  const text = hub.render([{ pid: 101, heartbeatAgeMs: 1500 }, { pid: 102, heartbeatAgeMs: 0 }]);
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
  for (const reason of RESTART_REASONS) t.equal(got.get(`qilin_worker_restarts_total{reason="${reason}"}`), 0, `restarts for ${reason}, 0 before any`);
  const start = got.get('process_start_time_seconds')!;
  t.ok(Math.abs(start - Date.now() / 1000) < 60, 'the start time, in seconds since the epoch');
  t.match(text, /^# HELP qilin_requests_total .+\n# TYPE qilin_requests_total counter\n/, 'HELP and TYPE before the samples');
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
  t.equal(after.get('qilin_requests_total{method="GET",status="2xx"}'), 6, 'the exited worker\'s 5 and the new one\'s 1');
  t.equal(after.get('qilin_request_duration_seconds_count'), 6);
  t.equal(after.get('qilin_worker_restarts_total{reason="max_requests"}'), 1);
  t.notOk(after.has('qilin_worker_requests_in_flight{pid="1"}'), 'no gauges for a worker that is gone');
  for (const [name, value] of before) {
    if (name.startsWith('qilin_requests_total') || name.startsWith('qilin_request_duration_seconds')) {
      t.ok((after.get(name) ?? 0) >= value, `${name} did not go down`);
    }
  }
  hub.exited(2, null);
  t.equal(samples(hub.render([])).get('qilin_worker_restarts_total{reason="exit"}'), 0, 'an exit that was no restart is not counted as one');
  t.equal(hub.totals().requests.reduce((a, b) => a + b, 0), 6, 'every request still counted with no worker alive');
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
  t.equal(got.get('qilin_requests_total{method="GET",status="2xx"}'), 2, 'not 1 (the report lost), not 3 (counted twice)');
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
  const ask = (method: string, p: string) => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
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
