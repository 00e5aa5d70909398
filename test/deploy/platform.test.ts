// What must work on every supported Node line and platform (test/run.mjs runs this file on each one
// when QILIN_PLATFORMS=1): default settings (qilin picks the engine) serving a fetch app, an Express
// app, a 1 MB body, a streamed response, WebSockets, TERM and HUP; and the same with --engine node.
// QILIN_EXPECT_ENGINE (`uws` or `node`) says which engine default settings must pick here.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import t, { type Test } from 'tap';
import { fixture, request, ROOT, sleep, startQilin, type Engine, type Qilin } from '../helpers.js';

// About 20 s on a quiet machine; the limits below are for a busy one.
t.setTimeout(180_000);

const expected = process.env.QILIN_EXPECT_ENGINE;
if (expected !== undefined && expected !== 'uws' && expected !== 'node')
  throw new Error(`QILIN_EXPECT_ENGINE must be uws or node, not ${expected}`);

/** The `ws` client (the package ships no types): what this file uses of it. */
interface WsClient {
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'open', fn: () => void): this;
  on(event: 'close', fn: (code: number) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
  send(data: string | Buffer): void;
  close(code?: number): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string) => WsClient };

/**
 * `p`, or a rejection after `ms`: a server that never answers fails that check quickly instead of
 * holding the whole file until its timeout.
 */
function within<T>(what: string, p: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** GET the whole body as bytes (the streamed route sends bytes that are not UTF-8). */
function getBytes(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The `Using engine:` lines of an arbiter's output. */
const engineLines = (q: Qilin) => q.output.split('\n').filter((l) => l.includes('Using engine:'));

/** The engine an arbiter said it uses. */
const engineOf = (q: Qilin): string | undefined => /Using engine: (\w+)/.exec(q.output)?.[1];

/** Hello, JSON, a 1 MB body echoed and a streamed response from test/fixtures/app.ts. */
async function fetchChecks(t: Test, q: Qilin): Promise<void> {
  const hello = await within('GET /', request(q.url + '/'));
  t.same([hello.status, hello.body], [200, 'Hello, World!'], 'hello');
  // uWS adds its own header to every response: the engine that answered is the one announced.
  t.equal(hello.headers.uwebsockets === undefined ? 'node' : 'uws', engineOf(q), 'served by the engine announced');

  const json = await within('GET /request', request(q.url + '/request?a=1', { headers: { 'x-probe': 'yes' } }));
  t.equal(json.status, 200);
  t.match(json.headers['content-type'], /^application\/json/, 'JSON: content-type');
  const seen = JSON.parse(json.body) as {
    method: string;
    url: string;
    headers: [string, string][];
    isRequest: boolean;
  };
  t.same(
    [seen.method, seen.url, seen.isRequest],
    ['GET', `${q.url}/request?a=1`, true],
    'JSON: what the app saw of the request',
  );
  t.ok(
    seen.headers.some(([k, v]) => k === 'x-probe' && v === 'yes'),
    'JSON: the request headers',
  );

  // 1 MB of text that is not one byte repeated: a lost or moved piece shows.
  const sent = Array.from({ length: (1024 * 1024) / 16 }, (_, i) => i.toString(36).padStart(15, '.') + '\n').join('');
  const echo = await within(
    'POST /echo',
    request(q.url + '/echo', { method: 'POST', body: sent, headers: { 'content-type': 'text/plain' } }),
  );
  t.equal(echo.status, 200);
  t.equal(echo.headers['x-method'], 'POST');
  t.equal(echo.body.length, sent.length, 'POST 1 MB: as many bytes back');
  t.ok(echo.body === sent, 'POST 1 MB: the same bytes back');

  // A ReadableStream of 24 chunks of 10 KiB; byte i is i % 251.
  const kb = 240;
  const stream = await within('GET /pattern', getBytes(`${q.url}/pattern?kb=${kb}&chunk=10240`));
  t.equal(stream.status, 200);
  t.equal(stream.body.length, kb * 1024, 'stream: every chunk arrived');
  const bad = stream.body.findIndex((b, i) => b !== i % 251);
  t.equal(bad, -1, 'stream: every byte in order');
}

/** Text and binary echoed through upgradeWebSocket (test/fixtures/websocket-app.ts). */
async function websocketChecks(t: Test, q: Qilin): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${q.port}/echo`);
  const messages: string[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data, isBinary) => {
    messages.push(isBinary ? `bin:${data.toString('hex')}` : data.toString());
    wake?.();
  });
  const closed = new Promise<number>((resolve) => ws.on('close', resolve));
  await within(
    'a WebSocket upgrade',
    new Promise<void>((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    }),
  );
  const receive = async (n: number) => {
    const end = Date.now() + 15_000;
    while (messages.length < n && Date.now() < end)
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    return messages.slice(0, n);
  };
  ws.send('héllo wörld');
  ws.send(Buffer.from([0, 1, 2, 255]));
  t.same(await receive(3), ['héllo wörld', 'bin:000102ff', 'blob 4'], 'WebSocket: text and binary echoed, in order');
  ws.close(1000);
  t.equal(await within('a WebSocket close', closed), 1000, 'WebSocket: closed with 1000');
}

/**
 * The servers this file started. When the file runs out of time, tap ends it with SIGALRM: no
 * teardown runs then, nor any 'exit' handler, so stop them as the timeout is reported.
 */
const servers = new Set<Qilin>();
let timedOut = false;
t.on('timeout', () => {
  timedOut = true;
  for (const q of servers) q.kill();
});

/** Start qilin and wait for its first ready worker, with room for a busy machine (startQilin waits 15 s). */
async function serve(t: Test, args: string[], engine?: Engine): Promise<Qilin> {
  const q = await startQilin(t, args, { engine, ready: false });
  servers.add(q);
  if (timedOut) {
    q.kill();
    throw new Error('the file ran out of time');
  } // tap may go on for a while
  await q.waitFor(/Worker \(pid:\d+\) ready/, { timeout: 45_000 });
  return q;
}

t.test('default settings', async (t) => {
  const [app, sockets, express] = await Promise.all([
    serve(t, ['--graceful-timeout', '10', fixture('app.ts')]),
    serve(t, [fixture('websocket-app.ts')]),
    serve(t, [fixture('node-apps/express-app.cjs')]),
  ]);

  t.test('the engine notice', async (t) => {
    for (const [name, q] of [
      ['fetch app', app],
      ['WebSocket app', sockets],
    ] as const) {
      const lines = engineLines(q);
      t.equal(lines.length, 1, `${name}: one "Using engine:" line`);
      const line = lines[0] ?? '';
      if (name === 'fetch app') t.comment(`engine seen: ${line.replace(/^.*Using engine: /, '')}`);
      if (expected === 'node') {
        t.match(
          line,
          /Using engine: node \(node:http\) \(no native uWebSockets\.js build loads here/,
          `${name}: the node engine, and why`,
        );
      } else if (expected === 'uws') {
        t.match(line, /Using engine: uws \(uWebSockets\.js 20\.(57|30)\.0/, `${name}: the uws engine and its build`);
      } else {
        t.match(
          line,
          /Using engine: (uws \(uWebSockets\.js 20\.(57|30)\.0|node \(node:http\))/,
          `${name}: an engine (QILIN_EXPECT_ENGINE unset)`,
        );
      }
    }
  });

  t.test('a fetch app', (t) => fetchChecks(t, app));

  t.test('a WebSocket through upgradeWebSocket', (t) => websocketChecks(t, sockets));

  t.test('an Express app moves qilin to the node engine', async (t) => {
    const lines = engineLines(express);
    t.equal(lines.length, 1, 'one "Using engine:" line');
    t.match(lines[0], /Using engine: node \(node:http\)/);
    const home = await within('GET /', request(express.url + '/'));
    t.same([home.status, home.body], [200, 'Hello from Express']);
    const user = await within('GET /users/7', request(express.url + '/users/7?x=y'));
    t.same(JSON.parse(user.body), { id: '7', query: { x: 'y' } }, 'a route with params, as JSON');
  });

  t.test('HUP: the workers are replaced and serve', async (t) => {
    const before = app.workerPids();
    t.equal(before.length, 1, 'one worker');
    app.signal('SIGHUP');
    const end = Date.now() + 30_000;
    let after: number[] = [];
    while (Date.now() < end) {
      after = app.workerPids();
      if (after.length === 1 && !before.includes(after[0]!)) break;
      if (/Reload failed/.test(app.output)) break; // the old worker serves on: no use waiting
      await sleep(100);
    }
    if (!t.ok(after.length === 1 && !before.includes(after[0]!), `a new worker (${before} → ${after})`)) return;
    await app.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 30_000 });
    const pid = await within('GET /pid', request(app.url + '/pid'));
    t.same([pid.status, Number(pid.body)], [200, after[0]], 'the new worker answers');
    t.equal((await within('GET /', request(app.url + '/'))).body, 'Hello, World!');
  });

  t.test('TERM: the slow request in flight is answered, then exit 0', async (t) => {
    const slow = request(app.url + '/slow?ms=2500');
    await sleep(1000); // in the worker's hands by then, even on a busy machine
    app.signal('SIGTERM');
    const r = await within('GET /slow', slow);
    t.equal(r.status, 200, 'the in-flight request completed');
    t.equal(typeof (JSON.parse(r.body) as { pid: unknown }).pid, 'number');
    t.same(await within('TERM', app.exited, 30_000), { code: 0, signal: null }, 'exit 0');
    t.same(app.workerPids(), [], 'no worker left');
  });
});

t.test('--engine node', async (t) => {
  const engine: Engine = 'node';
  const [app, sockets] = await Promise.all([
    serve(t, [fixture('app.ts')], engine),
    serve(t, [fixture('websocket-app.ts')], engine),
  ]);
  t.match(engineLines(app), [/Using engine: node \(node:http\)$/], 'the node engine, asked for');
  t.test('a fetch app', (t) => fetchChecks(t, app));
  t.test('a WebSocket through upgradeWebSocket', (t) => websocketChecks(t, sockets));
});

/**
 * What a process sees of Node's fetch globals, read as Node 22+ allow without loading undici first:
 * whether undici is loaded, then how `Request` and `fetch` are defined.
 */
const GLOBALS_PROBE = `
  const undici = process.moduleLoadList.some((m) => m.includes('undici'));
  const d = Object.getOwnPropertyDescriptor(globalThis, 'Request');
  console.log(JSON.stringify({ undici, request: String(d.get ?? 'a value'), fetch: String(globalThis.fetch) }));
`;

function probeGlobals(importFirst: string | null): unknown {
  const script = (importFirst ? `await import(${JSON.stringify(importFirst)});` : '') + GLOBALS_PROBE;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as unknown;
}

// Apps and config files import it (upgradeWebSocket, defineConfig): importing it must change nothing
// of the process's globals, nor load the platform's fetch classes (an ES import of node:http does on
// Node 22+; the light classes become globals in workers only, before the app loads).
t.test('the public entry patches no global and loads no fetch classes', (t) => {
  const bare = probeGlobals(null);
  t.match(bare, { undici: false }, 'a bare process has not loaded undici');
  t.same(probeGlobals(path.join(ROOT, 'dist/lib/index.js')), bare, 'the same after importing qilin');
  t.end();
});
