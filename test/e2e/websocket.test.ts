// WebSockets for fetch apps (upgradeWebSocket, Deno's contract) on both engines: real arbiters and
// workers, real ports, the `ws` package as the client, real signals.
import type http from 'node:http';
import { createRequire } from 'node:module';
import t from 'tap';
import { ENGINES, fixture, freePort, request, sleep, startQilin } from '../helpers.js';

/** The `ws` client (the package ships no types). */
interface WsClient {
  readonly protocol: string;
  readonly readyState: number;
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'open', fn: () => void): this;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
  on(event: 'unexpected-response', fn: (req: http.ClientRequest, res: http.IncomingMessage) => void): this;
  on(event: 'ping', fn: () => void): this;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  readonly _socket: { pause(): void; resume(): void };
}
type WsCtor = new (url: string, protocols?: string[], opts?: { autoPong?: boolean }) => WsClient;
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: WsCtor };

const APP = fixture('websocket-app.ts');

interface Client {
  ws: WsClient;
  /** Messages received: text as is, binary as `bin:<hex>`. */
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next message (or one already waiting). */
  next(): Promise<string>;
}

/** Connect; resolves once open (rejects with the HTTP status when the server answers without switching). */
function connect(url: string, protocols?: string[], opts?: { autoPong?: boolean }): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    const messages: string[] = [];
    let read = 0;
    let waiter: (() => void) | null = null;
    ws.on('message', (data, isBinary) => {
      messages.push(isBinary ? `bin:${data.toString('hex')}` : data.toString());
      const w = waiter;
      waiter = null;
      w?.();
    });
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    const next = async (): Promise<string> => {
      while (read >= messages.length)
        await new Promise<void>((r) => {
          waiter = r;
        });
      return messages[read++]!;
    };
    ws.on('open', () => resolve({ ws, messages, closed, next }));
    ws.on('error', (err) => reject(err));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      reject(new Error(`status ${res.statusCode}`));
      ws.terminate();
    });
  });
}

/** GET /metrics from the arbiter: the value of `name{pid="..."}` per pid. */
async function perWorker(port: number, name: string): Promise<Map<string, number>> {
  const r = await request(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const m of r.body.matchAll(new RegExp(`^${name}\\{pid="(\\d+)"\\} (\\S+)$`, 'gm'))) out.set(m[1]!, Number(m[2]));
  return out;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface ServerClose {
  path: string;
  code: number;
  reason: string;
  wasClean: boolean;
  events: string[];
}

for (const engine of ENGINES) {
  t.test(`WebSockets of a fetch app (${engine})`, async (t) => {
    const mport = await freePort();
    // One pool slot: an open WebSocket must not hold it.
    const q = await startQilin(
      t,
      [
        '--worker-connections',
        '1',
        '--websocket-max-message-size',
        '1000',
        '--metrics-bind',
        `127.0.0.1:${mport}`,
        APP,
      ],
      { engine },
    );
    const ws = `ws://127.0.0.1:${q.port}`;
    const closes = async (): Promise<ServerClose[]> =>
      JSON.parse((await request(`${q.url}/closes`)).body) as ServerClose[];

    await t.test('echo: text, binary as a Blob (the default) and as an ArrayBuffer', async (t) => {
      const c = await connect(`${ws}/hello`);
      t.equal(await c.next(), `hello - 1 ws://127.0.0.1:${q.port}/hello`, 'open: readyState OPEN, url, no protocol');
      c.ws.send('héllo wörld');
      t.equal(await c.next(), 'héllo wörld', 'text echoed');
      c.ws.send(Buffer.from([0, 1, 2, 255]));
      t.equal(await c.next(), 'bin:000102ff', 'a binary message echoed as binary');
      t.equal(await c.next(), 'blob 4', 'the app got a Blob (binaryType blob)');
      c.ws.send('after the blob');
      t.equal(await c.next(), 'after the blob', 'a send after a Blob keeps its order');
      c.ws.close(1000);
      t.equal((await c.closed).code, 1000);

      const a = await connect(`${ws}/echo?binaryType=arraybuffer`);
      a.ws.send(Buffer.from('abc'));
      t.equal(await a.next(), 'bin:616263');
      t.equal(await a.next(), 'arraybuffer 3', 'the app got an ArrayBuffer (binaryType arraybuffer)');
      a.ws.close();
      await a.closed;
    });

    await t.test('onmessage alone: the event is a MessageEvent in every way the app can look', async (t) => {
      const c = await connect(`${ws}/onmessage`);
      c.ws.send('héllo');
      const facts = JSON.parse(await c.next()) as Record<string, unknown>;
      t.same(facts, {
        data: 'héllo',
        type: 'message',
        isMessageEvent: true,
        isEvent: true,
        constructor: true,
        tag: true,
        thisIsSocket: true,
        target: true,
        currentTarget: true,
        eventPhase: 2,
        path: 1,
        origin: '',
        lastEventId: '',
        source: null,
        ports: 0,
        bubbles: false,
        cancelable: false,
        defaultPrevented: false,
        isTrusted: false,
        stampNow: true,
        inspect: 'MessageEvent',
        after: { currentTarget: null, eventPhase: 0 },
      });
      c.ws.send('throw');
      await q.waitFor(/Uncaught exception in the app[\s\S]*onmessage threw on purpose/);
      c.ws.send('still here');
      t.match(await c.next(), /"data":"still here"/, 'a handler that throws is reported; the socket and worker go on');
      c.ws.close();
      await c.closed;

      const b = await connect(`${ws}/both`);
      b.ws.send('one');
      t.equal(
        await b.next(),
        '["onmessage one","listener one"]',
        'onmessage, then a listener added after it, in order',
      );
      b.ws.close();
      await b.closed;
    });

    await t.test('subprotocols: the one the app chose; one the client did not offer is an error (500)', async (t) => {
      const c = await connect(`${ws}/hello?protocol=chat.v2`, ['chat.v1', 'chat.v2']);
      t.equal(c.ws.protocol, 'chat.v2', 'the client sees the chosen subprotocol');
      t.match(await c.next(), /^hello chat\.v2 1 /, 'socket.protocol on the server');
      c.ws.close();
      await c.closed;
      await t.rejects(connect(`${ws}/hello?protocol=other`, ['chat.v1']), /status 500/);
      await q.waitFor(/TypeError: Protocol 'other' not in the request's protocol list/);
    });

    await t.test('close codes and reasons, both ways; open and close in order', async (t) => {
      const a = await connect(`${ws}/client-closes`);
      a.ws.send('ping');
      t.equal(await a.next(), 'ping');
      a.ws.close(4321, 'client says bye');
      t.same(await a.closed, { code: 4321, reason: 'client says bye' }, 'the client close completes');
      await until('the server close event', async () => (await closes()).some((c) => c.path === '/client-closes'));
      const seen = (await closes()).find((c) => c.path === '/client-closes')!;
      t.same(
        { code: seen.code, reason: seen.reason, wasClean: seen.wasClean },
        { code: 4321, reason: 'client says bye', wasClean: true },
      );
      t.same(seen.events, ['open', 'close 4321 client says bye true'], 'open, then close');

      const b = await connect(`${ws}/server-close`);
      t.same(await b.closed, { code: 4000, reason: 'server says bye' }, 'the server close reaches the client');

      const c = await connect(`${ws}/by-message`);
      c.ws.send('close 3001 done here');
      t.same(await c.closed, { code: 3001, reason: 'done here' });
      const d = await connect(`${ws}/bad-code`);
      d.ws.send('close 1001 not yours');
      d.ws.send('still open');
      t.equal(await d.next(), 'still open', 'close() with a code an app may not send throws; the socket stays open');
      await q.waitFor(/The close code must be either 1000, or between 3000 and 4999/);
      d.ws.close();
      await d.closed;
    });

    await t.test(
      'the same app serves plain HTTP; upgradeWebSocket on a plain request is its error (500)',
      async (t) => {
        const r = await request(`${q.url}/plain?x=1`);
        t.equal(r.status, 200);
        t.equal(r.body, 'http GET /plain');
        const bad = await request(`${q.url}/not-upgrade`);
        t.equal(bad.status, 500, "Gunicorn's error page");
        await q.waitFor(/TypeError: Invalid Header: 'upgrade' header must contain 'websocket'/);
        await t.rejects(connect(`${ws}/refuse`), /status 403/, 'an upgrade request the app answers with plain HTTP');
        const after = await request(`${q.url}/plain`);
        t.equal(after.status, 200, 'the worker serves on');
      },
    );

    await t.test('a message over websocket_max_message_size: close 1009', async (t) => {
      const c = await connect(`${ws}/too-big`);
      c.ws.send('x'.repeat(1000));
      t.equal((await c.next()).length, 1000, 'a message of the limit is taken');
      c.ws.send('x'.repeat(1500));
      t.equal((await c.closed).code, 1009);
      await until('the server close event', async () => (await closes()).some((s) => s.path === '/too-big'));
      const seen = (await closes()).find((s) => s.path === '/too-big')!;
      t.equal(seen.code, 1009, 'the app sees 1009 too');
      t.match(seen.events, ['open', /^error /, /^close 1009/], 'an error event, then close');
    });

    await t.test('backpressure: bufferedAmount holds what the client has not read yet', async (t) => {
      const c = await connect(`${ws}/flood`);
      c.ws._socket.pause();
      c.ws.send('flood 100'); // 6.4 MB, more than the socket buffers take
      await until('the flood', async () => JSON.parse((await request(`${q.url}/flooded`)).body).length === 1);
      const [buffered] = JSON.parse((await request(`${q.url}/flooded`)).body) as number[];
      t.ok(buffered! > 1024 * 1024, `bufferedAmount after the sends: ${buffered}`);
      c.ws._socket.resume();
      await until('every chunk', () => c.messages.length === 100, 15000);
      c.ws.send('buffered');
      await until('the answer', () => c.messages.length === 101);
      t.equal(c.messages[100], '0', 'nothing is dropped; bufferedAmount is 0 once read');
      c.ws.close();
      await c.closed;
    });

    await t.test(
      'an open WebSocket holds no pool slot (worker_connections 1); /metrics counts open sockets',
      async (t) => {
        const open = await Promise.all([1, 2, 3].map(() => connect(`${ws}/held`)));
        const r = await request(`${q.url}/slow?ms=50`);
        t.equal(r.status, 200, 'a plain request is served while three WebSockets are open');
        const again = await Promise.all([request(`${q.url}/slow?ms=50`), request(`${q.url}/plain`)]);
        t.same(
          again.map((x) => x.status),
          [200, 200],
          'and requests queue for the one slot as usual',
        );
        await until(
          'qilin_worker_websockets_open 3',
          async () => [...(await perWorker(mport, 'qilin_worker_websockets_open')).values()][0] === 3,
        );
        t.pass('qilin_worker_websockets_open is 3');
        await until(
          'no request in flight',
          async () => [...(await perWorker(mport, 'qilin_worker_requests_in_flight')).values()][0] === 0,
        );
        t.equal(
          [...(await perWorker(mport, 'qilin_worker_websockets_open')).values()][0],
          3,
          'none of the three is in flight, all three open',
        );
        for (const c of open) c.ws.close();
        await Promise.all(open.map((c) => c.closed));
        await until(
          'qilin_worker_websockets_open 0',
          async () => [...(await perWorker(mport, 'qilin_worker_websockets_open')).values()][0] === 0,
        );
        t.pass('back to 0 once closed');
      },
    );

    await t.test('idleTimeout: a client that answers no ping is closed with 1001; one that does stays', async (t) => {
      const deaf = await connect(`${ws}/idle?idle=1`, undefined, { autoPong: false });
      const alive = await connect(`${ws}/idle?idle=1`);
      let pinged = false;
      deaf.ws.on('ping', () => {
        pinged = true;
      });
      const shut = await deaf.closed;
      t.ok(pinged, 'it was pinged first');
      t.same(shut, { code: 1001, reason: 'No response from ping frame.' });
      await sleep(1200);
      t.equal(alive.ws.readyState, 1, 'the client that answers pings is still open');
      alive.ws.close();
      await alive.closed;
    });
  });

  t.test(`100 clients on 2 workers, then TERM: every one gets 1001 and the arbiter exits 0 (${engine})`, async (t) => {
    const q = await startQilin(t, ['-w', '2', '--graceful-timeout', '10', APP], { engine });
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(`ws://127.0.0.1:${q.port}/echo`)));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < 10; n++) {
          c.ws.send(`${i}:${n}`);
          if ((await c.next()) !== `${i}:${n}`) throw new Error(`client ${i} got a wrong echo`);
        }
      }),
    );
    t.pass('1000 echoes over 100 clients');
    // Which worker takes a connection is the kernel's choice (on the node engine, one may take them all).
    t.equal(q.workerPids().length, 2, 'two workers serve');
    const start = Date.now();
    q.signal('SIGTERM');
    const codes = await Promise.all(clients.map(async (c) => (await c.closed).code));
    t.same([...new Set(codes)], [1001], 'every client got close 1001 (Going Away)');
    const exit = await q.exited;
    const took = Date.now() - start;
    t.same(exit, { code: 0, signal: null }, 'the arbiter exits 0');
    t.ok(took < 10000, `within graceful_timeout (${took} ms)`);
  });
}

for (const engine of ENGINES) {
  t.test(`a Hono route: upgradeWebSocket(c.req.raw) behind a middleware (${engine})`, async (t) => {
    const q = await startQilin(t, [fixture('websocket-hono.ts')], { engine });
    const c = await connect(`ws://127.0.0.1:${q.port}/ws`);
    c.ws.send('hi');
    t.equal(await c.next(), 'hono: hi');
    c.ws.close();
    await c.closed;
    t.equal((await request(`${q.url}/`)).body, 'hono', 'its HTTP routes as usual');
  });
}

t.test('a Node-style app keeps its own upgrade listeners (node engine)', async (t) => {
  const q = await startQilin(t, ['-w', '1', fixture('node-apps/ws-server.mjs')]);
  const c = await connect(`ws://127.0.0.1:${q.port}/ws?name=own`);
  t.equal(await c.next(), 'welcome own');
  c.ws.send('hi');
  t.equal(await c.next(), 'echo: hi');
  c.ws.close();
  await c.closed;
});

t.test('an upgrade to something else (h2c) is served as a plain request with its body (node engine)', async (t) => {
  const q = await startQilin(t, [fixture('echo-app.ts')], { engine: 'node' });
  const r = await request(`${q.url}/echo`, {
    method: 'POST',
    body: 'hello body',
    headers: { upgrade: 'h2c', connection: 'Upgrade, HTTP2-Settings', 'http2-settings': 'AAMAAABkAAQCAAAAAAIAAAAA' },
  });
  t.equal(r.status, 200);
  const seen = JSON.parse(r.body) as { method: string; body: string; headers: string[] };
  t.equal(seen.method, 'POST');
  t.equal(Buffer.from(seen.body, 'base64').toString(), 'hello body', 'the body reaches the app');
  t.notOk(
    seen.headers.some((h) => h.toLowerCase() === 'upgrade'),
    'without the Upgrade it was not given',
  );
});
