// The stream a light Response hands out as `body` for a plain body (lib/http/response.ts,
// lazyStream): a proxy that makes the platform's byte stream only when something touches it. Each
// way an app or Node's own code uses a response body must work on it as on the platform's, and
// the re-wrap middleware does (`new Response(res.body, res)`) must stay a plain body.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import http from 'node:http';
import { inspect } from 'node:util';
import t from 'tap';
import { LightResponse, lightParts, type ResponseParts } from '../../lib/http/response.js';

const light = (body: string) => new LightResponse(body) as unknown as Response;
/** Everything a stream or a Node readable yields, as text (Node's ReadableStream is async-iterable). */
const text = async (chunks: object) => {
  let s = '';
  for await (const c of chunks as AsyncIterable<Uint8Array | string>)
    s += typeof c === 'string' ? c : Buffer.from(c).toString();
  return s;
};
const parts = (r: Response) => lightParts(r, {} as ResponseParts);

t.test('a re-wrap of an unread body is the plain body again', async (t) => {
  const res = light('hello');
  const again = new LightResponse(res.body, res) as unknown as Response;
  t.equal(parts(again)?.body, 'hello');
  t.equal(await again.text(), 'hello');
  // The stream handed out and never touched: the first response is still unused.
  t.equal(res.bodyUsed, false);
});

t.test('it is a ReadableStream to every reader', async (t) => {
  t.ok(light('a').body instanceof ReadableStream, 'instanceof');
  t.equal(Object.getPrototypeOf(light('a').body), ReadableStream.prototype, 'prototype');
  const r = light('abc').body!.getReader();
  const first = await r.read();
  t.equal(Buffer.from(first.value!).toString(), 'abc', 'getReader');
  t.ok((await r.read()).done, 'then done');
  const byob = light('xyz').body!.getReader({ mode: 'byob' });
  const got = await byob.read(new Uint8Array(16));
  t.equal(Buffer.from(got.value!).toString(), 'xyz', 'BYOB reader');
  t.equal(await text(light('iter').body!), 'iter', 'for await');
  t.equal(await text(Readable.fromWeb(light('node').body! as never)), 'node', 'Readable.fromWeb');
  let piped = '';
  await light('pipe').body!.pipeTo(
    new WritableStream({
      write(c) {
        piped += Buffer.from(c).toString();
      },
    }),
  );
  t.equal(piped, 'pipe', 'pipeTo');
  t.equal(await text(light('through').body!.pipeThrough(new TextDecoderStream())), 'through', 'pipeThrough');
  const [a, b] = light('tee').body!.tee();
  t.same([await text(a), await text(b)], ['tee', 'tee'], 'tee');
  t.equal(ReadableStream.prototype.getReader.call(light('x').body!) !== undefined, true, 'brand-checked method');
  const NativeResponse = (await fetch('data:,')).constructor as typeof Response;
  t.equal(await new NativeResponse(light('native').body).text(), 'native', "the platform Response's body");
  const s = light('fin').body!;
  const done = finished(s as never);
  await text(s);
  await done;
  t.pass('stream.finished');
});

t.test("an upload with fetch() (undici's own stream handling)", async (t) => {
  const server = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => res.end(`got ${s}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const init = { method: 'POST', body: light('upload').body, duplex: 'half' } as RequestInit;
  const res = await fetch(`http://127.0.0.1:${port}/`, init);
  t.equal(await res.text(), 'got upload');
});

t.test('locked, disturbed and used as the platform says', async (t) => {
  const res = light('state');
  const body = res.body!;
  t.equal(body.locked, false);
  t.equal(Readable.isDisturbed(body as never), false);
  const reader = body.getReader();
  t.equal(body.locked, true, 'locked to its reader');
  await reader.read();
  t.equal(res.bodyUsed, true, 'read through the stream: used');
  await t.rejects(res.text(), TypeError, 'text() after the stream was read');
  t.throws(() => new LightResponse(body), TypeError, 'a read stream cannot be a body');

  const cancelled = light('c');
  await cancelled.body!.cancel();
  t.equal(cancelled.bodyUsed, true, 'cancelled: used');
});

t.test('text() after body was handed out but not read: the body, and the stream is spent', async (t) => {
  const res = light('later');
  const body = res.body!;
  t.equal(await res.text(), 'later');
  t.equal(res.bodyUsed, true);
  t.equal(body.locked, true, 'locked, as after the spec\'s "fully read"');
  t.equal(Readable.isDisturbed(body as never), true);
  await t.rejects(res.text(), TypeError, 'read once');
  t.throws(() => new LightResponse(res.body, res), TypeError, 'no re-wrap of a used body');
});

t.test('clone() of a response whose body was handed out', async (t) => {
  const res = light('twice');
  void res.body;
  const copy = res.clone();
  t.same([await res.text(), await copy.text()], ['twice', 'twice']);
});

t.test("inspection shows the platform's stream", async (t) => {
  const NativeResponse = (await fetch('data:,')).constructor as typeof Response;
  t.equal(inspect(light('i').body), inspect(new NativeResponse('i').body));
});
