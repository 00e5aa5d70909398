// What every engine must do with a fetch app, run against one engine's listener in this process
// (test/engine/serve.ts): a GET, a POST body (whole and chunked), a streamed response that reaches
// the client before it ends and a large one in large pieces, HEAD, the app's failures as Gunicorn's
// 500, a refused request getting its 400 and a closed connection, keep-alive and pipelining,
// limit_request_body, and the pool: worker_connections holding a request back until a slot frees, a
// client that leaves freeing its slot.
import { createHash, randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { EngineName } from '../../lib/engines/index.js';
import { Gate, RawClient, eventually, get } from './client.js';
import { serve, type Served, type ServeInfo, type ServeOptions } from './serve.js';

/** Gunicorn's 500 page. */
const ERROR_PAGE =
  '<html><head><title>Internal Server Error</title></head><body><h1><p>Internal Server Error</p></h1></body></html>';

/** A body of 1 MB the app streams in large pieces. */
const BIG = randomBytes(1024 * 1024);

/** The platform's own Response, kept before a listener makes `Response` the light one. */
const PlatformResponse = globalThis.Response;

/** What the tests control and watch of the app. */
class AppState {
  readonly gates = new Map<string, Gate>();
  /** Requests that reached the app, by path. */
  readonly entered: string[] = [];
  readonly aborted: string[] = [];
  gate(name: string): Gate {
    let g = this.gates.get(name);
    if (!g) this.gates.set(name, (g = new Gate()));
    return g;
  }
}

function app(state: AppState) {
  return async (request: Request, info: ServeInfo): Promise<Response> => {
    const url = new URL(request.url);
    state.entered.push(url.pathname);
    switch (url.pathname) {
      case '/hello':
        return new Response('hello');
      case '/info':
        return Response.json({
          method: request.method,
          url: request.url,
          accept: request.headers.get('accept'),
          remote: info.remoteAddr.transport === 'tcp' ? info.remoteAddr.hostname : null,
        });
      case '/echo': {
        const body = await request.arrayBuffer();
        return new Response(body, {
          headers: {
            'content-type': request.headers.get('content-type') ?? 'application/octet-stream',
            'x-sha256': sha(body),
          },
        });
      }
      case '/stream': {
        const gate = state.gate('stream');
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode('first\n'));
            await gate.opened;
            controller.enqueue(new TextEncoder().encode('second\n'));
            controller.close();
          },
        });
        return new Response(stream, { headers: { 'content-type': 'text/plain' } });
      }
      case '/big-stream': {
        // Chunks far larger than uWS's 16 KiB cork buffer, as a file or a proxied body comes.
        const chunks = [BIG.subarray(0, 100_000), BIG.subarray(100_000, 400_000), BIG.subarray(400_000)];
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        });
        return new Response(stream, { headers: { 'content-type': 'application/octet-stream' } });
      }
      case '/platform':
        return new PlatformResponse('from the platform class', { status: 201, headers: { 'x-kind': 'platform' } });
      case '/throw':
        throw new Error('the app failed');
      case '/reject':
        return Promise.reject(new Error('the app failed later'));
      case '/hang':
        // Never answers: waits for its client to leave.
        await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
        state.aborted.push(`${url.pathname} ${(request.signal.reason as Error).name}`);
        return new Response('too late');
      default:
        if (url.pathname.startsWith('/gate/')) {
          const name = url.pathname.slice('/gate/'.length);
          await state.gate(name).opened;
          return new Response(`opened ${name}`);
        }
        return new Response('not found', { status: 404 });
    }
  };
}

function sha(body: ArrayBuffer | Buffer | string): string {
  return createHash('sha256')
    .update(typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body as ArrayBuffer))
    .digest('hex');
}

/** A listener of `engine` serving the app, stopped when the test ends. */
async function start(
  t: Test,
  engine: EngineName,
  opts: ServeOptions = {},
): Promise<{ served: Served; state: AppState }> {
  const state = new AppState();
  const served = await serve(engine, app(state), opts);
  t.teardown(async () => {
    for (const g of state.gates.values()) g.open();
    await served.stop();
  });
  return { served, state };
}

async function connect(t: Test, served: Served): Promise<RawClient> {
  const c = await RawClient.connect(served.port);
  t.teardown(() => c.destroy());
  return c;
}

export function engineSuite(t: Test, engine: EngineName): void {
  t.test('GET: status, headers and body; the app sees the request', async (t) => {
    const { served } = await start(t, engine);
    const r = await fetch(`${served.url}/hello`);
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-type'), 'text/plain;charset=UTF-8', "a string body's default Content-Type");
    t.equal(r.headers.get('content-length'), '5');
    t.equal(await r.text(), 'hello');
    const info = (await (
      await fetch(`${served.url}/info?x=1`, { headers: { accept: 'text/x-test' } })
    ).json()) as Record<string, unknown>;
    t.same(
      info,
      { method: 'GET', url: `${served.url}/info?x=1`, accept: 'text/x-test', remote: '127.0.0.1' },
      'method, a URL made of the Host and the target, headers, the peer',
    );
    const platform = await fetch(`${served.url}/platform`);
    t.equal(platform.status, 201, 'a platform Response is written too');
    t.equal(platform.headers.get('x-kind'), 'platform');
    t.equal(await platform.text(), 'from the platform class');
  });

  t.test('POST: a body whole, and a chunked one, reach the app as sent', async (t) => {
    const { served } = await start(t, engine);
    const body = randomBytes(300 * 1024);
    const r = await fetch(`${served.url}/echo`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-test' },
    });
    t.equal(r.status, 200);
    t.equal(r.headers.get('x-sha256'), sha(body), 'the app read every byte (past the 256 KiB high-water mark)');
    t.equal(r.headers.get('content-type'), 'application/x-test');
    const echoed = Buffer.from(await r.arrayBuffer());
    t.ok(echoed.equals(body), 'and wrote them back');
    const c = await connect(t, served);
    c.write('POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n');
    c.write('5\r\nhello\r\n');
    await new Promise((resolve) => setTimeout(resolve, 30));
    c.write('7\r\n, world\r\n0\r\n\r\n');
    const [res] = await c.waitResponses(1);
    t.equal(res!.status, 200);
    t.equal(res!.body, 'hello, world', 'a chunked body in two writes');
  });

  t.test('a streamed response reaches the client before it ends', async (t) => {
    const { served, state } = await start(t, engine);
    const c = await connect(t, served);
    c.write(get('/stream'));
    t.ok(
      await c.until(() => c.text.includes('first\n')),
      'the first chunk arrives while the app still holds the stream open',
    );
    t.notOk(c.text.includes('second'), 'and nothing of what is not written yet');
    t.match(c.text, /^HTTP\/1\.1 200 OK\r\n/);
    t.match(c.text.toLowerCase(), /\r\ntransfer-encoding: chunked\r\n/, 'chunked: no length known');
    state.gate('stream').open();
    const [res] = await c.waitResponses(1);
    t.equal(res!.body, 'first\nsecond\n', 'then the rest, and the end of the body');
    t.ok(res!.chunked);
    c.write(get('/hello'));
    const both = await c.waitResponses(2);
    t.equal(both[1]!.body, 'hello', 'the connection serves on after a streamed response');
  });

  t.test('a large streamed body in large pieces arrives whole', async (t) => {
    const { served } = await start(t, engine);
    const r = await fetch(`${served.url}/big-stream`);
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-length'), null, 'streamed: no length');
    const got = Buffer.from(await r.arrayBuffer());
    t.equal(got.length, BIG.length, 'every byte');
    t.equal(sha(got), sha(BIG), 'in order');
  });

  t.test('HEAD: the headers GET would get, no body', async (t) => {
    const { served } = await start(t, engine);
    const c = await connect(t, served);
    c.write('HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n');
    c.write(get('/hello'));
    const [head, after] = await c.waitResponses(2, [true, false]);
    t.equal(head!.status, 200);
    t.equal(head!.headers['content-length'], '5', 'the length GET would send');
    t.equal(head!.body, '');
    t.equal(after!.body, 'hello', "the next response is read right: no body bytes came after the HEAD's");
  });

  t.test("the app's failures: Gunicorn's 500 page, the error told to the log", async (t) => {
    const { served } = await start(t, engine);
    for (const path of ['/throw', '/reject']) {
      const r = await fetch(`${served.url}${path}`);
      t.equal(r.status, 500, `${path}: 500`);
      t.equal(r.headers.get('content-type'), 'text/html');
      t.equal(await r.text(), ERROR_PAGE);
    }
    t.same(
      served.errors.map((e) => [e.msg, (e.err as Error).message]),
      [
        ['Error handling request /throw', 'the app failed'],
        ['Error handling request /reject', 'the app failed later'],
      ],
    );
    t.equal((await fetch(`${served.url}/hello`)).status, 200, 'and the listener serves on');
  });

  t.test('a request the rules refuse: its 400 and a closed connection, the app never called', async (t) => {
    const { served, state } = await start(t, engine);
    const refused: [string, string, string][] = [
      ['two Host headers', 'GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'Duplicate Host header'],
      ['a Host that is no authority', 'GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n', 'Invalid Host header'],
    ];
    for (const [what, bytes, detail] of refused) {
      const c = await connect(t, served);
      c.write(bytes);
      t.ok(await c.until(() => c.closed), `${what}: the connection is closed`);
      const [res] = c.responses();
      t.equal(res?.status, 400, `${what}: 400`);
      t.equal(res?.headers.connection?.toLowerCase(), 'close', `${what}: it says so`);
      t.equal(
        res?.body,
        `<html><head><title>Bad Request</title></head><body><h1><p>Bad Request</p></h1>${detail}</body></html>`,
        `${what}: Gunicorn's page`,
      );
    }
    t.same(state.entered, [], 'no refused request reached the app');
  });

  t.test('keep-alive: requests one after the other, and pipelined, on one connection', async (t) => {
    const { served } = await start(t, engine);
    const c = await connect(t, served);
    c.write(get('/hello'));
    await c.waitResponses(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.notOk(c.closed, 'kept open after a response');
    c.write(get('/info'));
    const [, second] = await c.waitResponses(2);
    t.match(
      JSON.parse(second!.body),
      { method: 'GET', url: `http://test/info` },
      'a second request on the same connection',
    );
    c.write(get('/hello') + get('/platform') + get('/hello'));
    const all = await c.waitResponses(5);
    t.same(
      all.slice(2).map((r) => r.body),
      ['hello', 'from the platform class', 'hello'],
      'three pipelined requests, answered in order',
    );
    t.notOk(c.closed);
  });

  t.test('Connection: close is honoured', async (t) => {
    const { served } = await start(t, engine);
    const c = await connect(t, served);
    c.write(get('/hello', 'Connection: close\r\n'));
    t.ok(await c.until(() => c.closed), 'closed after the response');
    t.equal(c.responses()[0]?.body, 'hello');
  });

  t.test('limit_request_body: a Content-Length over it is 413 before the app runs', async (t) => {
    const { served, state } = await start(t, engine, { settings: { limit_request_body: 10 } });
    const c = await connect(t, served);
    c.write('POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world');
    t.ok(await c.until(() => c.closed), 'closed');
    t.equal(c.responses()[0]?.status, 413);
    t.same(state.entered, []);
    const ok = await fetch(`${served.url}/echo`, { method: 'POST', body: '0123456789' });
    t.equal(await ok.text(), '0123456789', 'a body at the limit is served');
  });

  t.test('worker_connections: a request past the bound waits for a slot, then runs', async (t) => {
    const { served, state } = await start(t, engine, { settings: { worker_connections: 1 } });
    const a = await connect(t, served);
    const b = await connect(t, served);
    a.write(get('/gate/a'));
    t.ok(await eventually(() => state.entered.includes('/gate/a')), 'the first request runs');
    b.write(get('/hello'));
    t.ok(await eventually(() => served.pool.queued === 1), 'the second waits in the pool');
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.equal(b.text, '', 'and gets nothing while the slot is held');
    t.same(state.entered, ['/gate/a'], 'nor does its app run');
    t.equal(served.pool.slotsInUse, 1);
    state.gate('a').open();
    const [ra] = await a.waitResponses(1);
    t.equal(ra!.body, 'opened a');
    const [rb] = await b.waitResponses(1);
    t.equal(rb!.body, 'hello', 'once the slot is free, the waiting request is served');
    t.same(state.entered, ['/gate/a', '/hello']);
    t.ok(await eventually(() => served.pool.inFlight === 0), 'nothing held once both are answered');
  });

  t.test('worker_connections 3: never more than three in the app, the rest in arrival order', async (t) => {
    const { served, state } = await start(t, engine, { settings: { worker_connections: 3 } });
    const clients: RawClient[] = [];
    for (const name of ['1', '2', '3', '4', '5']) {
      const c = await connect(t, served);
      c.write(get(`/gate/${name}`));
      clients.push(c);
      // Each arrives before the next: arrival order is sending order.
      t.ok(await eventually(() => served.pool.inFlight === clients.length), `request ${name} arrived`);
    }
    t.same(state.entered, ['/gate/1', '/gate/2', '/gate/3']);
    t.equal(served.pool.queued, 2);
    state.gate('2').open();
    t.ok(await eventually(() => state.entered.length === 4));
    t.equal(state.entered[3], '/gate/4', 'the first waiting one takes the slot');
    for (const g of ['1', '3', '4', '5']) state.gate(g).open();
    for (const c of clients) await c.waitResponses(1);
    t.same(
      clients.map((c) => c.responses()[0]!.body),
      ['opened 1', 'opened 2', 'opened 3', 'opened 4', 'opened 5'],
    );
  });

  t.test('a client that leaves frees its slot and aborts request.signal', async (t) => {
    const { served, state } = await start(t, engine, { settings: { worker_connections: 1 } });
    const gone = await connect(t, served);
    gone.write(get('/hang'));
    t.ok(await eventually(() => state.entered.includes('/hang')));
    t.equal(served.pool.slotsInUse, 1);
    gone.destroy();
    t.ok(await eventually(() => served.pool.slotsInUse === 0), 'the slot is free at once');
    t.ok(await eventually(() => state.aborted.length === 1), 'the app learns it');
    t.same(state.aborted, ['/hang AbortError']);
    t.equal(await (await fetch(`${served.url}/hello`)).text(), 'hello', 'the next request is served');
  });

  t.test('the request log is told of each finished request', async (t) => {
    const { served } = await start(t, engine, { log: true });
    await (await fetch(`${served.url}/hello?x=1`)).text();
    await (await fetch(`${served.url}/nowhere`)).text();
    await (await fetch(`${served.url}/throw`)).text();
    t.ok(await eventually(() => served.logged.length === 3));
    t.same(served.logged, [
      { method: 'GET', target: '/hello?x=1', status: 200, length: 5, remote: '127.0.0.1' },
      { method: 'GET', target: '/nowhere', status: 404, length: 9, remote: '127.0.0.1' },
      { method: 'GET', target: '/throw', status: 500, length: ERROR_PAGE.length, remote: '127.0.0.1' },
    ]);
    t.equal(served.done(), 3, 'three exchanges finished (max_requests counts them)');
  });

  t.test('stopping: what the pool still holds is cancelled, the connection cut', async (t) => {
    const { served, state } = await start(t, engine);
    const c = await connect(t, served);
    c.write(get('/gate/never'));
    t.ok(await eventually(() => state.entered.includes('/gate/never')));
    await served.stop();
    t.ok(await c.until(() => c.closed), 'the connection of the cancelled request is closed');
    t.equal(c.responses().length, 0, 'with no answer');
    t.equal(served.pool.inFlight, 0);
  });
}
