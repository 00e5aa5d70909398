// The pool bounds concurrency per listener; the sync worker runs one request at a time;
// a client that goes away aborts request.signal.
import net from 'node:net';
import t from 'tap';
import { fixture, request, sleep, startQilin } from '../helpers.js';

t.test('worker_connections=2: the third concurrent request waits, then completes', async (t) => {
  const q = await startQilin(t, ['--worker-connections', '2', fixture('app.ts')]);
  const t0 = Date.now();
  const results = await Promise.all(
    [0, 1, 2].map(async (i) => {
      await sleep(i * 50); // arrival order 0, 1, 2
      const r = await request(q.url + '/slow?ms=600');
      return { ...JSON.parse(r.body), status: r.status, done: Date.now() - t0 };
    }),
  );
  t.same(
    results.map((r) => r.status),
    [200, 200, 200],
    'none dropped',
  );
  t.equal(results[0].seen, 1);
  t.equal(results[1].seen, 2, 'two run at once');
  t.equal(results[2].seen, 2, 'the third ran beside the second only: never three at once');
  t.ok(results[2].started - t0 >= 550, `the third started after the first finished (${results[2].started - t0} ms)`);
  t.ok(results[2].done >= 1150, `and completed after it (${results[2].done} ms)`);
});

t.test('pool default: many concurrent slow requests run together', async (t) => {
  const q = await startQilin(t, [fixture('app.ts')]);
  const results = await Promise.all(Array.from({ length: 20 }, () => request(q.url + '/slow?ms=400')));
  const seen = results.map((r) => JSON.parse(r.body).seen as number);
  t.equal(Math.max(...seen), 20, 'all 20 ran at once');
});

t.test('sync worker: one request at a time', async (t) => {
  const q = await startQilin(t, ['-k', 'sync', fixture('app.ts')]);
  const results = await Promise.all(Array.from({ length: 3 }, () => request(q.url + '/slow?ms=200')));
  t.same(
    results.map((r) => JSON.parse(r.body).seen),
    [1, 1, 1],
    'never two at once',
  );
  t.equal((await request(q.url + '/sync')).body, 'sync');
});

t.test('client disconnect aborts request.signal; the worker carries on', async (t) => {
  const q = await startQilin(t, [fixture('app.ts')]);
  for (let i = 0; i < 3; i++) {
    const sock = net.connect(q.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /wait-abort HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(150);
    sock.destroy();
  }
  let count = '0';
  for (let i = 0; i < 40 && count !== '3'; i++) {
    await sleep(50);
    count = (await request(q.url + '/aborted')).body;
  }
  t.equal(count, '3', 'each disconnect aborted its request signal');
});
