// Fetch apps as people write them (Hono middleware and proxies, GraphQL Yoga, hand-written event
// streams, serveStatic, Response-like objects), served on each engine and held to what
// @hono/node-server and Node's own Request/Response do with the same code.
//
// Node's own classes are taken before anything can replace them: @hono/node-server's serve() puts
// its own Request/Response on the global of the process it runs in (this one, for the reference).
const NodeRequest = globalThis.Request;
const NodeResponse = globalThis.Response;

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { serve } from '@hono/node-server';
import t from 'tap';
import { ENGINES, fixture, parseResponses, rawExchange, sleep, startQilin, type Qilin } from '../helpers.js';

t.setTimeout(180_000);

const app = (name: string) => fixture(`fetch-apps/${name}`);

// ---------------------------------------------------------------------------------------------
// An upstream origin (node:http) the apps forward to, and a directory of files to serve.

/** A 200 KB file with every byte value, so any lost or moved byte shows. */
const FILE = Buffer.alloc(200 * 1024);
for (let i = 0; i < FILE.length; i++) FILE[i] = (i * 7 + (i >> 8)) & 0xff;
/** What the upstream's /file sends, with its own Content-Length (and, as node:http does, a Date). */
const UPSTREAM_FILE = Buffer.from('upstream file body '.repeat(3000));

const upstream = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/file') {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': String(UPSTREAM_FILE.length),
        'x-upstream': 'yes',
      });
      res.end(UPSTREAM_FILE);
      return;
    }
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
const staticRoot = mkdtempSync(path.join(os.tmpdir(), 'qilin-fetch-apps-'));
writeFileSync(path.join(staticRoot, 'data.bin'), FILE);
// Read by the fixtures, in the qilin workers (inherited) and in this process (the reference).
process.env.UPSTREAM = upstreamUrl;
process.env.STATIC_ROOT = staticRoot;
t.teardown(() => {
  upstream.closeAllConnections();
  upstream.close();
  rmSync(staticRoot, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The reference: the same app served by @hono/node-server in this process.

type FetchLike = (request: Request, env?: unknown) => Response | Promise<Response>;

async function reference(name: string): Promise<string> {
  const mod = (await import(app(name))) as { default: FetchLike | { fetch: FetchLike } };
  const exported = mod.default;
  const fetch: FetchLike =
    typeof (exported as { fetch?: unknown }).fetch === 'function'
      ? (r, env) => (exported as { fetch: FetchLike }).fetch(r, env)
      : (exported as FetchLike);
  const server = await new Promise<http.Server>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as http.Server)) as http.Server;
  });
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ref = {
  forwarding: await reference('forwarding.ts'),
  yoga: await reference('yoga.ts'),
  handwritten: await reference('handwritten.ts'),
  files: await reference('files.ts'),
};

// ---------------------------------------------------------------------------------------------
// Clients.

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The body arrived whole, as framed; false: the connection was cut (or the request failed). */
  complete: boolean;
  error: string | null;
}

/** One request with node:http on a fresh connection; never rejects (a cut shows as `complete: false`). */
function get(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Got> {
  return new Promise((resolve) => {
    const out: Got = { status: 0, headers: {}, rawHeaders: [], body: Buffer.alloc(0), complete: false, error: null };
    const chunks: Buffer[] = [];
    const finish = (err: Error | null) => {
      if (err && out.error === null) out.error = err.message;
      out.body = Buffer.concat(chunks);
      resolve(out);
    };
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      out.status = res.statusCode!;
      out.headers = res.headers;
      out.rawHeaders = res.rawHeaders;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        out.complete = res.complete;
        finish(null);
      });
      res.on('error', finish);
      res.on('aborted', () => finish(new Error('aborted')));
    });
    req.on('error', finish);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(opts.body);
  });
}

/** A request as raw bytes (`Connection: close`): everything the server wrote, until it closed. */
async function raw(
  port: number,
  target: string,
  method = 'GET',
  extra = '',
): Promise<{ text: string; closed: boolean }> {
  return rawExchange(
    port,
    `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`,
    5000,
  );
}

/** The header lines of a raw response (names lower case), in order. */
function headLines(text: string): [string, string][] {
  const end = text.indexOf('\r\n\r\n');
  return text
    .slice(0, end < 0 ? text.length : end)
    .split('\r\n')
    .slice(1)
    .map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
    });
}

const bodyAfterHead = (text: string) => {
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? '' : text.slice(end + 4);
};

/** JSON from a body, or null (an error page, say): the assertion that uses it then fails, not the test. */
function parsed(body: Buffer): Record<string, unknown> | null {
  try {
    return JSON.parse(body.toString()) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The name of the error `fn` throws or rejects with, or 'ok' (as handwritten.ts reports it). */
async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return (err as Error).name;
  }
}

/** The error log names `route` (within a few seconds of the request). */
async function logged(q: Qilin, route: string): Promise<boolean> {
  try {
    await q.waitFor(new RegExp(`rror[^\\n]*${route.replace(/[/.?]/g, '\\$&')}(?![\\w-])`), { timeout: 2000 });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test(
      '1. a request re-wrapped with new Request() or forwarded with fetch() keeps method, headers and body',
      async (t) => {
        const q = await startQilin(t, [app('forwarding.ts')], { engine });
        for (const [route, method] of [
          ['/rewrite/echo', 'GET'],
          ['/rewrite/echo', 'POST'],
          ['/copy', 'GET'],
          ['/copy', 'POST'],
          ['/internal', 'POST'],
        ] as const) {
          const opts = {
            method,
            headers: { 'x-test': 'kept', 'x-drop': 'gone', 'content-type': 'text/plain' },
            body: method === 'POST' ? 'payload bytes' : undefined,
          };
          const [ours, theirs] = [await get(q.url + route, opts), await get(ref.forwarding + route, opts)];
          t.equal(theirs.status, 200, `${method} ${route}: the reference answers`);
          t.equal(
            ours.status,
            theirs.status,
            `${method} ${route}: status as the reference (${ours.body.toString().slice(0, 80)})`,
          );
          if (ours.status !== 200) continue;
          t.same(
            JSON.parse(ours.body.toString()),
            JSON.parse(theirs.body.toString()),
            `${method} ${route}: the app saw what the reference's app saw`,
          );
        }
        const echoed = parsed(
          (
            await get(q.url + '/rewrite/echo', {
              method: 'POST',
              headers: { 'x-drop': 'gone' },
              body: 'after the re-wrap',
            })
          ).body,
        );
        t.same(
          echoed,
          { method: 'POST', path: '/rewrite/echo', user: 'alice', drop: null, test: null, body: 'after the re-wrap' },
          'the rewritten header, the dropped header and the body read after the re-wrap',
        );

        for (const method of ['GET', 'POST', 'PUT']) {
          const opts = {
            method,
            headers: { 'x-test': 'to-upstream' },
            body: method === 'GET' ? undefined : `${method} body`,
          };
          const r = await get(`${q.url}/forward/some/where?q=1`, opts);
          t.equal(
            r.status,
            200,
            `fetch() of the request: ${method} reaches the upstream (${r.body.toString().slice(0, 80)})`,
          );
          if (r.status !== 200) continue;
          const seen = (parsed(r.body) ?? {}) as {
            method: string;
            url: string;
            headers: Record<string, string>;
            body: string;
          };
          t.equal(seen.method, method, `${method}: the upstream sees the method`);
          t.equal(seen.url, '/forward/some/where?q=1', `${method}: and the path`);
          t.equal(seen.headers['x-test'], 'to-upstream', `${method}: and the headers`);
          t.equal(seen.body, method === 'GET' ? '' : `${method} body`, `${method}: and the body`);
        }
        // fetch(request) itself: the client names the upstream in Host, as to a forward proxy. Held to
        // what Node's own Request does: @hono/node-server 2.1.8 fails it (its Request, given to Node's
        // fetch, throws the same `reading 'window'` TypeError).
        for (const method of ['GET', 'POST']) {
          const opts = {
            method,
            headers: { host: new URL(upstreamUrl).host, 'x-test': 'as-is' },
            body: method === 'GET' ? undefined : 'as-is body',
          };
          const ours = await get(`${q.url}/as-is/path?x=2`, opts);
          t.equal(
            ours.status,
            200,
            `fetch(request), ${method}: reaches the upstream (${ours.body.toString().slice(0, 80)})`,
          );
          const seen = (parsed(ours.body) ?? {}) as {
            method: string;
            url: string;
            headers: Record<string, string>;
            body: string;
          };
          t.same(
            [seen.method, seen.url, seen.headers?.['x-test'], seen.body],
            [method, '/as-is/path?x=2', 'as-is', method === 'GET' ? '' : 'as-is body'],
            `fetch(request), ${method}: the upstream sees the method, path, headers and body`,
          );
        }
      },
    );

    t.test('2. GraphQL Yoga and Response-like objects are served as @hono/node-server serves them', async (t) => {
      const q = await startQilin(t, [app('yoga.ts')], { engine });
      const cases: [string, string, Parameters<typeof get>[1]][] = [
        [
          'GET query',
          '/graphql?query=' + encodeURIComponent('{ hello(name: "qilin") numbers }'),
          { headers: { accept: 'application/json' } },
        ],
        [
          'POST query',
          '/graphql',
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ query: 'query Q($n: String) { hello(name: $n) }', variables: { n: 'POST' } }),
          },
        ],
        ['GraphiQL page', '/graphql', { headers: { accept: 'text/html' } }],
      ];
      for (const [what, target, opts] of cases) {
        const [ours, theirs] = [await get(q.url + target, opts), await get(ref.yoga + target, opts)];
        t.equal(theirs.status, 200, `${what}: the reference answers 200`);
        t.equal(ours.status, theirs.status, `${what}: status as the reference (${ours.body.toString().slice(0, 80)})`);
        t.equal(ours.headers['content-type'], theirs.headers['content-type'], `${what}: content-type as the reference`);
        t.equal(ours.body.toString(), theirs.body.toString(), `${what}: the same body`);
      }
      t.match(
        (await get(q.url + '/graphql?query=%7Bhello%7D')).body.toString(),
        '{"data":{"hello":"Hello, World!"}}',
        'the query is answered',
      );

      const h = await startQilin(t, [app('handwritten.ts')], { engine });
      const [ours, theirs] = [await get(h.url + '/duck'), await get(ref.handwritten + '/duck')];
      t.equal(theirs.status, 201, 'the reference accepts a Response-like object');
      t.equal(ours.status, 201, `a Response-like object: its status (${ours.body.toString().slice(0, 80)})`);
      t.equal(ours.headers['x-duck'], 'yes', 'its headers');
      t.equal(ours.body.toString(), 'quack, quack', 'its body stream');
      t.equal(ours.body.toString(), theirs.body.toString(), 'the same body as the reference');
    });

    t.test(
      '3. stream chunks of strings, ArrayBuffers and Uint8Arrays all reach the client; other chunks fail loudly',
      async (t) => {
        const q = await startQilin(t, [app('handwritten.ts')], { engine });
        // @hono/node-server itself cuts a stream of ArrayBuffers (it writes each chunk to node:http as
        // it is): that route is held to its bytes, not to the reference.
        const expected: Record<string, string> = {
          '/sse': 'retry: 1000\n\nevent: tick\ndata: 1\n\nevent: tick\ndata: 2\n\nevent: tick\ndata: 3\n\n',
          '/arraybuffer': 'alpha,beta,gamma',
          '/uint8': 'alpha,beta,gamma',
        };
        for (const [route, bytes] of Object.entries(expected)) {
          const ours = await get(q.url + route);
          t.equal(ours.status, 200, `${route}: 200`);
          t.ok(ours.complete, `${route}: the body arrives whole (${ours.error ?? 'ok'})`);
          t.equal(ours.body.toString('latin1'), bytes, `${route}: every byte`);
          if (route === '/arraybuffer') continue;
          const theirs = await get(ref.handwritten + route);
          t.equal(theirs.body.toString('latin1'), bytes, `${route}: the reference sends the same bytes`);
          t.equal(
            ours.headers['content-type'],
            theirs.headers['content-type'],
            `${route}: content-type as the reference`,
          );
          t.equal(
            ours.headers['cache-control'],
            theirs.headers['cache-control'],
            `${route}: cache-control as the reference`,
          );
        }

        for (const route of ['/number', '/object', '/late-number']) {
          const r = await get(q.url + route);
          const failed = r.status === 500 || !r.complete;
          t.ok(
            failed,
            `${route}: a 500 or a cut connection, never a whole ${r.status} (got ${r.status}, ${r.complete ? 'complete' : 'cut'}, ${JSON.stringify(r.body.toString().slice(0, 40))})`,
          );
          if (route !== '/late-number') t.equal(r.status, 500, `${route}: nothing was sent yet: 500`);
          t.ok(await logged(q, route), `${route}: the error log names the request`);
        }
        t.equal((await get(q.url + '/')).body.toString(), 'ok', 'the worker serves on');
      },
    );

    t.test('4. Response.error() is a 500, logged, and the worker serves on', async (t) => {
      const q = await startQilin(t, [app('handwritten.ts')], { engine });
      const r = await get(q.url + '/response-error');
      t.equal(r.status, 500, `500 (got ${r.status} ${r.error ?? ''})`);
      t.match(r.body.toString(), /Internal Server Error/, 'the error page');
      t.ok(await logged(q, '/response-error'), 'logged');
      t.equal((await get(q.url + '/')).body.toString(), 'ok', 'the next request is served');
    });

    t.test(
      '5. a Response with invalid headers throws in the handler: 500, logged, never a cut or a forged header',
      async (t) => {
        const q = await startQilin(t, [app('handwritten.ts')], { engine });
        // What Node's own class does with the same headers.
        t.throws(() => new NodeResponse('x', { headers: { 'bad name': 'v' } }), TypeError);
        t.throws(() => new NodeResponse('x', { headers: { 'x-injected': 'a\r\nset-cookie: evil=1' } }), TypeError);
        t.throws(() => new NodeResponse('x', { headers: [['only-one']] as unknown as HeadersInit }), TypeError);
        for (const route of ['/bad-name', '/bad-value', '/one-pair']) {
          const r = await raw(q.port, route);
          const [res] = parseResponses(r.text);
          t.equal(res?.status, 500, `${route}: 500 (got ${JSON.stringify(r.text.slice(0, 60))})`);
          t.match(res?.body ?? '', /Internal Server Error/, `${route}: the error page, whole`);
          t.notMatch(r.text, /only-one|undefined|evil=1|bad name/i, `${route}: nothing of the bad headers on the wire`);
          t.ok(await logged(q, route), `${route}: logged`);
        }
      },
    );

    t.test("6. a body read once stays used, as with Node's own Request and Response", async (t) => {
      const q = await startQilin(t, [app('handwritten.ts')], { engine });
      const nodeReq = new NodeRequest('http://127.0.0.1/request-used', { method: 'POST', body: 'payload' });
      const first = await nodeReq.text();
      const expectedReq = {
        first,
        cache: await outcome(() => nodeReq.cache),
        credentials: await outcome(() => nodeReq.credentials),
        bodyUsed: nodeReq.bodyUsed,
        second: await outcome(() => nodeReq.text()),
      };
      t.same(
        expectedReq,
        { first: 'payload', cache: 'ok', credentials: 'ok', bodyUsed: true, second: 'TypeError' },
        "Node's Request",
      );
      const r = await get(q.url + '/request-used', { method: 'POST', body: 'payload' });
      t.equal(r.status, 200, `request: answered (${r.body.toString().slice(0, 80)})`);
      if (r.status === 200)
        t.same(
          parsed(r.body),
          expectedReq,
          'request: text(), then cache and credentials: still used, a second text() rejects',
        );

      const nodeRes = new NodeResponse('hello', { headers: { 'x-made': 'here' } });
      const text = await nodeRes.text();
      const expectedRes = {
        text,
        bodyUsed: nodeRes.bodyUsed,
        clone: await outcome(() => nodeRes.clone()),
        again: await outcome(() => nodeRes.text()),
      };
      t.same(expectedRes, { text: 'hello', bodyUsed: true, clone: 'TypeError', again: 'TypeError' }, "Node's Response");
      const s = await get(q.url + '/response-used');
      t.same(parsed(s.body), expectedRes, 'response: after text(), clone() and a second text() throw TypeError');

      const returned = await get(q.url + '/response-used-returned');
      t.equal(
        returned.status,
        500,
        `a response whose body was read, returned: 500 (got ${returned.status} ${JSON.stringify(returned.body.toString().slice(0, 40))})`,
      );
      t.notMatch(returned.body.toString(), /hello/, 'not the body that was read');
      t.ok(await logged(q, '/response-used-returned'), 'logged');
    });

    t.test(
      '7. a streamed body keeps the Content-Length the app set, and a stream that breaks it cuts the connection',
      async (t) => {
        const q = await startQilin(t, [app('files.ts')], { engine });
        const cases: [string, string, string][] = [
          ['serveStatic', '/static/data.bin', ''],
          ['serveStatic, a range', '/static/data.bin', 'Range: bytes=1000-70999\r\n'],
          ['fetch() of an upstream', '/upstream/file', ''],
        ];
        for (const [what, target, extra] of cases) {
          const r = await raw(q.port, target, 'GET', extra);
          const lines = headLines(r.text);
          const [res] = parseResponses(r.text);
          const refRes = await get(ref.files + target, { headers: extra ? { range: extra.slice(7).trim() } : {} });
          t.equal(res?.status, refRes.status, `${what}: status ${refRes.status}`);
          t.same(
            lines.filter(([k]) => k === 'content-length').map(([, v]) => v),
            [String(refRes.headers['content-length'])],
            `${what}: one Content-Length, the app's (${refRes.headers['content-length']})`,
          );
          t.notOk(
            lines.some(([k]) => k === 'transfer-encoding'),
            `${what}: no Transfer-Encoding`,
          );
          t.ok(Buffer.from(bodyAfterHead(r.text), 'latin1').equals(refRes.body), `${what}: the bytes, exactly`);
          if (what.includes('range'))
            t.equal(
              lines.find(([k]) => k === 'content-range')?.[1],
              'bytes 1000-70999/204800',
              `${what}: Content-Range`,
            );
        }

        const h = await startQilin(t, [app('handwritten.ts')], { engine });
        for (const [route, declared, sent] of [
          ['/short', 10, 5],
          ['/long', 5, 10],
        ] as const) {
          const r = await get(h.url + route);
          t.ok(
            r.status === 500 || !r.complete,
            `${route}: declares ${declared}, sends ${sent}: the client sees no whole response (got ${r.status}, ${r.complete ? 'complete' : 'cut'}, ${r.body.length} bytes)`,
          );
          // Keep-alive asked for: only the server's cut closes the connection.
          const w = await rawExchange(h.port, `GET ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 2000);
          t.notOk(
            headLines(w.text).some(([k]) => k === 'transfer-encoding'),
            `${route}: not re-framed as chunked`,
          );
          t.ok(
            bodyAfterHead(w.text).length <= declared || w.text.startsWith('HTTP/1.1 500'),
            `${route}: never more than the ${declared} bytes declared`,
          );
          t.ok(w.closed, `${route}: the server closes the connection`);
          t.ok(await logged(h, route), `${route}: logged`);
        }
      },
    );

    t.test('8. a response passed through from an upstream carries one Date header', async (t) => {
      const q = await startQilin(t, [app('files.ts')], { engine });
      const r = await raw(q.port, '/upstream/file');
      const dates = headLines(r.text).filter(([k]) => k === 'date');
      t.equal(dates.length, 1, `one Date header (got ${JSON.stringify(dates)})`);
      t.equal(parseResponses(r.text)[0]?.headers['x-upstream'], 'yes', "the upstream's response");
    });

    t.test(
      '9. HEAD to a route that throws: a 500 head with no body bytes, and the connection serves the next request',
      async (t) => {
        const q = await startQilin(t, [app('handwritten.ts')], { engine });
        const sock = net.connect(q.port, '127.0.0.1');
        t.teardown(() => {
          sock.destroy();
        });
        let text = '';
        let closed = false;
        sock.on('data', (d) => {
          text += d.toString('latin1');
        });
        sock.on('error', () => {});
        sock.on('close', () => {
          closed = true;
        });
        sock.write('HEAD /throw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        for (let i = 0; i < 100 && !text.includes('\r\n\r\n') && !closed; i++) await sleep(20);
        await sleep(300); // any body bytes would be here by now
        t.match(text, /^HTTP\/1\.1 500 /, 'a 500');
        t.equal(bodyAfterHead(text), '', `no body bytes after the head (got ${bodyAfterHead(text).length})`);
        t.ok(await logged(q, '/throw'), 'logged');
        t.notOk(closed, 'the connection stays open');
        const before = text.length;
        sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
        for (let i = 0; i < 100 && !closed; i++) await sleep(20);
        const [next] = parseResponses(text.slice(before));
        t.equal(next?.status, 200, 'the next request on the connection: 200');
        t.equal(next?.body, 'ok', 'and its body');
      },
    );

    t.test(
      '10. a Request or Response looks like one to inspect(), JSON.stringify(), Object.keys() and toString()',
      async (t) => {
        const q = await startQilin(t, [app('handwritten.ts')], { engine });
        const url = `${q.url}/inspect-request`;
        const nodeReq = new NodeRequest(url, { headers: { 'x-look': 'here' } });
        const nodeRes = new NodeResponse('hi', { status: 201, headers: { 'x-made': 'here' } });

        const r = (parsed((await get(url, { headers: { 'x-look': 'here' } })).body) ?? {}) as Record<string, string>;
        t.equal(r.json, JSON.stringify(nodeReq), `request: JSON.stringify as Node's (${JSON.stringify(nodeReq)})`);
        t.same(r.keys, Object.keys(nodeReq), "request: Object.keys as Node's");
        t.equal(r.tag, Object.prototype.toString.call(nodeReq), 'request: [object Request]');
        t.match(r.inspect, /method: 'GET'/, 'request: inspect shows the method');
        t.ok(String(r.inspect).includes(`url: '${url}'`), 'request: and the url');
        t.match(r.inspect, /'x-look'.*'here'|x-look.*here/s, 'request: and the headers');
        t.notMatch(
          r.inspect,
          /owner|listener|rawHeaders|Exchange/,
          `request: no internals (${String(r.inspect).slice(0, 120)})`,
        );
        t.match(inspect(nodeReq), /method: 'GET'/, "Node's inspect() shows the same field");
        await q.waitFor(/inspect-request/);
        const line = q.output.slice(q.output.indexOf('inspect-request'));
        t.notMatch(line.slice(0, 2000), /owner|listener|rawHeaders/, 'console.log(request) shows no internals');

        const s = (parsed((await get(`${q.url}/inspect-response`)).body) ?? {}) as Record<string, string>;
        t.equal(s.json, JSON.stringify(nodeRes), "response: JSON.stringify as Node's");
        t.same(s.keys, Object.keys(nodeRes), "response: Object.keys as Node's");
        t.equal(s.tag, Object.prototype.toString.call(nodeRes), 'response: [object Response]');
        t.match(s.inspect, /status: 201/, 'response: inspect shows the status');
        t.match(s.inspect, /x-made/, 'response: and the headers');
        t.notMatch(s.inspect, /Symbol\(qilin/, 'response: no internals');
      },
    );
  });
