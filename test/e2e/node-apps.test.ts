// Serving Node-style apps (Express, Fastify, Koa, NestJS, a node:http Server with WebSockets, plain
// (req, res) handlers) as people write them: routes, bodies, cookies, streaming, errors, the worker
// pool, max_requests, the access log, 100-continue and graceful stop with the frameworks' own hooks.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT, fixture, loadFor, request, sleep, startQilin, type HttpResult, type Qilin } from '../helpers.js';

t.setTimeout(180_000);

/**
 * `--engine node` where a test is not about the engine: with it unset, qilin first boots a worker to
 * learn what the app is, then switches (tested where the log line is checked).
 */
const node = { engine: 'node' } as const;

const app = (name: string) => fixture(`node-apps/${name}`);

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qilin-node-apps-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

/** A request with a JSON body. */
const postJson = (url: string, body: unknown, method = 'POST'): Promise<HttpResult> =>
  request(url, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** GET `url` and note when each piece of the body arrived. */
function timedGet(
  url: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; chunks: { at: number; text: string }[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.on('data', (d: Buffer) => chunks.push({ at: Date.now(), text: d.toString() }));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, chunks }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** POST with `Expect: 100-continue`, sending the body only once the server says 100 Continue. */
function postAfterContinue(url: string, body: string): Promise<HttpResult & { continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      },
      (res) => {
        clearTimeout(timer);
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString(),
            continued,
          }),
        );
      },
    );
    // Without a 100 Continue the client would wait for ever: give up after a while.
    const timer = setTimeout(() => req.destroy(new Error('no 100 Continue and no response within 5 s')), 5000);
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

/** The most of `spans` running at one moment. */
function maxOverlap(spans: { started: number; ended: number }[]): number {
  return Math.max(...spans.map((a) => spans.filter((b) => b.started <= a.started && a.started < b.ended).length));
}

t.test('an Express app (CommonJS module.exports = app)', async (t) => {
  const q = await startQilin(t, ['-w', '1', '--access-logfile', '-', app('express-app.cjs')], {
    ...node,
    env: { NODE_ENV: 'development' },
  });
  const pid = (await request(q.url + '/pid')).body;
  t.same(q.workerPids(), [Number(pid)], '/pid answers with the worker pid');

  t.test('routes and route params', async (t) => {
    const home = await request(q.url + '/');
    t.equal(home.status, 200);
    t.equal(home.body, 'Hello from Express');
    t.equal(home.headers['content-type'], 'text/html; charset=utf-8');
    t.equal(home.headers['x-powered-by'], 'Express', "Express's own headers");
    t.equal(home.headers['content-length'], String('Hello from Express'.length));

    const user = await request(q.url + '/users/42?tab=books&tab=films');
    t.equal(user.status, 200);
    t.same(JSON.parse(user.body), { id: '42', query: { tab: ['books', 'films'] } });
    t.equal(user.headers['content-type'], 'application/json; charset=utf-8');
    t.same(
      JSON.parse((await request(q.url + '/users/7/books/b%20c')).body),
      { userId: '7', bookId: 'b c' },
      'two params, percent-decoded',
    );

    const missing = await request(q.url + '/nope');
    t.equal(missing.status, 404);
    t.match(missing.body, /Cannot GET \/nope/, "Express's own 404");
  });

  t.test('express.json() body', async (t) => {
    const r = await postJson(q.url + '/echo', { name: 'Ada', tags: ['x', 'y'], n: 1.5 });
    t.equal(r.status, 201);
    t.same(JSON.parse(r.body), {
      received: { name: 'Ada', tags: ['x', 'y'], n: 1.5 },
      contentType: 'application/json',
    });
    const big = { text: 'x'.repeat(50_000) };
    t.same(JSON.parse((await postJson(q.url + '/echo', big)).body).received, big, 'a 50 kB body arrives whole');
    const bad = await request(q.url + '/echo', {
      method: 'POST',
      body: '{"broken',
      headers: { 'content-type': 'application/json' },
    });
    t.equal(bad.status, 400, 'malformed JSON is 400 from express.json()');
  });

  t.test('a POST with Expect: 100-continue', async (t) => {
    const r = await postAfterContinue(q.url + '/echo', JSON.stringify({ after: 'continue' }));
    t.ok(r.continued, 'the server said 100 Continue before the body was sent');
    t.equal(r.status, 201);
    t.same(JSON.parse(r.body).received, { after: 'continue' });
  });

  t.test('cookies', async (t) => {
    const login = await request(q.url + '/login');
    t.equal(login.status, 200);
    t.same(
      login.headers['set-cookie'],
      ['session=abc123; Path=/; HttpOnly', 'theme=dark%20mode; Path=/'],
      'two Set-Cookie headers, kept apart',
    );
    const me = await request(q.url + '/whoami', { headers: { cookie: 'session=abc123; theme=dark%20mode' } });
    t.equal(me.status, 200);
    t.same(JSON.parse(me.body), { session: 'abc123', theme: 'dark mode' });
    t.equal((await request(q.url + '/whoami')).status, 401, 'no cookie, no session');
  });

  t.test('a response written in pieces over time', async (t) => {
    const r = await timedGet(q.url + '/stream');
    t.equal(r.status, 200);
    t.equal(r.headers['transfer-encoding'], 'chunked', 'no length known: chunked');
    const body = r.chunks.map((c) => c.text).join('');
    t.match(body, /^chunk 1 at \d+\nchunk 2 at \d+\nchunk 3 at \d+\nchunk 4 at \d+\nchunk 5 at \d+\ndone\n$/);
    t.ok(r.chunks.length >= 2, `the body came in pieces (${r.chunks.length})`);
    // Each line carries the time the app wrote it: the first piece must arrive before the last write.
    const lastWrite = Number(/chunk 5 at (\d+)/.exec(body)?.[1]);
    t.ok(
      r.chunks[0]!.at < lastWrite,
      `the first piece arrived ${lastWrite - r.chunks[0]!.at} ms before the app wrote the last (not buffered to the end)`,
    );
  });

  t.test("a route that throws: Express's own 500, the worker stays", async (t) => {
    const r = await request(q.url + '/throw');
    t.equal(r.status, 500);
    t.match(r.body, /Error: thrown in an Express route/, "Express's error page (development) answered");
    t.equal((await request(q.url + '/pid')).body, pid);
  });

  t.test("an error that escapes Express (thrown from a timer): qilin's 500, the worker stays", async (t) => {
    if (Number(process.versions.node.split('.')[0]) < 24) {
      // Below Node 24 the worker learns from the first such error to track each request's async context.
      const first = await Promise.race([
        request(q.url + '/escape').then(() => 'answered'),
        sleep(1000).then(() => 'no answer'),
      ]);
      t.equal(first, 'no answer', 'the first error: its request is not known yet');
      await q.waitFor(
        /Uncaught exception in the app[^]*Error: boom[^]*from now on this worker runs each request in its async context/,
      );
      t.equal((await request(q.url + '/pid')).body, pid, 'the worker serves on');
    }
    const r = await request(q.url + '/escape');
    t.equal(r.status, 500);
    t.match(r.body, /Internal Server Error/);
    t.notMatch(r.body, /boom/, 'the error page does not show the error');
    await q.waitFor(/Error handling request[^\n]*\/escape[^]*Error: boom/);
    t.pass('the stack is in the error log');
    const again = await request(q.url + '/pid');
    t.equal(again.status, 200, 'the next request is served');
    t.equal(again.body, pid, 'by the same worker');
    t.same(q.workerPids(), [Number(pid)], 'no worker was replaced');
    t.equal((await request(q.url + '/users/1')).status, 200);
  });

  t.test('access log lines with status and body bytes', async (t) => {
    const r = await request(q.url + '/users/99?x=1', { headers: { 'user-agent': 'node-apps-test' } });
    const bytes = Buffer.byteLength(r.body);
    await q.waitFor(
      new RegExp(
        `^127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "GET /users/99\\?x=1 HTTP/1\\.1" 200 ${bytes} "-" "node-apps-test"$`,
        'm',
      ),
    );
    t.pass(`GET /users/99 logged with 200 ${bytes}`);
    const s = await request(q.url + '/stream');
    await q.waitFor(new RegExp(`"GET /stream HTTP/1\\.1" 200 ${Buffer.byteLength(s.body)} `));
    t.pass('a streamed response is logged with the bytes written');
    await q.waitFor(/"GET \/escape HTTP\/1\.1" 500 \d+ /);
    t.pass("qilin's 500 is logged");
    await q.waitFor(/"POST \/echo HTTP\/1\.1" 201 \d+ /);
    t.pass('POST logged');
  });

  t.test('TERM with a slow request in flight: it completes, idle keep-alive gets close, exit 0', async (t) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const viaAgent = () =>
      new Promise<HttpResult & { reused: boolean }>((resolve, reject) => {
        const req = http.get(q.url + '/pid', { agent }, (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              body,
              reused: req.reusedSocket,
            }),
          );
        });
        req.on('error', reject);
      });
    const first = await viaAgent();
    t.not(first.headers.connection, 'close', 'a keep-alive connection, idle now');

    const started = Date.now();
    const slow = request(q.url + '/slow?ms=1000');
    await sleep(300);
    q.signal('SIGTERM');
    await sleep(200);
    const onIdle = await viaAgent();
    t.ok(onIdle.reused, 'sent on the connection that was idle when TERM came');
    t.equal(onIdle.status, 200, 'and still answered');
    t.equal(onIdle.headers.connection, 'close', 'with Connection: close');
    const r = await slow;
    t.equal(r.status, 200, 'the in-flight request completed');
    t.equal(JSON.parse(r.body).pid, Number(pid));
    t.ok(Date.now() - started >= 950, 'after its full second');
    const exit = await q.exited;
    t.same(exit, { code: 0, signal: null }, 'the arbiter exits 0');
  });
});

t.test('an Express app (ES module export default app) with --worker-connections 2', async (t) => {
  const q = await startQilin(t, ['-w', '1', '--worker-connections', '2', app('express-app.mjs')], node);
  const r = await request(q.url + '/posts/hello-world?page=3');
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { slug: 'hello-world', page: 3 });
  const put = await postJson(q.url + '/posts/draft', { title: 'Draft', published: false }, 'PUT');
  t.same(JSON.parse(put.body), { slug: 'draft', title: 'Draft', published: false });
  t.equal((await request(q.url + '/')).body, 'Hello from Express (ESM)');

  // The pool bounds Node-style requests too: at most 2 at once, the others wait their turn.
  const started = Date.now();
  const rs = await Promise.all(Array.from({ length: 6 }, () => request(q.url + '/slow?ms=300')));
  const took = Date.now() - started;
  t.same(
    rs.map((r) => r.status),
    [200, 200, 200, 200, 200, 200],
    'all answered 200',
  );
  t.ok(took >= 850, `6 requests of 300 ms, 2 at a time: three waves (${took} ms)`);
  t.ok(took < 5000, `and not much more (${took} ms)`);
  const spans = rs.map((r) => JSON.parse(r.body) as { started: number; ended: number });
  t.equal(maxOverlap(spans), 2, 'never more than 2 running at once, and 2 did run together');
});

t.test('max_requests under load: workers replaced, no request lost', async (t) => {
  const q = await startQilin(t, ['-w', '2', '--max-requests', '50', app('express-app.cjs')], node);
  // A retiring worker serves on until its replacement has booted, so rotations come a boot apart:
  // load goes on in 3 s rounds (at most 5) until two have begun, however slow boots are here.
  const r = { ok: 0, failed: 0, errors: [] as string[] };
  for (let round = 0; round < 5 && (round === 0 || count(q.output, /Autorestarting worker/) < 2); round++) {
    const more = await loadFor(q.url + '/', { connections: 4, durationMs: 3000 });
    r.ok += more.ok;
    r.failed += more.failed;
    r.errors.push(...more.errors);
  }
  t.equal(r.failed, 0, `no failed requests (${r.errors.slice(0, 5).join('; ')})`);
  t.ok(r.ok > 100, `${r.ok} requests served`);
  const restarts = count(q.output, /Autorestarting worker/);
  t.ok(restarts >= 2, `workers were replaced (${restarts} Autorestarting worker)`);
  t.equal((await request(q.url + '/')).body, 'Hello from Express');
});

t.test('a Fastify app: ready() before the first request, close() hooks on TERM', async (t) => {
  const dir = tempDir(t, 'fastify');
  const marker = path.join(dir, 'closed');
  const q = await startQilin(t, ['-e', `FASTIFY_CLOSED_MARKER=${marker}`, app('fastify-app.mjs')]);
  t.match(q.output, /Using engine: node \(node:http\) \(.*fastify-app\.mjs is a Fastify app, a Node-style app\)/);

  // The very first request: a route a plugin registers after an asynchronous setup.
  const first = await request(q.url + '/api/db/status');
  t.equal(first.status, 200, 'the plugin route exists on the first request');
  t.equal(JSON.parse(first.body).connected, true);
  t.match(first.headers['content-type'], /^application\/json/);

  const pid = (await request(q.url + '/pid')).body;
  t.same(JSON.parse((await request(q.url + '/')).body), { hello: 'fastify' });
  t.same(JSON.parse((await request(q.url + '/items/abc?verbose=1')).body), { id: 'abc', verbose: true });
  const created = await postJson(q.url + '/items', { name: 'lamp', price: 12 });
  t.equal(created.status, 201);
  t.same(JSON.parse(created.body), { created: { name: 'lamp', price: 12 } });
  const bad = await request(q.url + '/items', {
    method: 'POST',
    body: '{nope',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(bad.status, 400, "Fastify's own 400 for a bad JSON body");
  const missing = await request(q.url + '/missing');
  t.equal(missing.status, 404);
  t.match(JSON.parse(missing.body).message, /Route GET:\/missing not found/, "Fastify's own 404");

  t.notOk(existsSync(marker), 'onClose has not run while serving');
  const exit = await q.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'exit 0');
  t.ok(existsSync(marker), 'the onClose hook ran on graceful stop');
  t.equal(existsSync(marker) && readFileSync(marker, 'utf8'), `closed by ${pid}\n`, 'in the worker');
});

t.test('a Koa app with @koa/router', async (t) => {
  const q = await startQilin(t, [app('koa-app.mjs')]);
  t.match(q.output, /Using engine: node .*koa-app\.mjs is a Koa app, a Node-style app/);
  const pid = (await request(q.url + '/pid')).body;
  const home = await request(q.url + '/');
  t.equal(home.body, 'Hello from Koa');
  t.equal(home.headers['content-type'], 'text/plain; charset=utf-8');
  t.same(JSON.parse((await request(q.url + '/users/5?sort=name')).body), { id: '5', sort: 'name' });

  const created = await postJson(q.url + '/users', { name: 'grace', admin: true });
  t.equal(created.status, 201);
  t.equal(created.headers.location, '/users/grace');
  t.same(JSON.parse(created.body), { created: { name: 'grace', admin: true } });

  const first = await request(q.url + '/visit');
  t.same(JSON.parse(first.body), { visits: 1 });
  t.same(first.headers['set-cookie'], ['visits=1; path=/; httponly']);
  const again = await request(q.url + '/visit', { headers: { cookie: 'visits=4' } });
  t.same(JSON.parse(again.body), { visits: 5 }, 'ctx.cookies reads the Cookie header');

  const wrong = await request(q.url + '/users/5', { method: 'DELETE' });
  t.equal(wrong.status, 405, 'allowedMethods() answers 405');
  t.equal(wrong.headers.allow, 'HEAD, GET');

  const thrown = await request(q.url + '/throw');
  t.equal(thrown.status, 500);
  t.equal(thrown.body, 'Internal Server Error', "Koa's own 500");
  await q.waitFor(/thrown in a Koa route/);
  t.equal((await request(q.url + '/pid')).body, pid, 'the same worker serves on');
});

t.test('a NestJS app compiled from TypeScript, served through its factory', async (t) => {
  const out = tempDir(t, 'nest');
  // The compiler is no part of what is tested: it runs without the test runner's process hooks.
  execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', app('nest'), '--outDir', out], {
    stdio: 'pipe',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  writeFileSync(path.join(out, 'package.json'), '{"type":"commonjs"}\n');
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  const marker = path.join(out, 'shutdown');

  const q = await startQilin(t, ['-e', `NEST_SHUTDOWN_MARKER=${marker}`, `${path.join(out, 'main.js')}:createApp()`]);
  t.match(q.output, /Using engine: node .*a NestJS app, a Node-style app/);
  const pid = (await request(q.url + '/items/pid')).body;
  t.same(q.workerPids(), [Number(pid)]);

  const one = await request(q.url + '/items/1');
  t.equal(one.status, 200);
  t.same(JSON.parse(one.body), { id: '1', name: 'first' });
  t.match(one.headers['content-type'], /^application\/json/);

  const missing = await request(q.url + '/items/404');
  t.equal(missing.status, 404);
  t.same(
    JSON.parse(missing.body),
    { message: 'No item 404', error: 'Not Found', statusCode: 404 },
    "Nest's exception filter answered",
  );

  const created = await postJson(q.url + '/items', { name: 'second' });
  t.equal(created.status, 201);
  t.same(JSON.parse(created.body), { id: '2', name: 'second' });
  t.same(
    JSON.parse((await request(q.url + '/items')).body),
    [
      { id: '1', name: 'first' },
      { id: '2', name: 'second' },
    ],
    'state kept in the worker',
  );

  t.notOk(existsSync(marker));
  t.same(await q.stop('SIGTERM'), { code: 0, signal: null }, 'exit 0');
  t.ok(existsSync(marker), 'the shutdown hooks ran on graceful stop');
  t.match(
    existsSync(marker) ? readFileSync(marker, 'utf8') : '',
    new RegExp(`^onModuleDestroy onApplicationShutdown\\(.*\\) in ${pid}\\n$`),
    'both hooks, in order, in the worker',
  );
});

/** The `ws` client (the package ships no types). */
interface WsClient {
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'open' | 'close', fn: () => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  send(data: string | Buffer): void;
  close(): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string) => WsClient };

t.test('an http.Server export: its request listener, and ws upgrades on it', async (t) => {
  const q = await startQilin(t, ['-w', '1', app('ws-server.mjs')]);
  t.match(q.output, /Using engine: node .*ws-server\.mjs is an? [^,]*[Ss]erver, a Node-style app/);
  const r = await request(q.url + '/hello?x=1', { method: 'PATCH' });
  t.equal(r.status, 200);
  t.equal(r.body, 'http PATCH /hello?x=1');

  const ws = new WebSocket(`ws://127.0.0.1:${q.port}/ws?name=tap`);
  t.teardown(() => ws.close());
  const messages: { text: string; binary: boolean }[] = [];
  const waitMessages = async (n: number) => {
    const end = Date.now() + 5000;
    while (messages.length < n && Date.now() < end) await sleep(10);
  };
  ws.on('message', (data, binary) => messages.push({ text: binary ? data.toString('hex') : data.toString(), binary }));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  await waitMessages(1);
  ws.send('hello');
  await waitMessages(2);
  ws.send(Buffer.from([1, 2, 255]));
  await waitMessages(3);
  t.same(
    messages,
    [
      { text: 'welcome tap', binary: false },
      { text: 'echo: hello', binary: false },
      { text: '0102ff', binary: true },
    ],
    'the WebSocket handshake, a text and a binary echo through qilin',
  );

  const pid = (await request(q.url + '/pid')).body;
  t.same(q.workerPids(), [Number(pid)], 'HTTP requests still served while the WebSocket is open');
});

t.test('plain (req, res) handlers', async (t) => {
  // Small servers, started together.
  const [plain, asNode, asAuto, mistaken] = (await Promise.all([
    startQilin(t, [app('handler.mjs')]),
    startQilin(t, ['--app-interface', 'node', `${app('handler.mjs')}:either`], node),
    startQilin(t, [`${app('handler.mjs')}:either`]),
    startQilin(t, [`${app('handler.mjs')}:fetchWithDb`], node),
  ])) as Qilin[];

  t.test('an async 2-parameter default export is Node-style under auto', async (t) => {
    t.match(plain!.output, /Using engine: node .*handler\.mjs is a function \(req, res\), a Node-style app/);
    const pid = (await request(plain!.url + '/pid')).body;
    t.same(plain!.workerPids(), [Number(pid)]);
    const echo = await request(plain!.url + '/echo', {
      method: 'POST',
      body: 'raw bytes',
      headers: { 'content-type': 'text/x-test' },
    });
    t.equal(echo.body, 'raw bytes');
    t.equal(echo.headers['content-type'], 'text/x-test');
    const h = await request(plain!.url + '/headers?q=1');
    t.same(
      JSON.parse(h.body),
      { method: 'GET', url: '/headers?q=1', httpVersion: '1.1', host: `127.0.0.1:${plain!.port}` },
      'a real IncomingMessage',
    );
    t.same(h.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    t.equal(h.headers['x-powered-by'], 'plain node');
    t.equal((await request(plain!.url + '/other')).status, 404);

    // The handler's promise rejects before anything was sent.
    const r = await request(plain!.url + '/reject');
    t.equal(r.status, 500);
    t.match(r.body, /Internal Server Error/);
    await plain!.waitFor(/Error handling request[^\n]*\/reject[^]*rejected in an async handler/);
    t.pass('the rejection is in the error log');
    t.equal((await request(plain!.url + '/pid')).body, pid, 'the same worker serves on');
  });

  t.test('app_interface: a 1-parameter function is fetch-style under auto, Node-style with node', async (t) => {
    t.equal((await request(asNode!.url + '/')).body, 'called as (req, res)');
    t.equal((await request(asAuto!.url + '/')).body, 'called as fetch(request)');
  });

  t.test(
    'a fetch handler with two parameters, taken as Node-style, returns a Response: 500 naming app_interface',
    async (t) => {
      const pid = mistaken!.workerPids()[0];
      const r = await request(mistaken!.url + '/');
      t.equal(r.status, 500);
      await mistaken!.waitFor(/returned a Response[^\n]*set app_interface = fetch/);
      t.pass('the error log points at app_interface');
      t.same(mistaken!.workerPids(), [pid], 'same worker');
    },
  );
});
