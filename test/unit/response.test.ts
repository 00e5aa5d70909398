// The light Response (lib/http/response.ts): it keeps status, headers and body as the app gave them
// so the writer can send them without building the platform's Response, yet behaves as the
// platform's class does. Each behaviour is compared with Node's own Response on the same input;
// then what the writer reads (lightParts), including after the re-wraps middleware does.
import t from 'tap';
import { LightResponse, TEXT_PLAIN, lightParts, statusLine, type ResponseParts } from '../../lib/http/response.js';

const Platform = globalThis.Response;
const parts = (): ResponseParts => ({ status: 0, statusText: '', headers: undefined, body: null, headLength: -1 });
const light = (body?: BodyInit | null, init?: ResponseInit) => new LightResponse(body, init) as unknown as Response;
const outcome = (make: () => unknown): string => {
  try { make(); return 'made'; } catch (err) { return (err as Error).name; }
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
    [new Uint8Array([104, 105]), { status: 404, statusText: 'Nope', headers: [['x-a', '1'], ['x-a', '2']] }],
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
  t.equal(blob.type, (await new Platform('x', { headers: { 'content-type': 'Text/HTML; Charset=UTF-8' } }).blob()).type,
    "a Blob's type from the Content-Type, as the platform gives it");
  t.equal(blob.type, 'text/html;charset=utf-8');
  t.equal(await light(null).text(), '', 'no body reads as empty');
});

t.test('a streamed body', async (t) => {
  const stream = () => new ReadableStream<Uint8Array>({
    start(c) { c.enqueue(new TextEncoder().encode('one ')); c.enqueue(new TextEncoder().encode('two')); c.close(); },
  });
  t.equal(await light(stream()).text(), 'one two');
  const r = light(stream());
  const copy = r.clone();
  t.equal(await copy.text(), 'one two', 'a clone reads the whole body');
  t.equal(await r.text(), 'one two', 'and so does the original');
  const read = stream();
  await read.getReader().read();
  t.throws(() => light(read), TypeError, 'a stream read from already cannot be a body');
  const odd = new ReadableStream({ start(c) { c.enqueue('not bytes'); c.close(); } });
  await t.rejects(light(odd as ReadableStream<Uint8Array>).text(), TypeError, 'chunks that are no bytes');
});

t.test('Response.json', async (t) => {
  const r = LightResponse.json({ a: 1 }, { status: 202 });
  t.equal(r.status, 202);
  t.equal(r.headers.get('content-type'), 'application/json');
  t.equal(await r.text(), '{"a":1}');
  t.equal(LightResponse.json(1, { headers: { 'content-type': 'application/vnd.x+json' } }).headers.get('content-type'), 'application/vnd.x+json', 'a given type kept');
  t.throws(() => LightResponse.json(undefined), TypeError);
  t.equal(outcome(() => LightResponse.json(undefined)), outcome(() => Platform.json(undefined)));
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
  t.ok(new Platform('x') instanceof LightResponse, 'a platform Response is a Response to qilin\'s class too');
  t.equal(Object.prototype.toString.call(light('x')), '[object Response]');
  t.equal(LightResponse.name, 'Response');
  t.same(Object.keys(light('x')), [], 'no own enumerable property, as the platform\'s');
});
