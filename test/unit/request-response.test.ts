// The light Request and Response apps get and give (lib/http/request.ts, response.ts, body.ts,
// fields.ts), each behaviour compared with Node's own classes on the same input where they have one.
// The Request over a stand-in for the connection: the URL from scheme, authority and target, headers
// built on first use, the platform's defaults, the body read once, clone() to the platform class, the
// body's backpressure (the socket paused past 256 KiB unread) and limit_request_body. The Response:
// what its constructor takes and refuses, a body read once, what the writer reads (lightParts),
// including after the re-wraps middleware does. The header field and status text checks they share,
// verdict for verdict with the platform's Headers and Response.
import t from 'tap';
import { ClientGoneError, RequestBody, RequestTooLargeError } from '../../lib/http/body.js';
import type { Wire } from '../../lib/http/contracts.js';
import { checkField, checkHeadersInit, checkStatusText, isToken, pairsOf, wireValue } from '../../lib/http/fields.js';
import { LightHeaders } from '../../lib/http/headers.js';
import { QilinRequest, setScheme, type RequestOwner } from '../../lib/http/request.js';
import { LightResponse, TEXT_PLAIN, lightParts, statusLine, type ResponseParts } from '../../lib/http/response.js';

/** The connection side a RequestBody needs: data pushed by the test, pause and resume counted. */
class FakeWire {
  push: ((chunk: Uint8Array, isLast: boolean) => void) | null = null;
  paused = 0;
  resumed = 0;
  onData(fn: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): void {
    this.push = fn;
  }
  pause(): void {
    this.paused++;
  }
  resume(): void {
    this.resumed++;
  }
  cork(fn: () => void): void {
    fn();
  }
}
const wire = () => new FakeWire();
const asWire = (w: FakeWire) => w as unknown as Wire;

function owner(over: Partial<RequestOwner> = {}): RequestOwner {
  const controller = new AbortController();
  return {
    body: null,
    context: { scheme: 'http' },
    target: '/p?q=1',
    rawHeaders: ['host', 'example.com:8080', 'accept', 'text/html', 'accept', 'application/json', 'x-empty', ''],
    signal: () => controller.signal,
    ...over,
  };
}
const request = (o: RequestOwner, method = 'GET', authority = 'example.com:8080') =>
  new QilinRequest(method, authority, o) as unknown as Request;

t.test("url: the listener's scheme (or a trusted front-end's), the authority, the target", async (t) => {
  const r = request(owner());
  t.equal(r.url, 'http://example.com:8080/p?q=1');
  t.equal(r.method, 'GET');
  t.equal(request(owner({ context: { scheme: 'https' } })).url, 'https://example.com:8080/p?q=1', 'a TLS listener');
  t.equal(
    request(owner({ target: '*' }), 'OPTIONS').url,
    'http://example.com:8080/*',
    'OPTIONS *: the root with * as the path',
  );
  const forwarded = new QilinRequest('GET', 'example.com', owner());
  t.equal((forwarded as unknown as Request).url, 'http://example.com/p?q=1');
  setScheme(forwarded, 'https');
  t.equal(
    (forwarded as unknown as Request).url,
    'https://example.com/p?q=1',
    'a scheme said later is taken (the URL is built again)',
  );
  t.doesNotThrow(() => new URL(r.url), 'a URL the platform parses');
});

t.test('headers: built once, repeated names joined as the platform joins them', async (t) => {
  const r = request(owner());
  const h = r.headers;
  t.type(h, LightHeaders, "the light Headers (the global Headers in a worker; here the platform's is)");
  t.equal(r.headers, h, 'the same object every time');
  t.equal(h.get('accept'), 'text/html, application/json');
  t.equal(h.get('x-empty'), '');
  t.equal(h.get('host'), 'example.com:8080');
  t.equal(
    r.headers.get('Accept'),
    new Headers([
      ['accept', 'text/html'],
      ['accept', 'application/json'],
    ]).get('accept'),
  );
  t.same(
    Reflect.get(r, Symbol.for('qilin.rawHeaders')),
    owner().rawHeaders,
    'the lines as sent, under a registered symbol',
  );
});

t.test("the platform Request's defaults for a request that reached a server", async (t) => {
  const ours = request(owner());
  const platform = new Request('http://x/');
  for (const key of [
    'destination',
    'referrer',
    'referrerPolicy',
    'mode',
    'credentials',
    'cache',
    'redirect',
    'integrity',
    'keepalive',
    'isReloadNavigation',
    'isHistoryNavigation',
  ] as const) {
    t.equal(
      (ours as unknown as Record<string, unknown>)[key],
      (platform as unknown as Record<string, unknown>)[key],
      key,
    );
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
  const j = request(
    owner({ body: new RequestBody(asWire(jw)), rawHeaders: ['content-type', 'application/json'] }),
    'POST',
  );
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
  const r = request(
    owner({ body: new RequestBody(asWire(w)), rawHeaders: ['content-type', 'application/x-www-form-urlencoded'] }),
    'POST',
  );
  const copy = r.clone();
  w.push!(Buffer.from('a=1&b=two'), true);
  t.equal(copy.url, r.url);
  t.equal(copy.method, 'POST');
  t.equal(copy.headers.get('content-type'), 'application/x-www-form-urlencoded');
  t.equal(await copy.text(), 'a=1&b=two', 'the clone reads the body');
  const form = await r.formData();
  t.same(
    [...form],
    [
      ['a', '1'],
      ['b', 'two'],
    ],
    'and so does the original',
  );
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

t.test('a whole read waits for the whole body unpaused, however large; the socket paused before resumes', async (t) => {
  const w = wire();
  const body = new RequestBody(asWire(w));
  const piece = Buffer.alloc(64 * 1024, 2);
  for (let i = 0; i < 5; i++) w.push!(piece, false);
  t.equal(w.paused, 1, 'unread past 256 KiB: paused');
  const all = body.readAll();
  t.equal(w.resumed, 1, 'a whole read resumes it at once');
  for (let i = 0; i < 20; i++) w.push!(piece, false);
  t.equal(w.paused, 1, 'and it is not paused again while the read waits');
  w.push!(piece, true);
  t.equal((await all).length, 26 * piece.length, 'every byte');
});

t.test('the body methods on something that is not a request reject, as the platform', async (t) => {
  const proto = QilinRequest.prototype as unknown as Record<string, (this: unknown) => Promise<unknown>>;
  for (const m of ['text', 'json', 'arrayBuffer', 'bytes']) {
    let p: Promise<unknown> | undefined;
    t.doesNotThrow(() => {
      p = proto[m]!.call({});
    }, `${m}() does not throw`);
    await t.rejects(p!, TypeError, `${m}() rejects`);
  }
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

const Platform = globalThis.Response;
const parts = (): ResponseParts => ({ status: 0, statusText: '', headers: undefined, body: null, headLength: -1 });
const light = (body?: BodyInit | null, init?: ResponseInit) => new LightResponse(body, init) as unknown as Response;
const outcome = (make: () => unknown): string => {
  try {
    make();
    return 'made';
  } catch (err) {
    return (err as Error).name;
  }
};

t.test('what the constructor takes and refuses, as the platform', async (t) => {
  const inits: [string, BodyInit | null, ResponseInit | undefined][] = [
    ['nothing', null, undefined],
    ['a string', 'hello', undefined],
    ['status 201 with text', 'x', { status: 201, statusText: 'Made' }],
    ['status 199', null, { status: 199 }],
    ['status 600', null, { status: 600 }],
    ['status "404" as a string', null, { status: '404' as unknown as number }],
    ['204 with a body', 'x', { status: 204 }],
    ['204 without', null, { status: 204 }],
    ['304 with an empty string', '', { status: 304 }],
    ['a bad statusText', null, { statusText: 'a\nb' }],
    ['a bad header name', null, { headers: { 'bad name': 'x' } }],
    ['a bad header value', null, { headers: { 'x-a': 'a\rb' } }],
    ['pairs of three', null, { headers: [['a', 'b', 'c']] as unknown as HeadersInit }],
    ['init not an object', null, 5 as unknown as ResponseInit],
  ];
  for (const [what, body, init] of inits) {
    const ours = outcome(() => light(body, init));
    const theirs = outcome(() => new Platform(body, init));
    t.equal(ours, theirs, `${what}: ${theirs}`);
  }
});

t.test('status, statusText, ok, headers and body text, as the platform', async (t) => {
  const inits: [BodyInit | null, ResponseInit | undefined][] = [
    ['hello', undefined],
    ['{"a":1}', { status: 201, headers: { 'content-type': 'application/json' } }],
    [
      new Uint8Array([104, 105]),
      {
        status: 404,
        statusText: 'Nope',
        headers: [
          ['x-a', '1'],
          ['x-a', '2'],
        ],
      },
    ],
    [null, { status: 302, headers: new Headers({ location: '/x' }) }],
    ['caf\u00e9', { headers: { 'content-type': 'text/plain; charset=utf-8' } }],
    ['\ufeffwith a byte order mark', undefined],
  ];
  for (const [body, init] of inits) {
    const ours = light(body, init);
    const theirs = new Platform(body, init);
    const what = `${JSON.stringify(init ?? {})}`;
    t.equal(ours.status, theirs.status, `${what}: status`);
    t.equal(ours.statusText, theirs.statusText, `${what}: statusText`);
    t.equal(ours.ok, theirs.ok, `${what}: ok`);
    t.same([...ours.headers], [...theirs.headers], `${what}: headers, the default Content-Type of a string included`);
    t.equal(await ours.text(), await theirs.text(), `${what}: text()`);
  }
});

t.test('a body is read once', async (t) => {
  for (const read of ['text', 'json', 'arrayBuffer', 'blob', 'bytes'] as const) {
    const r = light('{"a":1}');
    t.equal(r.bodyUsed, false);
    await (r[read] as () => Promise<unknown>).call(r);
    t.equal(r.bodyUsed, true, `${read}(): used`);
    await t.rejects((r.text as () => Promise<string>).call(r), TypeError, `${read}() then text(): unusable`);
    t.throws(() => r.clone(), TypeError, 'nor can it be cloned then');
  }
  t.same(await light('{"a":[1,2]}').json(), { a: [1, 2] });
  t.same(new Uint8Array(await light('hi').arrayBuffer()), new Uint8Array([104, 105]));
  const blob = await light('x', { headers: { 'content-type': 'Text/HTML; Charset=UTF-8' } }).blob();
  t.equal(
    blob.type,
    (await new Platform('x', { headers: { 'content-type': 'Text/HTML; Charset=UTF-8' } }).blob()).type,
    "a Blob's type from the Content-Type, as the platform gives it",
  );
  t.equal(blob.type, 'text/html;charset=utf-8');
  t.equal(await light(null).text(), '', 'no body reads as empty');
});

t.test('a streamed body', async (t) => {
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('one '));
        c.enqueue(new TextEncoder().encode('two'));
        c.close();
      },
    });
  t.equal(await light(stream()).text(), 'one two');
  const r = light(stream());
  const copy = r.clone();
  t.equal(await copy.text(), 'one two', 'a clone reads the whole body');
  t.equal(await r.text(), 'one two', 'and so does the original');
  const read = stream();
  await read.getReader().read();
  t.throws(() => light(read), TypeError, 'a stream read from already cannot be a body');
  const odd = new ReadableStream({
    start(c) {
      c.enqueue('not bytes');
      c.close();
    },
  });
  await t.rejects(light(odd as ReadableStream<Uint8Array>).text(), TypeError, 'chunks that are no bytes');
});

t.test('Response.json', async (t) => {
  const r = LightResponse.json({ a: 1 }, { status: 202 });
  t.equal(r.status, 202);
  t.equal(r.headers.get('content-type'), 'application/json');
  t.equal(await r.text(), '{"a":1}');
  t.equal(
    LightResponse.json(1, { headers: { 'content-type': 'application/vnd.x+json' } }).headers.get('content-type'),
    'application/vnd.x+json',
    'a given type kept',
  );
  t.throws(() => LightResponse.json(undefined), TypeError);
  t.equal(
    outcome(() => LightResponse.json(undefined)),
    outcome(() => Platform.json(undefined)),
  );
});

t.test('what the writer reads: the body as given, no platform object built', async (t) => {
  const r = light('hello', { status: 201, headers: { 'x-a': '1' } });
  const p = lightParts(r, parts())!;
  t.match(p, { status: 201, statusText: '', body: 'hello', headLength: -1 });
  t.same(p.headers, { 'x-a': '1' }, 'headers as given, not copied into a Headers');
  t.equal(lightParts(new Platform('x'), parts()), null, 'a platform Response goes the general way');
  const used = light('x');
  await used.text();
  t.equal(lightParts(used, parts()), null, 'nor does one whose body was read');
  const blob = light(new Blob(['x']));
  t.equal(lightParts(blob, parts()), null, 'nor a Blob body');
});

t.test('middleware re-wraps stay on the fast path', async (t) => {
  // Hono's cors(), secureHeaders(): headers read and set on the response the app made.
  const r = light('hello');
  r.headers.set('x-frame-options', 'DENY');
  const p = lightParts(r, parts())!;
  t.equal(p.body, 'hello');
  t.equal((p.headers as Headers).get('x-frame-options'), 'DENY', 'the headers read and changed are the ones sent');
  t.equal((p.headers as Headers).get('content-type'), TEXT_PLAIN);
  // `new Response(res.body, res)`: an unread plain body is still a plain body.
  const again = light(r.body, r);
  const q = lightParts(again, parts())!;
  t.equal(q.body, 'hello', 'the body is the string again, not a stream');
  t.equal((q.headers as Headers).get('x-frame-options'), 'DENY', 'headers copied from the source');
  // Hono's HEAD: a bodiless response made from the GET one keeps the length GET would send.
  const head = light(null, light('twelve bytes'));
  t.equal(lightParts(head, parts())!.headLength, 12);
});

t.test('statusLine', async (t) => {
  t.equal(statusLine(200), '200 OK');
  t.equal(statusLine(404), '404 Not Found');
  t.equal(statusLine(404, 'Gone Fishing'), '404 Gone Fishing');
  t.equal(statusLine(599), '599 Unknown');
});

t.test('instanceof and inspection', async (t) => {
  t.ok(light('x') instanceof LightResponse);
  t.ok(new Platform('x') instanceof LightResponse, "a platform Response is a Response to qilin's class too");
  t.equal(Object.prototype.toString.call(light('x')), '[object Response]');
  t.equal(LightResponse.name, 'Response');
  t.same(Object.keys(light('x')), [], "no own enumerable property, as the platform's");
});

/** What the platform's Headers makes of one field: the value it keeps, or 'TypeError'. */
function platform(name: string, value: string): string {
  try {
    return new Headers([[name, value]]).get(name)!;
  } catch (err) {
    return (err as Error).name;
  }
}
function ours(name: string, value: string): string {
  try {
    return checkField(name, value);
  } catch (err) {
    return (err as Error).name;
  }
}

t.test('isToken: RFC 9110 field names', async (t) => {
  for (const ok of ['content-type', 'X-Custom_1', "!#$%&'*+-.^_`|~", 'a']) t.ok(isToken(ok), ok);
  for (const bad of ['', 'a b', 'a:b', 'a(b)', 'é', 'a\tb', 'a"b', 'a,b', 'a/b', '[a]'])
    t.notOk(isToken(bad), JSON.stringify(bad));
});

t.test('checkField: the same verdict and value as the platform Headers', async (t) => {
  const cases: [string, string][] = [
    ['x-a', 'plain'],
    ['x-a', '  padded\t'],
    ['x-a', '\r\npadded\n'],
    ['x-a', 'in side'],
    ['x-a', 'tab\tinside'],
    ['x-a', 'caf\u00e9'], // latin1: a ByteString may hold it
    ['x-a', '\u20ac'], // past U+00FF: not a ByteString
    ['x-a', 'a\0b'],
    ['x-a', 'a\rb'],
    ['x-a', 'a\nb'],
    ['x-a', 'a\x01b'], // other controls are allowed by Headers
    ['x-a', ''],
    ['bad name', 'v'],
    ['', 'v'],
    ['x:a', 'v'],
    ['é', 'v'],
  ];
  for (const [name, value] of cases) {
    t.equal(ours(name, value), platform(name, value), `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
  t.throws(() => checkField('bad name', 'v'), { name: 'TypeError', message: /invalid header name/ });
  t.throws(() => checkField('x-a', 'a\nb'), { name: 'TypeError', message: /invalid header value/ });
});

t.test('checkStatusText: a reason-phrase, as the Response constructor takes it', async (t) => {
  const platformTakes = (text: string) => {
    try {
      new Response(null, { statusText: text });
      return true;
    } catch {
      return false;
    }
  };
  for (const text of ['OK', 'Not Found', '', 'tab\there', 'caf\u00e9', 'a\rb', 'a\nb', 'a\x00b', 'a\x7fb', '\u20ac']) {
    let takes = true;
    try {
      t.equal(checkStatusText(text), text);
    } catch (err) {
      takes = false;
      t.equal((err as Error).name, 'TypeError');
    }
    t.equal(takes, platformTakes(text), `${JSON.stringify(text)}: as the platform`);
  }
});

t.test('pairsOf: arrays and other iterables are pairs, a plain object is a record', async (t) => {
  const list = [['a', '1']];
  t.equal(pairsOf(list), list);
  const map = new Map([['a', '1']]);
  t.equal(pairsOf(map), map);
  t.equal(pairsOf({ a: '1' }), null);
});

t.test('checkHeadersInit: throws where new Headers(init) throws', async (t) => {
  const platformThrows = (init: unknown) => {
    try {
      new Headers(init as HeadersInit);
      return false;
    } catch {
      return true;
    }
  };
  const inits: [string, unknown][] = [
    ['a record', { 'x-a': '1', 'x-b': 2 }],
    ['a record with a bad name', { 'bad name': '1' }],
    ['a record with a bad value', { 'x-a': 'a\nb' }],
    [
      'pairs',
      [
        ['x-a', '1'],
        ['x-a', '2'],
      ],
    ],
    ['a pair of three', [['x-a', '1', '2']]],
    ['a pair of one', [['x-a']]],
    ['a pair that is a string', ['ab']],
    ['a Map', new Map([['x-a', '1']])],
    ['a Map with a bad name', new Map([['bad name', '1']])],
    ['null', null],
    ['a number', 5],
    ['a string', 'x-a: 1'],
  ];
  for (const [what, init] of inits) {
    let threw = false;
    try {
      checkHeadersInit(init);
    } catch (err) {
      threw = true;
      t.equal((err as Error).name, 'TypeError', `${what}: a TypeError`);
    }
    t.equal(threw, platformThrows(init), `${what}: ${threw ? 'refused' : 'taken'}, as the platform`);
  }
  const inherited = Object.create({ 'bad name': 'x' }) as Record<string, string>;
  inherited['x-own'] = '1';
  t.doesNotThrow(() => checkHeadersInit(inherited), 'only own properties count');
});

t.test('wireValue: what the wire carries, as node:http writes it (latin1 bytes past ASCII)', async (t) => {
  t.equal(wireValue('plain'), 'plain', 'ASCII stays a string');
  const v = wireValue('caf\u00e9');
  t.ok(Buffer.isBuffer(v), 'past ASCII: bytes');
  t.same([...(v as Buffer)], [0x63, 0x61, 0x66, 0xe9], 'one byte per character, latin1');
});
