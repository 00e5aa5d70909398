// The light Request an app receives (lib/http/request.ts) and the request body read under it
// (lib/http/body.ts), over a stand-in for the connection: the URL from scheme, authority and target,
// headers built on first use, the platform's defaults, the body read once, clone() to the platform
// class, and the body's backpressure (the socket paused past 256 KiB unread) and limit_request_body.
import t from 'tap';
import { ClientGoneError, RequestBody, RequestTooLargeError } from '../../lib/http/body.js';
import type { Wire } from '../../lib/http/exchange.js';
import { QilinRequest, setScheme, type RequestOwner } from '../../lib/http/request.js';

/** The connection side a RequestBody needs: data pushed by the test, pause and resume counted. */
class FakeWire {
  push: ((chunk: Uint8Array, isLast: boolean) => void) | null = null;
  paused = 0;
  resumed = 0;
  onData(fn: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): void { this.push = fn; }
  pause(): void { this.paused++; }
  resume(): void { this.resumed++; }
  cork(fn: () => void): void { fn(); }
}
const wire = () => new FakeWire();
const asWire = (w: FakeWire) => w as unknown as Wire;

function owner(over: Partial<RequestOwner> = {}): RequestOwner {
  const controller = new AbortController();
  return {
    body: null, listener: { scheme: 'http' }, target: '/p?q=1',
    rawHeaders: ['host', 'example.com:8080', 'accept', 'text/html', 'accept', 'application/json', 'x-empty', ''],
    signal: () => controller.signal,
    ...over,
  };
}
const request = (o: RequestOwner, method = 'GET', authority = 'example.com:8080') => new QilinRequest(method, authority, o) as unknown as Request;

t.test('url: the listener\'s scheme (or a trusted front-end\'s), the authority, the target', async (t) => {
  const r = request(owner());
  t.equal(r.url, 'http://example.com:8080/p?q=1');
  t.equal(r.method, 'GET');
  t.equal(request(owner({ listener: { scheme: 'https' } })).url, 'https://example.com:8080/p?q=1', 'a TLS listener');
  t.equal(request(owner({ target: '*' }), 'OPTIONS').url, 'http://example.com:8080/*', 'OPTIONS *: the root with * as the path');
  const forwarded = new QilinRequest('GET', 'example.com', owner());
  t.equal((forwarded as unknown as Request).url, 'http://example.com/p?q=1');
  setScheme(forwarded, 'https');
  t.equal((forwarded as unknown as Request).url, 'https://example.com/p?q=1', 'a scheme said later is taken (the URL is built again)');
  t.doesNotThrow(() => new URL(r.url), 'a URL the platform parses');
});

t.test('headers: built once, repeated names joined as the platform joins them', async (t) => {
  const r = request(owner());
  const h = r.headers;
  t.type(h, Headers);
  t.equal(r.headers, h, 'the same object every time');
  t.equal(h.get('accept'), 'text/html, application/json');
  t.equal(h.get('x-empty'), '');
  t.equal(h.get('host'), 'example.com:8080');
  t.equal(r.headers.get('Accept'), new Headers([['accept', 'text/html'], ['accept', 'application/json']]).get('accept'));
  t.same(Reflect.get(r, Symbol.for('qilin.rawHeaders')), owner().rawHeaders, 'the lines as sent, under a registered symbol');
});

t.test("the platform Request's defaults for a request that reached a server", async (t) => {
  const ours = request(owner());
  const platform = new Request('http://x/');
  for (const key of ['destination', 'referrer', 'referrerPolicy', 'mode', 'credentials', 'cache', 'redirect', 'integrity', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation'] as const) {
    t.equal((ours as unknown as Record<string, unknown>)[key], (platform as unknown as Record<string, unknown>)[key], key);
  }
  t.equal(Object.prototype.toString.call(ours), '[object Request]');
  t.same(Object.keys(ours), [], 'no own enumerable property');
  t.ok(ours.signal instanceof AbortSignal);
});

t.test('no body: reads as empty, never used', async (t) => {
  const r = request(owner());
  t.equal(r.body, null);
  t.equal(await r.text(), '');
  t.equal(r.bodyUsed, false);
  t.equal((await r.arrayBuffer()).byteLength, 0);
});

t.test('a body, read once, in pieces as they come', async (t) => {
  const w = wire();
  const body = new RequestBody(asWire(w));
  const r = request(owner({ body }), 'POST');
  const text = r.text();
  w.push!(Buffer.from('{"a":'), false);
  await new Promise((resolve) => setImmediate(resolve));
  w.push!(Buffer.from('1}'), true);
  t.equal(await text, '{"a":1}');
  t.equal(r.bodyUsed, true);
  t.equal(body.received, 7);
  t.ok(body.complete);
  await t.rejects(r.text(), TypeError, 'a second read: unusable');
  await t.rejects(r.json(), TypeError);
});

t.test('the body as a stream, and as JSON, a Blob, bytes', async (t) => {
  const w = wire();
  const s = new RequestBody(asWire(w));
  const r = request(owner({ body: s }), 'POST');
  t.equal(r.body, r.body, 'one stream for the life of the request');
  const reader = r.body!.getReader();
  w.push!(Buffer.from('ab'), false);
  w.push!(Buffer.from('cd'), true);
  const chunks: string[] = [];
  for (let c = await reader.read(); !c.done; c = await reader.read()) chunks.push(Buffer.from(c.value).toString());
  t.same(chunks, ['ab', 'cd']);
  t.ok(r.bodyUsed);
  const jw = wire();
  const j = request(owner({ body: new RequestBody(asWire(jw)), rawHeaders: ['content-type', 'application/json'] }), 'POST');
  jw.push!(Buffer.from('\ufeff{"ok":true}'), true);
  t.same(await j.json(), { ok: true }, 'a leading byte order mark is dropped, as the platform does');
  const bw = wire();
  const b = request(owner({ body: new RequestBody(asWire(bw)), rawHeaders: ['content-type', 'text/plain'] }), 'POST');
  bw.push!(Buffer.from('xyz'), true);
  const blob = await b.blob();
  t.equal(blob.type, 'text/plain');
  t.equal(await blob.text(), 'xyz');
});

t.test('clone() and formData() go to the platform Request, with the same body', async (t) => {
  const w = wire();
  const r = request(owner({ body: new RequestBody(asWire(w)), rawHeaders: ['content-type', 'application/x-www-form-urlencoded'] }), 'POST');
  const copy = r.clone();
  w.push!(Buffer.from('a=1&b=two'), true);
  t.equal(copy.url, r.url);
  t.equal(copy.method, 'POST');
  t.equal(copy.headers.get('content-type'), 'application/x-www-form-urlencoded');
  t.equal(await copy.text(), 'a=1&b=two', 'the clone reads the body');
  const form = await r.formData();
  t.same([...form], [['a', '1'], ['b', 'two']], 'and so does the original');
  const rw = wire();
  const read = request(owner({ body: new RequestBody(asWire(rw)) }), 'POST');
  rw.push!(Buffer.from('x'), true);
  await read.text();
  t.throws(() => read.clone(), TypeError, 'a body read already cannot be cloned');
});

t.test('a client that leaves: the read fails with ClientGoneError', async (t) => {
  const w = wire();
  const body = new RequestBody(asWire(w));
  const reading = body.readAll();
  w.push!(Buffer.from('part'), false);
  body.fail(new ClientGoneError());
  await t.rejects(reading, { name: 'AbortError', message: 'client disconnected' });
});

t.test('backpressure: the socket is paused past 256 KiB unread, resumed as the app reads', async (t) => {
  const w = wire();
  const body = new RequestBody(asWire(w));
  const piece = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; i < 4; i++) w.push!(piece, false);
  t.equal(w.paused, 0, '256 KiB waiting: not yet');
  w.push!(piece, false);
  t.equal(w.paused, 1, 'past it: paused');
  w.push!(piece, false);
  t.equal(w.paused, 1, 'paused once');
  for (let i = 0; i < 3; i++) await body.read();
  t.equal(w.resumed, 0, 'still more than half waiting');
  await body.read();
  t.equal(w.resumed, 1, 'half drained: resumed');
  w.push!(Buffer.alloc(0), true);
  let rest = 0;
  for (let c = await body.read(); c; c = await body.read()) rest += c.length;
  t.equal(rest, 2 * piece.length, 'nothing lost');
});

t.test('limit_request_body: a chunked body growing past it fails the read, once', async (t) => {
  const w = wire();
  const body = new RequestBody(asWire(w));
  let overflows = 0;
  body.limit(10, () => overflows++);
  const reading = body.readAll();
  w.push!(Buffer.from('123456'), false);
  w.push!(Buffer.from('7890'), false);
  t.equal(overflows, 0, 'at the limit: fine');
  w.push!(Buffer.from('x'), false);
  w.push!(Buffer.from('y'), true);
  t.equal(overflows, 1, 'past it: told once');
  await t.rejects(reading, RequestTooLargeError);
  await t.rejects(reading, { message: 'Request body exceeds limit_request_body (10 bytes)' });
});
