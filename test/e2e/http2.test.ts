// HTTP/2 on the node engine, end to end (real arbiters from dist/, real clients): ALPN over TLS with
// curl, Node's http2 client and nghttp; h2c with prior knowledge from a trusted peer; 100 streams at
// once on one connection; http2_max_concurrent_streams and http2_max_header_list_size honoured; a
// fetch app and a plain Node-style handler; Express, which cannot run on node:http2's compatibility API,
// offered HTTP/1.1 only over TLS and answered 505 over h2c; a large upload and a large streamed download
// (backpressure: the app is not read ahead of a client that stops reading); request_timeout; the
// access log; the engine chosen for h2; and graceful stop (a stream in flight completes, the client
// gets GOAWAY).
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ROOT, rawExchange, selfSignedCert, sleep, startQilin } from '../helpers.js';

t.setTimeout(90_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-h2-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
selfSignedCert(file('a.key'), file('a.pem'));
const CA = readFileSync(file('a.pem'));
const TLS = ['--certfile', file('a.pem'), '--keyfile', file('a.key')];

/** Byte i of a download: a pattern both sides compute. */
const PATTERN = `(i) => (i * 31 + 7) & 255`;
const patternByte = (i: number) => (i * 31 + 7) & 255;
function patternHash(n: number): string {
  const h = createHash('sha256');
  const block = Buffer.alloc(65536);
  for (let off = 0; off < n; off += block.length) {
    const len = Math.min(block.length, n - off);
    for (let i = 0; i < len; i++) block[i] = patternByte(off + i);
    h.update(block.subarray(0, len));
  }
  return h.digest('hex');
}

// A fetch app: hello, an upload hashed as the app reads it, a download made as the client reads it,
// slow answers that count how many run at once.
writeFileSync(
  file('fetch-app.mjs'),
  `import { createHash } from 'node:crypto';
const byte = ${PATTERN};
let inflight = 0, most = 0, produced = 0;
export default async (request, info) => {
  const url = new URL(request.url);
  if (url.pathname === '/hello') return new Response('hello ' + url.protocol + ' ' + info.remoteAddr.hostname);
  if (url.pathname === '/echo') {
    const h = createHash('sha256');
    let n = 0;
    for await (const chunk of request.body) { h.update(chunk); n += chunk.byteLength; }
    return Response.json({ n, sha256: h.digest('hex') });
  }
  if (url.pathname === '/download') {
    const total = Number(url.searchParams.get('n'));
    let off = 0;
    produced = 0;
    return new Response(new ReadableStream({
      pull(c) {
        if (off >= total) return c.close();
        const len = Math.min(65536, total - off);
        const b = new Uint8Array(len);
        for (let i = 0; i < len; i++) b[i] = byte(off + i);
        off += len;
        produced = off;
        c.enqueue(b);
      },
    }, { highWaterMark: 0 }), { headers: { 'content-type': 'application/octet-stream' } });
  }
  if (url.pathname === '/produced') return Response.json({ produced });
  if (url.pathname === '/slow') {
    inflight++;
    most = Math.max(most, inflight);
    await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms'))));
    inflight--;
    return new Response('slept');
  }
  if (url.pathname === '/most') { const m = most; most = 0; return new Response(String(m)); }
  return new Response('not found', { status: 404 });
};
`,
);
writeFileSync(
  file('node-app.mjs'),
  `export default (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('node ' + req.httpVersion + ' ' + req.method + ' ' + req.url);
};
`,
);

writeFileSync(
  file('express-app.mjs'),
  `import express from ${JSON.stringify(path.join(ROOT, 'node_modules/express/index.js'))};
const app = express();
app.get('/e', (req, res) => res.send('express ' + req.httpVersion));
export default app;
`,
);

interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on an open session. */
function h2get(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
  onStream?: (s: http2.ClientHttp2Stream) => void,
): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': body ? 'POST' : 'GET', ...headers }, { endStream: body === undefined });
    onStream?.(s);
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    s.on('response', (h) => (head = h));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    s.on('error', reject);
    if (body) s.end(body);
  });
}

function connect(t: Test, url: string, opts: http2.SecureClientSessionOptions = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, { ca: CA, ...opts });
  session.on('error', () => {});
  t.teardown(() => {
    if (!session.destroyed) session.destroy();
  });
  return session;
}

const hasCurlHttp2 = (() => {
  try {
    return /HTTP2/.test(execFileSync('curl', ['--version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();
const hasNghttp = (() => {
  try {
    execFileSync('nghttp', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15000, maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '10', ...args]);

t.test('TLS with h2,h1: ALPN, both protocols, one app, the limits', async (t) => {
  const q = await startQilin(t, [
    ...TLS,
    '--http-protocols',
    'h2,h1',
    '--access-logfile',
    '-',
    '--request-timeout',
    '1',
    '--http2-max-header-list-size',
    '4096',
    file('fetch-app.mjs'),
  ]);
  const base = `https://127.0.0.1:${q.port}`;

  t.test('engine unset: node, and why', async (t) => {
    t.match(q.output, /Using engine: node \(node:http\) \(http_protocols h2,h1 needs it\)/);
  });

  t.test(
    'curl --http2 gets h2 by ALPN, --http1.1 HTTP/1.1',
    { skip: !hasCurlHttp2 && 'curl without HTTP/2' },
    async (t) => {
      const h2 = await curl(['--cacert', file('a.pem'), '--http2', '-w', ' %{http_version}', `${base}/hello`]);
      t.equal(h2.stdout, 'hello https: 127.0.0.1 2', h2.stderr);
      const h1 = await curl(['--cacert', file('a.pem'), '--http1.1', '-w', ' %{http_version}', `${base}/hello`]);
      t.equal(h1.stdout, 'hello https: 127.0.0.1 1.1', h1.stderr);
      await q.waitFor(/"GET \/hello HTTP\/2.0" 200 /);
      await q.waitFor(/"GET \/hello HTTP\/1.1" 200 /);
    },
  );

  t.test("Node's http2 client", async (t) => {
    const session = connect(t, base);
    const r = await h2get(session, { ':path': '/hello?x=1' });
    t.equal(r.status, 200);
    t.equal(r.body.toString(), 'hello https: 127.0.0.1');
    t.equal(r.headers['content-type'], 'text/plain;charset=UTF-8');
    t.equal(r.headers['content-length'], String(r.body.length));
    t.equal(session.alpnProtocol, 'h2');
    t.equal(session.remoteSettings.maxConcurrentStreams, 100, "Gunicorn's default");
    t.equal(session.remoteSettings.maxHeaderListSize, 4096, 'http2_max_header_list_size');
    const missing = await h2get(session, { ':path': '/nothing' });
    t.equal(missing.status, 404, 'the same connection serves on');
    await q.waitFor(/"GET \/hello\?x=1 HTTP\/2.0" 200 22 "-" "-"/);
  });

  t.test('nghttp', { skip: !hasNghttp && 'nghttp is not installed (apt-get install nghttp2-client)' }, async (t) => {
    const r = await run('nghttp', ['-v', `${base}/hello`]);
    t.equal(r.code, 0, 'nghttp exits 0');
    t.match(r.stdout, /recv SETTINGS frame[\s\S]*SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):100/);
    t.match(r.stdout, /:status: 200/);
    t.match(r.stdout, /hello https: 127\.0\.0\.1/);
  });

  t.test('100 streams at once on one connection: all answered', async (t) => {
    const session = connect(t, base);
    await h2get(session, { ':path': '/most' });
    const all = await Promise.all(Array.from({ length: 100 }, () => h2get(session, { ':path': '/slow?ms=300' })));
    t.equal(all.filter((r) => r.status === 200 && r.body.toString() === 'slept').length, 100);
    const most = Number((await h2get(session, { ':path': '/most' })).body.toString());
    t.ok(most > 50 && most <= 100, `they ran at once (${most} at most)`);
  });

  t.test('a header list above http2_max_header_list_size is refused', async (t) => {
    const session = connect(t, base);
    const big: Record<string, string> = {};
    for (let i = 0; i < 6; i++) big[`x-big-${i}`] = 'v'.repeat(1000);
    const r = await h2get(session, { ':path': '/hello', ...big });
    t.equal(r.status, 431, 'Request Header Fields Too Large (RFC 9113 10.5.1)');
    t.match(r.body.toString(), /http2_max_header_list_size/);
    const small = await h2get(connect(t, base), { ':path': '/hello', 'x-small': 'v'.repeat(1000) });
    t.equal(small.status, 200, 'under the limit: served');
  });

  t.test('a large upload, read by the app', async (t) => {
    const session = connect(t, base);
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const r = await h2get(session, { ':path': '/echo' }, data);
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body.toString()), {
      n: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
  });

  t.test('a large streamed download, with backpressure', async (t) => {
    const n = 24 * 1024 * 1024 + 77;
    const session = connect(t, base);
    let stream: http2.ClientHttp2Stream | null = null;
    const done = h2get(session, { ':path': `/download?n=${n}` }, undefined, (s) => {
      stream = s;
      s.pause();
    });
    await sleep(700);
    // The client has read nothing: the app has made about one window's worth, not the whole body.
    const other = connect(t, base);
    const produced = JSON.parse((await h2get(other, { ':path': '/produced' })).body.toString()).produced as number;
    t.ok(produced > 0 && produced < 4 * 1024 * 1024, `the app waited for the client (${produced} bytes made)`);
    stream!.resume();
    const r = await done;
    t.equal(r.status, 200);
    t.equal(r.body.length, n);
    t.equal(createHash('sha256').update(r.body).digest('hex'), patternHash(n), 'byte for byte');
  });

  t.test('request_timeout on HTTP/2: 503, the connection serves on', async (t) => {
    const session = connect(t, base);
    const start = Date.now();
    const r = await h2get(session, { ':path': '/slow?ms=3000' });
    t.equal(r.status, 503);
    t.ok(Date.now() - start < 2800, 'answered at the timeout, not when the app did');
    t.match(r.body.toString(), /Service Unavailable/);
    t.equal((await h2get(session, { ':path': '/hello' })).status, 200);
    await q.waitFor(/Request timeout: GET \/slow not answered after 1\.\d s \(request_timeout 1 s\): 503/);
    await q.waitFor(/"GET \/slow\?ms=3000 HTTP\/2.0" 503 /);
  });
});

t.test('TLS with h2 alone: HTTP/1.1 clients are refused', async (t) => {
  const q = await startQilin(t, [...TLS, '--http-protocols', 'h2', file('fetch-app.mjs')]);
  const base = `https://127.0.0.1:${q.port}`;
  const r = await h2get(connect(t, base), { ':path': '/hello' });
  t.equal(r.status, 200);
  if (hasCurlHttp2) {
    const h1 = await curl(['--cacert', file('a.pem'), '--http1.1', `${base}/hello`]);
    t.not(h1.code, 0, 'curl --http1.1 fails');
    t.match(h1.stderr, /no application protocol/, h1.stderr);
  }
});

t.test('h2c with prior knowledge from a trusted peer; max concurrent streams; graceful stop', async (t) => {
  const q = await startQilin(t, [
    '--http-protocols',
    'h2,h1',
    '--http2-cleartext',
    'prior-knowledge',
    '--http2-max-concurrent-streams',
    '2',
    '--graceful-timeout',
    '10',
    file('fetch-app.mjs'),
  ]);
  const base = `http://127.0.0.1:${q.port}`;

  t.test('curl --http2-prior-knowledge', { skip: !hasCurlHttp2 && 'curl without HTTP/2' }, async (t) => {
    const r = await curl(['--http2-prior-knowledge', '-w', ' %{http_version}', `${base}/hello`]);
    t.equal(r.stdout, 'hello http: 127.0.0.1 2', r.stderr);
  });

  t.test('nghttp (prior knowledge on an http URL)', { skip: !hasNghttp && 'nghttp is not installed' }, async (t) => {
    const r = await run('nghttp', [`${base}/hello`]);
    t.equal(r.stdout, 'hello http: 127.0.0.1', r.stderr);
  });

  t.test('HTTP/1.1 from a trusted peer on a prior-knowledge port: 400', async (t) => {
    const r = await rawExchange(q.port, 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    t.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    t.match(r.text, /Invalid HTTP\/2 connection preface/);
    t.ok(r.closed);
  });

  t.test('http2_max_concurrent_streams 2: the client is told, and no more than 2 run at once', async (t) => {
    const session = connect(t, base);
    await h2get(session, { ':path': '/most' });
    t.equal(session.remoteSettings.maxConcurrentStreams, 2);
    const all = await Promise.all(Array.from({ length: 6 }, () => h2get(session, { ':path': '/slow?ms=200' })));
    t.equal(all.filter((r) => r.status === 200).length, 6, 'all answered (the client waits for a free stream)');
    t.equal((await h2get(session, { ':path': '/most' })).body.toString(), '2');
  });

  t.test('graceful stop: the stream in flight completes, the client gets GOAWAY', async (t) => {
    const session = connect(t, base);
    const goaway = new Promise<number>((resolve) => session.on('goaway', (code) => resolve(code)));
    await h2get(session, { ':path': '/hello' });
    const inFlight = h2get(session, { ':path': '/slow?ms=1500' });
    await sleep(300);
    q.signal('SIGTERM');
    t.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR, 'GOAWAY (NO_ERROR) while the stream is open');
    const r = await inFlight;
    t.equal(r.status, 200);
    t.equal(r.body.toString(), 'slept');
    const refused = await h2get(session, { ':path': '/hello' }).then(
      () => 'served',
      (err: NodeJS.ErrnoException) => err.code,
    );
    t.not(refused, 'served', `no new stream after GOAWAY (${refused})`);
    const exit = await q.exited;
    t.equal(exit.code, 0);
  });
});

t.test('h2c from an untrusted peer: HTTP/1.x as if off', async (t) => {
  const q = await startQilin(t, [
    '--http-protocols',
    'h2,h1',
    '--http2-cleartext',
    'prior-knowledge',
    '--forwarded-allow-ips',
    '10.1.2.3',
    file('fetch-app.mjs'),
  ]);
  const r = await rawExchange(q.port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(r.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello http: 127\.0\.0\.1$/);
});

t.test("a Node-style app gets node:http2's compatibility req and res", async (t) => {
  const q = await startQilin(t, [...TLS, '--http-protocols', 'h2,h1', file('node-app.mjs')]);
  const r = await h2get(connect(t, `https://127.0.0.1:${q.port}`), { ':path': '/n?a=1' });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'node 2.0 GET /n?a=1');
  t.match(q.output, /Node-style/);
});

t.test(
  'Express: HTTP/1.1 only over TLS (ALPN), 505 over h2c, said at start',
  { skip: !hasCurlHttp2 && 'curl without HTTP/2' },
  async (t) => {
    const tls = await startQilin(t, [...TLS, '--http-protocols', 'h2,h1', file('express-app.mjs')]);
    const r = await curl([
      '--cacert',
      file('a.pem'),
      '--http2',
      '-w',
      ' %{http_version}',
      `https://127.0.0.1:${tls.port}/e`,
    ]);
    t.equal(r.stdout, 'express 1.1 1.1', 'curl --http2 falls back to HTTP/1.1');
    t.match(tls.output, /HTTP\/2 is not offered on 127\.0\.0\.1:\d+: Express replaces/);
    const h2c = await startQilin(t, [
      '--http-protocols',
      'h2,h1',
      '--http2-cleartext',
      'prior-knowledge',
      file('express-app.mjs'),
    ]);
    const c = await curl(['--http2-prior-knowledge', '-w', ' %{http_code}', `http://127.0.0.1:${h2c.port}/e`]);
    t.match(c.stdout, /HTTP Version Not Supported[\s\S]*Express replaces[\s\S]* 505$/);
  },
);
