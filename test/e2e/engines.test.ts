// What the node engine does at the connection level that uWS does differently or not at all:
// keep-alive rules, HTTP/1.0 clients, pipelining, closing idle connections on a graceful stop;
// and the bytes both engines put on the wire for header values past ASCII.
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ENGINES,
  fixture,
  parseResponses,
  rawExchange,
  rawGet as get,
  request,
  sleep,
  startQilin,
} from '../helpers.js';

t.test('--keep-alive 0: every response says Connection: close and closes', async (t) => {
  const q = await startQilin(t, ['--keep-alive', '0', fixture('app.ts')], { engine: 'node' });
  for (const [what, req] of [
    ['plain', get('/')],
    ['streamed', get('/download?mb=0.1')],
    ['204', get('/empty')],
    ['HEAD', 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['HTTP/1.0 keep-alive', 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
  ] as const) {
    const r = await rawExchange(q.port, req + get('/pid'), 3000);
    t.match(r.text, /^HTTP\/1\.1 20[04] [^]*\r\nconnection: close\r\n/i, `${what}: Connection: close`);
    t.ok(r.closed, `${what}: the connection is closed`);
    t.notMatch(r.text, /\r\n\r\n[^]*HTTP\/1\.1/, `${what}: the second request was not answered`);
  }
});

t.test('HTTP/1.0 clients', async (t) => {
  const q = await startQilin(t, ['--access-logfile', '-', fixture('app.ts')], { engine: 'node' });
  const ka = await rawExchange(q.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 1000);
  t.match(ka.text, /\r\nconnection: keep-alive\r\n/i, 'Connection: keep-alive is honoured');
  t.notOk(ka.closed, 'the connection stays open');
  const two = parseResponses(
    (await rawExchange(q.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /pid HTTP/1.0\r\n\r\n', 3000)).text,
  );
  t.equal(two.length, 2, 'a second request on the kept connection is answered');
  t.equal(two[0]!.body, 'Hello, World!');
  t.match(two[1]!.body, /^\d+$/);
  t.match(two[1]!.headers.connection, /close/i, 'the second, without keep-alive, closes');

  const plain = await rawExchange(q.port, 'GET / HTTP/1.0\r\n\r\n', 3000);
  t.ok(plain.closed, 'no keep-alive asked: closed after the response');

  // A streamed body of unknown length to a client that knows no chunked encoding: sent as is, to the close.
  const s = await rawExchange(q.port, 'GET /download?mb=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 5000);
  const [head, ...rest] = s.text.split('\r\n\r\n');
  t.notMatch(head!, /transfer-encoding/i, 'no chunked encoding');
  t.notMatch(head!, /content-length/i, 'no length: the close ends the body');
  t.match(head!, /\r\nconnection: close/i, 'Connection: close');
  t.equal(rest.join('\r\n\r\n').length, 1024 * 1024, 'every byte, unframed');
  t.ok(s.closed, 'closed at the end');
  await q.waitFor(/"GET \/download\?mb=1 HTTP\/1\.0" 200 1048576 /);
  t.pass('logged as HTTP/1.0 with its length');
});

t.test('pipelined requests are answered in order, also when the first waits on I/O', async (t) => {
  const q = await startQilin(t, [fixture('app.ts')], { engine: 'node' });
  const quick = parseResponses((await rawExchange(q.port, get('/') + get('/pid', 'Connection: close\r\n'), 3000)).text);
  t.same(
    quick.map((r) => r.status),
    [200, 200],
  );
  t.equal(quick[0]!.body, 'Hello, World!', 'first answer first');
  t.match(quick[1]!.body, /^\d+$/);
  // uWS 20.30 closes the connection here; node must queue the second answer behind the first.
  const r = await rawExchange(q.port, get('/slow?ms=50') + get('/', 'Connection: close\r\n'), 3000);
  const waited = parseResponses(r.text);
  t.equal(waited.length, 2, 'both answered');
  t.match(waited[0]!.body, /"seen":1/, 'the slow one first');
  t.equal(waited[1]!.body, 'Hello, World!', 'then the quick one');
  t.ok(r.closed, 'closed as the last request asked');
});

/** A node-engine server and a keep-alive connection that has had one answer and is now idle. */
async function idleKeptAlive(t: Parameters<typeof startQilin>[0]) {
  const q = await startQilin(t, ['--graceful-timeout', '10', '--keep-alive', '1', fixture('app.ts')], {
    engine: 'node',
  });
  const sock = net.connect(q.port, '127.0.0.1');
  sock.on('error', () => {});
  const conn = {
    q,
    sock,
    text: '',
    closed: new Promise<number>((resolve) => sock.on('close', () => resolve(Date.now()))),
  };
  sock.on('data', (d) => {
    conn.text += d;
  });
  sock.write(get('/'));
  for (let i = 0; i < 100 && !conn.text.includes('Hello, World!'); i++) await sleep(20);
  return conn;
}

t.test(
  'graceful TERM: an idle keep-alive connection is answered with close, then closed; the worker exits',
  async (t) => {
    const c = await idleKeptAlive(t);
    const { q, sock, closed } = c;
    t.match(c.text, /keep-alive/i, 'the connection was kept alive');
    const t0 = Date.now();
    q.signal('SIGTERM');
    await sleep(300);
    // A request sent on it while the worker drains is served, not reset, and says the connection ends.
    c.text = '';
    sock.write(get('/'));
    const closedIn = (await closed) - t0;
    t.match(c.text, /Hello, World!/, 'a request sent during the stop was answered');
    t.match(c.text, /connection: close/i, 'with Connection: close');
    t.ok(closedIn < 5000, `the connection was closed (${closedIn} ms)`);
    t.same(await q.exited, { code: 0, signal: null }, 'and the worker and arbiter exited');
  },
);

t.test(
  'graceful TERM: an idle keep-alive connection left alone is closed once quiet, then the worker exits',
  async (t) => {
    const c = await idleKeptAlive(t);
    const { q, closed } = c;
    const t0 = Date.now();
    q.signal('SIGTERM');
    const closedIn = (await closed) - t0;
    t.ok(closedIn < 5000, `the worker closed the idle connection (${closedIn} ms)`);
    t.same(await q.exited, { code: 0, signal: null }, 'and exited');
  },
);

t.test('the pool bound and request.signal on the node engine', async (t) => {
  const q = await startQilin(t, ['--worker-connections', '1', fixture('app.ts')], { engine: 'node' });
  const both = await Promise.all([
    request(q.url + '/slow?ms=300'),
    sleep(50).then(() => request(q.url + '/slow?ms=300')),
  ]);
  const [a, b] = both.map((r) => JSON.parse(r.body));
  t.same([a.seen, b.seen], [1, 1], 'one at a time');
  t.ok(b.started - a.started >= 290, `the second waited for the first (${b.started - a.started} ms)`);

  const sock = net.connect(q.port, '127.0.0.1');
  sock.on('error', () => {});
  sock.write(get('/wait-abort'));
  await sleep(200);
  sock.destroy();
  let aborted = '0';
  for (let i = 0; i < 40 && aborted !== '1'; i++) {
    await sleep(50);
    aborted = (await request(q.url + '/aborted')).body;
  }
  t.equal(aborted, '1', 'the client leaving aborted request.signal, and freed the slot');
});

t.test('header values past ASCII: the bytes Node writes, on both engines', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-bytes-'));
  const app = path.join(dir, 'app.mjs');
  // A header value is a ByteString: 'é' (U+00E9) is the byte E9 on the wire, as node:http writes it;
  // 'Ω' (U+03A9) is no byte at all, and Node's own Response refuses it.
  writeFileSync(
    app,
    `export default (req) => {
    const p = new URL(req.url).pathname;
    const h = { 'x-latin': 'caf\\u00e9' };
    if (p === '/bytes') return new Response(new Uint8Array([104, 105]), { headers: h });
    if (p === '/stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([104, 105])); c.close(); } }), { headers: h });
    if (p === '/headers') return new Response('hi', { headers: new Headers(h) });
    if (p === '/greek') return new Response('hi', { headers: { 'x-greek': '\\u03a9mega' } });
    if (p === '/greek-status') return new Response('hi', { status: 299, statusText: '\\u03a9' });
    return new Response('hi', { headers: h, status: 299, statusText: 'D\\u00e9j\\u00e0 vu' });
  };\n`,
  );
  const seen: Record<string, string[]> = {};
  for (const engine of ENGINES) {
    const q = await startQilin(t, [app], { engine });
    seen[engine] = [];
    for (const p of ['/', '/bytes', '/stream', '/headers']) {
      const r = await rawExchange(q.port, get(p, 'Connection: close\r\n'), 3000);
      const head = r.text.split('\r\n\r\n')[0]!;
      t.match(r.text, /\r\n\r\n(?:2\r\n)?hi/, `${engine} ${p}: answered`);
      // The wire bytes as latin1 text: the byte E9 is "é".
      const picked = head
        .split('\r\n')
        .filter((l) => /^(HTTP|x-latin)/i.test(l))
        .map((l) => l.toLowerCase());
      seen[engine]!.push(...picked);
    }
    t.ok(seen[engine]!.includes('x-latin: caf\u00e9'), `${engine}: one byte per character`);
    t.ok(seen[engine]!.includes('http/1.1 299 d\u00e9j\u00e0 vu'), `${engine}: the status text too`);
    for (const p of ['/greek', '/greek-status']) {
      const r = await rawExchange(q.port, get(p, 'Connection: close\r\n'), 3000);
      t.match(r.text, /^HTTP\/1\.1 500 /, `${engine} ${p}: a character past U+00FF is the app's TypeError, a 500`);
    }
  }
  t.same(seen.node, seen.uws, 'the node engine writes what uWS writes');
});
