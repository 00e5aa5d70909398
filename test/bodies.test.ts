// Request and response bodies are streamed with backpressure, not buffered whole, on each engine.
import http from 'node:http';
import t from 'tap';
import { ENGINES, fixture, request, startQilin } from './helpers.js';

const MB = 1024 * 1024;

function upload(url: string): Promise<{ bytes: number; growth: number }> {
  const chunk = Buffer.alloc(256 * 1024, 97);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-length': String(50 * MB) } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    let sent = 0;
    const write = () => {
      while (sent < 50 * MB) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', write); return; }
      }
      req.end();
    };
    write();
  });
}

for (const engine of ENGINES) t.test(engine, async (t) => {
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
      http.get(q.url + '/download?mb=50', { agent: false }, (res) => {
        res.pause();
        // Read slowly at first so the server must hold back; then check its RSS mid-stream.
        setTimeout(async () => {
          const mid = Number((await request(q.url + '/rss')).body);
          res.on('data', (d: Buffer) => { received += d.length; });
          res.on('end', () => resolve(mid));
          res.resume();
        }, 1000);
      }).on('error', reject);
    });
    t.equal(received, 50 * MB, 'every byte arrived');
    t.ok(rssDuring - before < 25 * MB, `RSS grew ${((rssDuring - before) / MB).toFixed(1)} MB while the client held back`);
  });

    t.test('Expect: 100-continue: the client is told to send, and the body arrives', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      const r = await new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
        let continued = false;
        const req = http.request(q.url + '/echo', { method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': '11' } }, (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ continued, status: res.statusCode!, body }));
        });
        // The body is held back until the server says 100 Continue.
        req.on('continue', () => { continued = true; req.end('hello there'); });
        req.on('error', reject);
        req.flushHeaders();
      });
      t.ok(r.continued, '100 Continue was sent');
      t.equal(r.status, 200);
      t.equal(r.body, 'hello there', 'the body sent after it was read whole');
    });
});
