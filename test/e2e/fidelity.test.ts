// Real apps, not hello world: bodies read the way apps read them, Hono middleware, streamed
// responses followed by plain ones, bodiless statuses, HEAD, Host, and the access log; on each engine.
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { formatPeerAddress } from '../../lib/http/address.js';
import {
  ENGINES,
  fixture,
  freePort,
  parseResponses,
  rawExchange,
  rawGet as get,
  request,
  sleep,
  startQilin,
} from '../helpers.js';

// Two engines: more than the default time for one file when the machine is busy.
t.setTimeout(360_000);

/** Send each request on one connection after a pause (no pipelining); everything read until close. */
function rawSequence(port: number, requests: string[], gapMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => {
      text += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve(text));
    void (async () => {
      for (const r of requests) {
        sock.write(r);
        await sleep(gapMs);
      }
      setTimeout(() => sock.destroy(), 2000);
    })();
  });
}

/** POST `size` bytes in small pieces, slowly, so the body arrives after the app looked at it. */
function postSlowly(port: number, path: string, size: number, piece = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-length': String(size) } },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    void (async () => {
      for (let sent = 0; sent < size; sent += piece) {
        req.write(Buffer.alloc(Math.min(piece, size - sent), 97));
        await sleep(2);
      }
      req.end();
    })();
  });
}

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('request bodies arrive whole, however the app reads them', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      for (const size of [10, 100_000, 1_000_000]) {
        const r = JSON.parse(await postSlowly(q.port, '/check-then-iterate', size));
        t.equal(r.bytes, size, `check, await, then iterate: ${size} of ${size} bytes`);
        t.equal(r.usedAfterLook, false, 'looking at request.body does not use it');
        t.equal(r.same, true, 'request.body is one stream for the life of the request');
        t.equal(r.usedAfterRead, true, 'bodyUsed once read');
      }
      const text = JSON.parse(await postSlowly(q.port, '/look-then-text', 100_000));
      t.equal(text.length, 100_000, 'peek at body, then text(): every byte');
      t.equal(text.again, 'TypeError', 'a second text() is refused');
      const json = await request(q.url + '/reader-then-json', {
        method: 'POST',
        body: JSON.stringify({ a: 'x'.repeat(5000) }),
      });
      t.equal(JSON.parse(json.body).a.length, 5000, 'getReader() loop');
    });

    t.test('a streamed response does not slow or change later plain responses', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      const before = parseResponses(
        (await rawExchange(q.port, get('/') + get('/light-installed', 'Connection: close\r\n'))).text,
      );
      t.equal(before[1]!.body, 'true');
      const r = await rawExchange(
        q.port,
        get('/stream') + get('/') + get('/light-installed') + get('/', 'Connection: close\r\n'),
      );
      const [stream, hello, light, last] = parseResponses(r.text);
      t.equal(stream!.body, 'chunk1;chunk2;chunk3;');
      t.ok(stream!.chunked, 'the stream is chunked');
      t.equal(hello!.body, 'Hello, World!');
      t.notOk(hello!.chunked, 'the next plain response is not chunked');
      t.equal(hello!.headers['content-length'], '13');
      t.equal(light!.body, 'true', 'the light Response is still the global after the platform classes loaded');
      t.equal(last!.headers['content-length'], '13');
    });

    t.test('middleware-style re-wrapping keeps headers and a plain body', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      const [r] = parseResponses((await rawExchange(q.port, get('/rewrap', 'Connection: close\r\n'))).text);
      t.equal(r!.status, 201);
      t.equal(r!.body, 'rewrapped body');
      t.notOk(r!.chunked, 'an unread re-wrapped body is written whole, not streamed');
      t.equal(r!.headers['x-inner'], '1');
      t.equal(r!.headers['x-added'], 'yes');
      t.equal(r!.headers['x-outer'], '1');
      t.equal(r!.headers['content-type'], 'text/plain;charset=UTF-8');
      const [read] = parseResponses(
        (await rawExchange(q.port, get('/read-then-rewrap', 'Connection: close\r\n'))).text,
      );
      t.equal(read!.body, 'abc:abc', 'clone().text() and text() of the original');
    });

    t.test('Hono with cors(), secureHeaders() and etag() stays on the direct writer', async (t) => {
      const q = await startQilin(t, [fixture('hono-api.ts')], { engine });
      const origin = 'Origin: https://app.example\r\n';
      const r = await rawExchange(
        q.port,
        get('/stream') + get('/api/users/42', origin) + get('/light') + get('/', 'Connection: close\r\n'),
      );
      const [stream, user, light, hello] = parseResponses(r.text);
      t.equal(stream!.body, 'streamed');
      t.same(JSON.parse(user!.body), { id: '42', name: 'Ada' });
      t.equal(user!.headers['access-control-allow-origin'], '*', 'cors() header');
      t.equal(user!.headers['x-content-type-options'], 'nosniff', 'secureHeaders() header');
      t.match(user!.headers['content-type'], /^application\/json/);
      t.notOk(user!.chunked, 'the re-wrapped JSON is written whole');
      t.equal(user!.headers['content-length'], String(Buffer.byteLength(user!.body)));
      t.equal(light!.body, 'true', 'the light Response is still installed after a stream');
      t.equal(hello!.headers['content-length'], '13');

      const [doc] = parseResponses((await rawExchange(q.port, get('/etag/doc', 'Connection: close\r\n'))).text);
      t.ok(doc!.headers.etag, 'etag() set an ETag');
      t.equal(doc!.body, 'a document with an etag');
      // etag() answers after an async digest: requests go one after another on the connection (uWS
      // closes a connection that pipelines past a response still waiting on I/O).
      const again = await rawSequence(q.port, [
        get('/etag/doc', `If-None-Match: ${doc!.headers.etag}\r\n`),
        get('/', 'Connection: close\r\n'),
      ]);
      const [notModified, next] = parseResponses(again);
      t.equal(notModified!.status, 304);
      t.equal(notModified!.headers['content-length'], undefined, '304 carries no Content-Length');
      t.equal(next!.body, 'Hello, World!', 'the next response on the connection is intact');

      const echo = await request(q.url + '/api/echo', {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      });
      t.same(JSON.parse(echo.body), { got: { a: 1 } });
    });

    t.test('HEAD reports the length GET would send, or none', async (t) => {
      const hono = await startQilin(t, [fixture('hono-api.ts')], { engine });
      const head = (path: string) => `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const h = parseResponses(
        (await rawExchange(hono.port, head('/') + head('/api/users/7') + get('/', 'Connection: close\r\n'))).text,
        [true, true, false],
      );
      t.equal(h[0]!.headers['content-length'], '13', 'Hono text route');
      t.equal(
        h[1]!.headers['content-length'],
        String(Buffer.byteLength(JSON.stringify({ id: '7', name: 'Ada' }))),
        'Hono JSON route',
      );
      t.equal(h[2]!.body, 'Hello, World!', 'no body was sent after the HEADs');

      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      const r = parseResponses(
        (
          await rawExchange(
            q.port,
            head('/head-length') + head('/stream') + head('/declared') + get('/', 'Connection: close\r\n'),
          )
        ).text,
        [true, true, true, false],
      );
      t.equal(r[0]!.headers['content-length'], '1234', 'plain body: its length');
      t.equal(r[0]!.headers['x-kind'], 'plain');
      t.equal(r[1]!.headers['content-length'], undefined, 'stream of unknown length: no Content-Length');
      t.equal(r[1]!.headers['transfer-encoding'], undefined);
      t.equal(r[2]!.headers['content-length'], '10', "the app's own Content-Length");
      t.equal(r[3]!.body, 'Hello, World!');
      const [s] = parseResponses((await rawExchange(q.port, get('/string-object', 'Connection: close\r\n'))).text);
      t.equal(s!.body, '<p>an object</p>', 'a String object body');
      t.equal(s!.headers['content-length'], '16', 'written whole with its length, not streamed');
    });

    t.test('204 and 304 have no body and 204 no Content-Length; the connection stays usable', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      const r = await rawExchange(
        q.port,
        get('/not-modified') + get('/no-content') + get('/no-content-body') + get('/', 'Connection: close\r\n'),
      );
      const [nm, nc, ncb, hello] = parseResponses(r.text);
      t.equal(nm!.status, 304);
      t.equal(nm!.headers.etag, '"x"');
      t.equal(nm!.headers['content-length'], undefined);
      t.equal(nc!.status, 204);
      t.equal(nc!.headers['content-length'], undefined, '204 without Content-Length');
      t.equal(ncb!.status, 204);
      t.equal(ncb!.headers['content-length'], undefined);
      t.equal(hello!.status, 200);
      t.equal(hello!.body, 'Hello, World!', 'the next response parses: nothing stray was written');
      t.notMatch(r.text, /hi|ignored/, 'the bodies of 204/304 never reach the wire');
      const bodied = await request(q.url + '/bodied-304');
      t.equal(
        bodied.body,
        'TypeError: Response constructor: Invalid response status code 304',
        'a body with 304 is refused as Node refuses it',
      );
    });

    t.test('the Host header cannot choose the route', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      for (const host of ['evil/json?', 'a b', 'x@y', 'h#frag', 'a:b:c']) {
        const r = await rawExchange(q.port, `GET /url HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        t.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/, `Host: ${host} → 400`);
        t.ok(r.closed, 'and the connection is closed');
      }
      const dup = await rawExchange(q.port, 'GET /url HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
      t.match(dup.text, /^HTTP\/1\.1 400 /, 'two Host headers → 400');
      const ok = parseResponses(
        (
          await rawExchange(
            q.port,
            get('/url').replace('Host: x', 'Host: example.com:8080') +
              get('/url', 'Connection: close\r\n').replace('Host: x', 'Host: [::1]:9'),
          )
        ).text,
      );
      t.equal(ok[0]!.body, 'http://example.com:8080/url');
      t.equal(ok[1]!.body, 'http://[::1]:9/url');
    });

    t.test('a header value uWS cannot take is a 500 for that request, not a crash', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      const pid = q.workerPids()[0];
      const r = await request(q.url + '/bad-header');
      t.equal(r.status, 200);
      t.equal(r.headers['x-n'], '5', 'a number is written as its string');
      t.equal((await request(q.url + '/')).body, 'Hello, World!');
      t.same(q.workerPids(), [pid], 'the same worker serves');
    });

    t.test('access log: peer addresses, response headers, aborted streams', async (t) => {
      const port = await freePort();
      const q = await startQilin(
        t,
        [
          '-b',
          `[::]:${port}`,
          '--access-logfile',
          '-',
          '--access-logformat',
          '%(h)s "%(r)s" %(s)s %(b)s ct=%({content-type}o)s custom=%({x-custom}o)s cl=%({content-length}o)s u=%(u)s',
          fixture('real-app.ts'),
        ],
        { port, engine },
      );
      await request(`http://127.0.0.1:${port}/custom-header`);
      await q.waitFor(
        /^127\.0\.0\.1 "GET \/custom-header HTTP\/1\.1" 200 6 ct=text\/plain;charset=UTF-8 custom=abc cl=6 u=-$/m,
      );
      t.pass('IPv4 peer on a dual-stack listener logged as 127.0.0.1, response headers logged');
      await request(`http://[::1]:${port}/`);
      await q.waitFor(/^::1 "GET \/ HTTP\/1\.1" 200 13 /m);
      t.pass('IPv6 peer logged as ::1');
      const basic = `Basic ${Buffer.from('ada:secret').toString('base64')}`;
      await request(`http://127.0.0.1:${port}/?who`, { headers: { authorization: basic } });
      await q.waitFor(/^127\.0\.0\.1 "GET \/\?who HTTP\/1\.1" 200 13 .* u=ada$/m);
      t.pass('%(u)s: the user of Basic credentials');

      // A client that leaves in the middle of a streamed response.
      await new Promise<void>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => sock.write(get('/download')));
        sock.once('data', () => {
          sock.destroy();
          resolve();
        });
      });
      await q.waitFor(/^127\.0\.0\.1 "GET \/download HTTP\/1\.1" 200 \d+ /m);
      t.pass('an aborted streamed response is logged');
    });

    t.test('responses the writer must refuse or fix, with the pool slot freed every time', async (t) => {
      // One slot: a request that leaked its slot would make every later request wait forever.
      const q = await startQilin(t, ['--worker-connections', '1', fixture('real-app.ts')], { engine });
      for (const path of ['/locked-light', '/locked-platform']) {
        t.equal((await request(q.url + path)).status, 500, `${path}: a locked body stream is a 500`);
        t.equal((await request(q.url + '/')).body, 'Hello, World!', 'and the slot is free');
      }
      for (const path of ['/crlf-header', '/crlf-status']) {
        const r = await rawExchange(q.port, get(path, 'Connection: close\r\n'));
        // The status text is checked before anything is written (500); a header value is met while the
        // headers are being written, when the only safe answer left is to cut the connection.
        if (path === '/crlf-status') t.match(r.text, /^HTTP\/1\.1 500 /, `${path}: CR/LF in the status text is a 500`);
        else t.ok(r.closed && !/^HTTP\/1\.1 200/.test(r.text), `${path}: CR/LF in a header value cuts the response`);
        t.notMatch(r.text, /evil/i, 'nothing forged reaches the wire');
      }
      const form = await request(q.url + '/form-data');
      t.match(
        form.headers['content-type'],
        /^multipart\/form-data; boundary=/,
        'FormData keeps its Content-Type and boundary',
      );
      t.match(form.body, /name="a"/);
      for (let i = 0; i < 3; i++) {
        const r = await request(q.url + '/shared-headers');
        t.equal(r.headers.vary, 'Origin', `a Headers shared by responses is not changed by one of them (${i + 1})`);
        t.equal(r.headers['x-shared'], '1');
      }
      t.equal((await request(q.url + '/status-string')).status, 201, "status '201' is 201, as WebIDL converts it");
      t.equal((await request(q.url + '/map-headers')).headers['x-map'], '1', 'headers from an iterable');
      const signed = await request(q.url + '/clone-then-json', { method: 'POST', body: '{"a":1}' });
      t.same(JSON.parse(signed.body), { raw: 7, parsed: { a: 1 } }, 'request.clone().text() then request.json()');

      // A client that leaves a quiet event stream: the app's stream is cancelled and the slot freed.
      await new Promise<void>((resolve) => {
        const sock = net.connect(q.port, '127.0.0.1', () => sock.write(get('/quiet-stream')));
        sock.once('data', () => {
          sock.destroy();
          resolve();
        });
      });
      await sleep(200);
      t.equal(
        (await request(q.url + '/cancelled')).body,
        '1',
        'the response stream was cancelled when the client left',
      );

      // A big unread upload answered with a big stream: neither side waits on the other.
      const got = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          q.url + '/ignore-body-stream',
          { method: 'POST', agent: false, headers: { 'content-length': String(2 * 1024 * 1024) } },
          (res) => {
            let n = 0;
            res.on('data', (d: Buffer) => {
              n += d.length;
            });
            res.on('end', () => resolve(n));
          },
        );
        req.on('error', reject);
        req.end(Buffer.alloc(2 * 1024 * 1024, 97));
      });
      t.equal(got, 18 * 1024 * 1024, 'every byte of the 18 MB stream arrived');
      t.equal((await request(q.url + '/')).body, 'Hello, World!', 'and the worker serves on');
    });

    t.test('the Host must make a valid URL', async (t) => {
      const q = await startQilin(t, [fixture('real-app.ts')], { engine });
      for (const host of ['a:99999', '999.1.1.1', 'a%2f', '[:]']) {
        const r = await rawExchange(q.port, `GET /url HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        t.match(r.text, /^HTTP\/1\.1 400 /, `Host: ${host} → 400`);
      }
    });

    t.test('a streamed response that ends while the worker drains is well-formed', async (t) => {
      const q = await startQilin(t, ['--graceful-timeout', '10', fixture('real-app.ts')], { engine });
      const result = await new Promise<{ bytes: number; error: string | null; connection: string | undefined }>(
        (resolve) => {
          let bytes = 0;
          const req = http.get(q.url + '/download', { agent: false }, (res) => {
            res.once('data', () => q.signal('SIGTERM')); // the worker starts draining mid-stream
            res.on('data', (d: Buffer) => {
              bytes += d.length;
            });
            res.on('end', () => resolve({ bytes, error: null, connection: res.headers.connection }));
            res.on('error', (err) => resolve({ bytes, error: err.message, connection: undefined }));
          });
          req.on('error', (err) => resolve({ bytes, error: err.message, connection: undefined }));
        },
      );
      t.equal(result.error, null, 'the client parsed the chunked body');
      t.equal(result.bytes, 64 * 64 * 1024, 'every byte arrived');
      await q.exited;
    });
  });

t.test('peer address formatting', async (t) => {
  t.equal(formatPeerAddress('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1');
  t.equal(formatPeerAddress('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  t.equal(formatPeerAddress('2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
  t.equal(formatPeerAddress('fe80:0000:0000:0000:0000:0000:0000:0000'), 'fe80::');
  t.equal(formatPeerAddress('2001:0db8:0001:0002:0003:0004:0005:0006'), '2001:db8:1:2:3:4:5:6');
  t.equal(formatPeerAddress('10.0.0.1'), '10.0.0.1');
});
