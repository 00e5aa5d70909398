// statsd as Gunicorn sends it, with `qilin.` for `gunicorn.` (lib/metrics/statsd.ts): the address and
// prefix rules, then the client against a real UDP socket on 127.0.0.1: one turn's metrics batched
// into datagrams that never pass 1432 bytes, counters summed, one timer line per request, tags.
import dgram from 'node:dgram';
import t from 'tap';
import { Statsd, parseStatsdHost, statsdFor, statsdPrefix } from '../../lib/metrics/statsd.js';

/** A statsd server on loopback: the datagrams it got, and a way to wait for more. */
async function receiver(t: { teardown(fn: () => void): void }) {
  const socket = dgram.createSocket('udp4');
  const packets: string[] = [];
  let wake: (() => void) | null = null;
  socket.on('message', (m) => { packets.push(m.toString()); wake?.(); });
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
        await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50); });
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
  const statsd = new Statsd({ host: '127.0.0.1', port: server.port }, 'a-rather-long-prefix-for-this-app', 'env:production');
  t.teardown(() => statsd.close());
  for (let i = 0; i < 200; i++) statsd.request(i % 2 === 0 ? 200 : 503, i + 0.123);
  await server.until(2);
  await quiet();
  const got = server.packets;
  t.ok(got.length > 1, `${got.length} datagrams`);
  for (const p of got) t.ok(Buffer.byteLength(p) <= 1432, `a datagram of ${Buffer.byteLength(p)} bytes`);
  const all = lines(got);
  t.equal(all.filter((l) => l.includes('.request.duration:')).length, 200, 'every timer line, whole');
  t.ok(all.every((l) => /^a-rather-long-prefix-for-this-app\.qilin\.[a-z.0-9]+:[\d.]+\|(ms|c|g)\|#env:production$/.test(l)), 'every line whole');
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
  for (let i = 0; i < 5; i++) {
    statsd.request(200, 1);
    await quiet(20);
  }
  t.pass('no error escaped');
});
