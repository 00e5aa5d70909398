// Request and response bodies are streamed with backpressure, not buffered whole, on each engine.
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { ENGINES, fixture, request, startQilin } from '../helpers.js';

const MB = 1024 * 1024;

function upload(url: string): Promise<{ bytes: number; growth: number }> {
  const chunk = Buffer.alloc(256 * 1024, 97);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: false, headers: { 'content-length': String(50 * MB) } },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      },
    );
    req.on('error', reject);
    let sent = 0;
    const write = () => {
      while (sent < 50 * MB) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

/** Byte i of a pattern body is i % 251 (see /pattern in the fixture app). */
function patternBytes(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) % 251;
  return b;
}

/** The first byte where `body` is not the pattern, or -1. */
function patternBreak(body: Buffer): number {
  for (let i = 0; i < body.length; i++) if (body[i] !== i % 251) return i;
  return -1;
}

/**
 * Decodes a chunked body strictly (every chunk's size, data and CRLF); throws at the first byte
 * out of place, and returns null while the body is incomplete.
 */
function decodeChunked(raw: Buffer, from: number): Buffer | null {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = parseInt(raw.toString('latin1', at, eol), 16);
    if (!/^[0-9a-f]+$/i.test(raw.toString('latin1', at, eol)))
      throw new Error(
        `chunk size line at byte ${at}: ${JSON.stringify(raw.toString('latin1', at, Math.min(eol, at + 16)))}`,
      );
    at = eol + 2;
    if (size === 0) return raw.length >= at + 2 ? Buffer.concat(parts) : null;
    if (raw.length < at + size + 2) return null;
    if (raw[at + size] !== 13 || raw[at + size + 1] !== 10)
      throw new Error(`no CRLF after a chunk of ${size} at byte ${at + size}`);
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

/**
 * One request on a raw socket whose reader takes one read at a time with a pause between: the
 * server's writes keep meeting a full socket. Sends `upload` as the body when given.
 */
function slowChunkedExchange(port: number, target: string, upload?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let size = 0;
    const method = upload ? 'POST' : 'GET';
    const length = upload ? `Content-Length: ${upload.length}\r\n` : '';
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${length}\r\n`);
    if (upload) socket.write(upload);
    let tail = '';
    socket.on('data', (d: Buffer) => {
      got.push(d);
      size += d.length;
      socket.pause();
      setTimeout(() => socket.resume(), 1);
      // The last chunk may come split over reads: look at the stream's last bytes, not this read's.
      tail = (tail + d.toString('latin1', Math.max(0, d.length - 5))).slice(-5);
      if (tail !== '0\r\n\r\n') return;
      try {
        const raw = Buffer.concat(got, size);
        const head = raw.indexOf('\r\n\r\n');
        const body = decodeChunked(raw, head + 4);
        if (body === null) return;
        socket.destroy();
        resolve({ status: Number(raw.toString('latin1', 9, 12)), body });
      } catch (err) {
        socket.destroy();
        reject(err as Error); // decodeChunked's, or a Buffer method's
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${size} bytes`)));
  });
}

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('50 MB upload is streamed: the worker RSS does not grow by the body size', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine, env: { NODE_OPTIONS: '--expose-gc' } });
      await upload(q.url + '/upload'); // warm up: first-use allocations are not the body
      // A slow reader: the socket is paused while unread data piles up, so memory stays flat.
      const slow = await upload(q.url + '/upload?slow');
      t.equal(slow.bytes, 50 * MB, 'every byte arrived (slow reader)');
      t.ok(slow.growth < 16 * MB, `RSS grew ${(slow.growth / MB).toFixed(1)} MB while slowly reading 50 MB`);
      // A fast reader: read chunks become garbage at once.
      const fast = await upload(q.url + '/upload');
      t.equal(fast.bytes, 50 * MB, 'every byte arrived (fast reader)');
      t.ok(fast.growth < 16 * MB, `RSS grew ${(fast.growth / MB).toFixed(1)} MB while reading 50 MB`);
    });

    t.test('50 MB streamed download with a slow reader: RSS does not grow by the body size', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      const before = Number((await request(q.url + '/rss')).body);
      let received = 0;
      const rssDuring = await new Promise<number>((resolve, reject) => {
        http
          .get(q.url + '/download?mb=50', { agent: false }, (res) => {
            res.pause();
            // Read slowly at first so the server must hold back; then check its RSS mid-stream.
            setTimeout(() => {
              // A failed /rss request fails the test (it would otherwise wait forever on `resolve`).
              request(q.url + '/rss')
                .then((rss) => {
                  const mid = Number(rss.body);
                  res.on('data', (d: Buffer) => {
                    received += d.length;
                  });
                  res.on('end', () => resolve(mid));
                  res.resume();
                })
                .catch((err: unknown) => {
                  res.destroy();
                  reject(err as Error);
                });
            }, 1000);
          })
          .on('error', reject);
      });
      t.equal(received, 50 * MB, 'every byte arrived');
      t.ok(
        rssDuring - before < 25 * MB,
        `RSS grew ${((rssDuring - before) / MB).toFixed(1)} MB while the client held back`,
      );
    });

    t.test('streamed bodies to a slow reader: every chunk framed, every byte in order', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      // Chunks over, under and far under uWS's 16 KiB cork buffer, each 16 MB (4 MB of tiny ones).
      for (const [kb, chunk] of [
        [16384, 65536],
        [16384, 16400],
        [16384, 16000],
        [4096, 1000],
      ] as const) {
        const r = await slowChunkedExchange(q.port, `/pattern?kb=${kb}&chunk=${chunk}`);
        t.equal(r.status, 200);
        t.equal(r.body.length, kb * 1024, `${kb / 1024} MB in ${chunk}-byte chunks: every byte arrived`);
        t.equal(patternBreak(r.body), -1, `${chunk}-byte chunks: in order, none lost or repeated`);
      }
      // The app streams the request body back as it arrives: writes made from the body's callbacks.
      const upload = patternBytes(0, 16 * MB);
      const echo = await slowChunkedExchange(q.port, '/echo-stream', upload);
      t.equal(echo.body.length, upload.length, '16 MB echoed while it was uploaded');
      t.equal(patternBreak(echo.body), -1, 'the echo is the upload, byte for byte');
    });

    t.test('a 3 MB body read whole (text()) while it still arrives in pieces: every byte, in order', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      // Past the 256 KiB a streamed read pauses the socket at: a whole read must not pause on it.
      const sent = Buffer.alloc(3 * MB);
      for (let i = 0; i < sent.length; i++) sent[i] = 97 + (i % 26);
      const r = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = http.request(
          q.url + '/echo',
          { method: 'POST', agent: false, headers: { 'content-length': String(sent.length) } },
          (res) => {
            const got: Buffer[] = [];
            res.on('data', (d: Buffer) => got.push(d));
            res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(got) }));
          },
        );
        req.on('error', reject);
        let at = 0;
        const more = () => {
          if (at >= sent.length) return void req.end();
          req.write(sent.subarray(at, (at += 96 * 1024)));
          setTimeout(more, 2); // the app asks for the body long before its end is here
        };
        more();
      });
      t.equal(r.status, 200);
      t.equal(r.body.length, sent.length, 'every byte came back');
      t.ok(r.body.equals(sent), 'in order');
    });

    t.test('Expect: 100-continue: the client is told to send, and the body arrives', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      const r = await new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
        let continued = false;
        const req = http.request(
          q.url + '/echo',
          { method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': '11' } },
          (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve({ continued, status: res.statusCode!, body }));
          },
        );
        // The body is held back until the server says 100 Continue.
        req.on('continue', () => {
          continued = true;
          req.end('hello there');
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      t.ok(r.continued, '100 Continue was sent');
      t.equal(r.status, 200);
      t.equal(r.body, 'hello there', 'the body sent after it was read whole');
    });
  });
