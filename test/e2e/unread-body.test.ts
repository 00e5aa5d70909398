// A body the app never reads, answered while it is still arriving: neither side waits on the other,
// and the client gets its whole response every time, on a connection that closes after it
// (Connection: close: the server must not reset it with unread bytes) or stays open (keep-alive).
import http from 'node:http';
import t from 'tap';
import { ENGINES, fixture, request, startQilin } from '../helpers.js';

const UPLOAD = 2 * 1024 * 1024;
const STREAM = 18 * 1024 * 1024; // what /ignore-body-stream sends

/** POST `bytes` to `path`; resolves with the response's size, or the error that ended it. */
function post(
  url: string,
  bytes: number,
  agent: http.Agent | false,
): Promise<{ status: number; size: number } | { error: string; size: number }> {
  return new Promise((resolve) => {
    let size = 0;
    const timer = setTimeout(() => {
      req.destroy(new Error('no answer within 20 s'));
    }, 20_000);
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-length': String(bytes) } }, (res) => {
      res.on('data', (d: Buffer) => {
        size += d.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, size });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        resolve({ error: e.message, size });
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: e.message, size });
    });
    req.end(Buffer.alloc(bytes, 97));
  });
}

for (const engine of ENGINES) {
  t.test(engine, async (t) => {
    const q = await startQilin(t, ['--worker-connections', '1', fixture('real-app.ts')], { engine });
    const failures: string[] = [];
    // agent: false sends Connection: close: the server closes after the response.
    for (let i = 0; i < 25; i++) {
      const r = await post(`${q.url}/ignore-body-stream`, UPLOAD, false);
      if (!('status' in r) || r.size !== STREAM) failures.push(`close #${i}: ${JSON.stringify(r)}`);
    }
    // The same stream framed by its Content-Length: its last byte ends the response.
    for (let i = 0; i < 10; i++) {
      const r = await post(`${q.url}/ignore-body-sized`, UPLOAD, false);
      if (!('status' in r) || r.size !== STREAM) failures.push(`sized close #${i}: ${JSON.stringify(r)}`);
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    for (let i = 0; i < 10; i++) {
      const r = await post(`${q.url}/ignore-body-stream`, UPLOAD, agent);
      if (!('status' in r) || r.size !== STREAM) failures.push(`keep-alive #${i}: ${JSON.stringify(r)}`);
    }
    // A whole (not streamed) answer to an 8 MB body nobody reads, on a closing connection.
    for (let i = 0; i < 10; i++) {
      const r = await post(`${q.url}/`, 8 * 1024 * 1024, false);
      if (!('status' in r) || r.status !== 200) failures.push(`whole #${i}: ${JSON.stringify(r)}`);
    }
    // A short body framed by its Content-Length, answered at once to an 8 MB upload nobody reads.
    for (let i = 0; i < 10; i++) {
      const r = await post(`${q.url}/declared`, 8 * 1024 * 1024, false);
      if (!('status' in r) || r.size !== 10) failures.push(`sized short #${i}: ${JSON.stringify(r)}`);
    }
    t.same(
      failures,
      [],
      'every response arrived whole: 25 closing, 10 sized closing, 10 keep-alive, 10 whole, 10 sized short answers',
    );
    t.equal((await request(q.url + '/')).body, 'Hello, World!', 'and the worker serves on');
  });
}
