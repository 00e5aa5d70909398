// The engine a Node-style app settles, across the arbiter's life: with the engine unset, the arbiter
// loads the app in a child before forking and picks node, so no worker ever boots on uws; a reload
// keeps the sockets and the port; a reload to an app of the other kind is refused while the old
// workers serve; a request still running past graceful_timeout is cut (req and res destroyed) and
// the worker exits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT, fixture, freePort, request, runQilin, sleep, startQilin } from '../helpers.js';

t.setTimeout(120_000);

const express = path.join(ROOT, 'node_modules/express/index.js');

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-switch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test(
  'engine unset, a Node-style app: node is settled before the first fork; HUP keeps the socket and its port-0 port',
  async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'app.cjs');
    const write = (greeting: string) =>
      writeFileSync(
        file,
        `const app = require(${JSON.stringify(express)})();\napp.get('/', (req, res) => res.send(${JSON.stringify(greeting)} + ' ' + process.pid));\nmodule.exports = app;\n`,
      );
    write('first');
    const q = await startQilin(t, ['-w', '2', '-b', '127.0.0.1:0', file], { ready: 2 });
    t.match(
      q.output,
      /Using engine: node \(node:http\) \(.* is an Express app, a Node-style app\)/,
      'the log says why node',
    );
    const firstFork = q.output.indexOf('Booting worker');
    const checked = /\[(\d+)\] \[DEBUG\] App loaded before forking workers: an Express app/.exec(q.output);
    t.ok(checked && checked.index < firstFork, 'the app was loaded before any worker was forked');
    t.not(Number(checked?.[1]), q.pid, 'in a child, not in the arbiter');
    t.ok(q.output.indexOf('Using engine:') < firstFork, 'the engine was settled before any worker was forked');
    t.equal(q.output.match(/Booting worker/g)?.length, 2, 'two workers forked, none replaced');
    t.notMatch(q.output, /Worker using uWebSockets/, 'no worker booted on uws');
    t.match(q.output, /Worker using node:http/);
    const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(q.output)![1]);
    t.ok(port > 0, 'port 0 became a real port');
    const before = await request(`http://127.0.0.1:${port}/`);
    t.match(before.body, /^first \d+$/);
    const oldPids = q.workerPids();

    write('second');
    q.signal('SIGHUP');
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 4 });
    for (let i = 0; i < 50 && q.workerPids().some((p) => oldPids.includes(p)); i++) await sleep(100);
    const after = await request(`http://127.0.0.1:${port}/`);
    t.match(after.body, /^second \d+$/, 'the same port serves the reloaded app');
    t.notOk(oldPids.includes(Number(after.body.split(' ')[1])), 'from a new worker');
    t.notMatch(q.output, /Reload failed|engine cannot change/);
    t.equal((q.output.match(/Using engine:/g) ?? []).length, 1, 'the engine was settled once');
  },
);

t.test('engine unset, an app that cannot load: exit 4 from the check, before any bind or fork', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.mjs');
  writeFileSync(file, "throw new Error('broken on purpose');\n");
  const r = await runQilin(['-b', `127.0.0.1:${await freePort()}`, file]);
  t.equal(r.code, 4, 'exit 4, as Gunicorn for an app that cannot load');
  t.equal(
    r.output.match(/\[ERROR\] Failed to load module .*app\.mjs: broken on purpose/g)?.length,
    1,
    'one error line, as a worker gives',
  );
  t.match(r.output, /\[ERROR\] Reason: App failed to load\./);
  t.notMatch(r.output, /Booting worker|Listening at/, 'nothing forked, nothing bound');
});

t.test('engine unset: the check gets `timeout`, as a booting worker does', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.mjs');
  writeFileSync(
    file,
    "await new Promise(() => setInterval(() => {}, 1000));\nexport default () => new Response('never');\n",
  );
  const start = Date.now();
  const r = await runQilin(['--timeout', '1', '-b', `127.0.0.1:${await freePort()}`, file]);
  t.equal(r.code, 4);
  t.match(r.output, /\[ERROR\] The app did not load within 1 s \(timeout\)/);
  t.match(r.output, /Reason: App failed to load\./);
  t.notMatch(r.output, /Booting worker/);
  t.ok(Date.now() - start < 10_000, `stopped after the timeout (${Date.now() - start} ms)`);
});

t.test('a reload to a Node-style app under a settled uws engine is refused; the old workers serve on', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.cjs');
  writeFileSync(file, `module.exports = (request) => new Response('fetch ' + process.pid);\n`);
  const q = await startQilin(t, ['-w', '1', file]);
  t.match(q.output, /Using engine: uws/);
  const first = await request(q.url + '/');
  t.match(first.body, /^fetch \d+$/);

  writeFileSync(
    file,
    `const app = require(${JSON.stringify(express)})();\napp.get('/', (req, res) => res.send('express'));\nmodule.exports = app;\n`,
  );
  q.signal('SIGHUP');
  await q.waitFor(/the uws engine cannot serve it/);
  await q.waitFor(/Reload failed: worker \(pid:\d+\) could not load the app; keeping the running workers/);
  const still = await request(q.url + '/');
  t.equal(still.body, first.body, 'the old worker still serves the fetch app');
  t.equal(q.exit, null, 'the arbiter runs on');
});

t.test('a request running past graceful_timeout is cut and the worker exits', async (t) => {
  const q = await startQilin(
    t,
    ['--graceful-timeout', '1', '--keep-alive', '0', fixture('node-apps/express-app.cjs')],
    { engine: 'node' },
  );
  // A raw socket: the cut is seen as the connection ending with no response.
  const sock = net.connect(q.port, '127.0.0.1');
  let got = '';
  const closed = new Promise<void>((resolve) => {
    sock.on('data', (d) => {
      got += d;
    });
    sock.on('close', () => resolve());
    sock.on('error', () => {});
  });
  sock.write('GET /slow?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n');
  await sleep(300);
  const start = Date.now();
  q.signal('SIGTERM');
  await closed;
  const took = Date.now() - start;
  t.equal(got, '', 'no response: the request was cancelled');
  t.ok(took >= 800 && took < 5000, `cut after graceful_timeout (${took} ms)`);
  const exit = await q.exited;
  t.equal(exit.code, 0);
});
