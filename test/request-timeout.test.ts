// No worker held by a request that never ends: a client that leaves frees its pool slot at once.
import net from 'node:net';
import t from 'tap';
import { ENGINES, fixture, request, sleep, startQilin, type HttpResult } from './helpers.js';

const APP = fixture('timeout-app.ts');

/** A request that gives up after `ms` (null then): a worker whose slots are all held answers nothing. */
function within(url: string, ms: number): Promise<HttpResult | null> {
  return Promise.race([request(url).catch(() => null), sleep(ms).then(() => null)]);
}

/** Open a connection, send a GET for `target`, and leave after `ms` without waiting for the answer. */
async function leaveAfter(port: number, target: string, ms: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await sleep(ms);
  sock.destroy();
}

for (const engine of ENGINES) t.test(engine, async (t) => {
  t.test('a client that leaves frees its slot at once, whatever its handler does', async (t) => {
    const q = await startQilin(t, ['--worker-connections', '1', APP], { engine });
    await leaveAfter(q.port, '/hang', 200);
    const t0 = Date.now();
    const r = await within(`${q.url}/`, 3000);
    t.equal(r?.status, 200, `the next request is served (${Date.now() - t0} ms)`);
    // And again: no slot is lost for good.
    await leaveAfter(q.port, '/hang', 200);
    t.equal((await within(`${q.url}/`, 3000))?.status, 200, 'every time');
  });
});
