// The control socket and `qilin ctl`: a real arbiter, real workers, the real CLI on a real unix socket.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { StatusData } from '../../lib/ctl/protocol.js';
import { ENGINES, fixture, freePort, request, runQilin, sleep, startQilin } from '../helpers.js';

t.setTimeout(300_000);

/** A fresh directory for sockets: short, since a unix socket path holds at most 107 bytes. */
function socketDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ctl = (args: string[]) => runQilin(['ctl', ...args]);

async function status(sock: string): Promise<StatusData> {
  const r = await ctl(['--socket', sock, 'status', '--json']);
  if (r.code !== 0) throw new Error(`qilin ctl status failed (${r.code}): ${r.output}`);
  return JSON.parse(r.output) as StatusData;
}

/** Ask `status` until `ok` holds for it (the workers report once a second). */
async function statusUntil(sock: string, ok: (s: StatusData) => boolean, timeout = 20_000): Promise<StatusData> {
  const end = Date.now() + timeout;
  for (;;) {
    const s = await status(sock);
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`status never matched: ${JSON.stringify(s)}`);
    await sleep(250);
  }
}

/** One request line, one answer line, straight on the socket (what `nc -U` does); `halfClose`: then EOF. */
function rawControl(sock: string, line: string, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let text = '';
    c.setEncoding('utf8');
    c.on('connect', () => (halfClose ? c.end(line) : c.write(line)));
    c.on('data', (d: string) => {
      text += d;
    });
    c.on('end', () => resolve(text));
    c.on('error', reject);
  });
}

/** A unix socket file whose server died without removing it. */
async function staleSocket(file: string): Promise<void> {
  const script = `require('node:net').createServer().listen(${JSON.stringify(file)}, () => process.kill(process.pid, 'SIGKILL'))`;
  await new Promise((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).on('exit', resolve));
  if (!statSync(file).isSocket()) throw new Error('no stale socket was left');
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('status, scale, reload and stop through qilin ctl', async (t) => {
      const sock = path.join(socketDir(t), 'q.ctl');
      const q = await startQilin(t, ['-w', '2', '--control-socket', sock, fixture('app.ts')], { engine });
      t.match(q.output, `Control socket listening at ${sock}`);

      const st = statSync(sock);
      t.ok(st.isSocket(), 'the control socket is a unix socket');
      t.equal(st.mode & 0o777, 0o600, 'with mode 0600');

      let s = await status(sock);
      const children = sorted(q.workerPids());
      t.equal(s.pid, q.pid, 'status names the arbiter');
      t.equal(s.target, 2);
      t.same(sorted(s.workers.map((w) => w.pid)), children, "status lists the arbiter's 2 children");

      const n = 12;
      for (let i = 0; i < n; i++) t.equal((await request(q.url + '/')).status, 200);
      s = await statusUntil(sock, (x) => x.workers.reduce((sum, w) => sum + (w.requests ?? 0), 0) >= n);
      t.equal(
        s.workers.reduce((sum, w) => sum + (w.requests ?? 0), 0),
        n,
        `requests served sum to ${n}`,
      );
      for (const w of s.workers) {
        t.equal(w.state, 'ready');
        t.ok(w.age > 0 && w.age < 120, 'age in seconds');
        t.ok(w.last_heartbeat >= 0 && w.last_heartbeat < 5, 'heard from lately');
        t.ok(w.rss !== null && w.rss > 1024 * 1024, 'RSS in bytes');
        t.equal(w.in_flight, 0, 'nothing in flight');
      }

      const slow = request(q.url + '/slow?ms=4000');
      s = await statusUntil(sock, (x) => x.workers.some((w) => w.in_flight === 1));
      t.equal(
        s.workers.reduce((sum, w) => sum + (w.in_flight ?? 0), 0),
        1,
        'the slow request is in flight',
      );
      t.equal((await slow).status, 200);

      const table = await ctl(['--socket', sock, 'status']);
      t.equal(table.code, 0);
      const lines = table.output.trimEnd().split('\n');
      t.match(lines[0], `master ${q.pid}: 2 workers (target 2)`);
      t.match(lines[1], /^\s*PID\s+STATE\s+AGE\s+REQUESTS\s+IN-FLIGHT\s+QUEUED\s+LAST-BEAT\s+RSS$/);
      t.same(sorted(lines.slice(2).map((l) => Number(l.trim().split(/\s+/)[0]))), children, 'one row per worker');
      const ends = lines.slice(1).map((l) => l.length);
      t.ok(
        ends.every((e) => e === ends[0]),
        'the columns are aligned',
      );

      const scaled = await ctl(['--socket', sock, 'scale', '3']);
      t.equal(scaled.code, 0);
      t.match(scaled.output, 'Scaling from 2 to 3 workers');
      t.equal((await q.waitForWorkers(3)).length, 3, 'scale 3: 3 workers');
      s = await statusUntil(sock, (x) => x.workers.length === 3 && x.workers.every((w) => w.state === 'ready'));
      t.equal(s.target, 3);
      const beforeReload = s.workers.map((w) => w.pid);

      const reload = await ctl(['--socket', sock, 'reload']);
      t.equal(reload.code, 0);
      t.match(reload.output, 'Reloading');
      // A reload re-reads the config, as HUP: the command line says 2 workers.
      s = await statusUntil(
        sock,
        (x) => x.workers.length === 2 && x.workers.every((w) => w.state === 'ready' && !beforeReload.includes(w.pid)),
      );
      t.same(sorted(s.workers.map((w) => w.pid)), sorted(await q.waitForWorkers(2)), 'reload replaced the workers');
      t.match(q.output, /Handling signal: hup/, "through the arbiter's HUP path");
      t.equal((await request(q.url + '/')).status, 200, 'the new workers serve');

      const stop = await ctl(['--socket', sock, 'stop']);
      t.equal(stop.code, 0);
      t.match(stop.output, `Stopping (master ${q.pid})`);
      t.same(await q.exited, { code: 0, signal: null }, 'stop ends the arbiter with exit 0');
      t.match(q.output, /Handling signal: term/, 'as TERM does');
      t.notOk(existsSync(sock), 'the socket file is removed at exit');
    });
  });

t.test('the protocol: one JSON line in, one JSON line out', async (t) => {
  const sock = path.join(socketDir(t), 'q.ctl');
  const q = await startQilin(t, ['--control-socket', sock, fixture('app.ts')]);
  const answer = await rawControl(sock, '{"id": 7, "command": "status"}\n');
  t.match(answer, /^[^\n]+\n$/, 'one line');
  const parsed = JSON.parse(answer) as { id: number; status: string; data: StatusData };
  t.equal(parsed.id, 7, 'the id comes back');
  t.equal(parsed.status, 'ok');
  t.same(
    parsed.data.workers.map((w) => w.pid),
    q.workerPids(),
  );

  t.same(JSON.parse(await rawControl(sock, 'status\n')), {
    status: 'error',
    error: 'the request is not a JSON line: {"command": "status"}',
  });
  t.match(JSON.parse(await rawControl(sock, '{"command": "explode"}\n')), {
    status: 'error',
    error: /^unknown command: explode/,
  });
  t.match(JSON.parse(await rawControl(sock, '{"command": "scale", "args": [0]}\n')), {
    status: 'error',
    error: /scale needs/,
  });
  // A client that half-closes without a newline is answered too (printf … | nc -N -U).
  t.match(JSON.parse(await rawControl(sock, '{"command": "scale 1"}', true)), {
    status: 'ok',
    data: { previous: 1, target: 1 },
  });
});

t.test(
  'the workers do not inherit the control socket',
  { skip: !existsSync('/proc/net/unix') && 'needs /proc' },
  async (t) => {
    const sock = path.join(socketDir(t), 'q.ctl');
    const q = await startQilin(t, ['-w', '2', '--engine', 'node', '--control-socket', sock, fixture('app.ts')]);
    // /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path"
    const row = readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .find((l) => l.trimEnd().endsWith(` ${sock}`));
    t.ok(row, 'the kernel lists the control socket');
    const link = `socket:[${row!.trim().split(/\s+/)[6]}]`;
    const holds = (pid: number) =>
      readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === link;
        } catch {
          return false;
        }
      });
    t.ok(holds(q.pid), 'the arbiter holds it');
    const workers = q.workerPids();
    t.equal(workers.length, 2);
    for (const pid of workers) t.notOk(holds(pid), `worker ${pid} does not`);
  },
);

t.test('a stale socket file is replaced; a live one refuses a second server', async (t) => {
  const dir = socketDir(t);
  const sock = path.join(dir, 'q.ctl');
  await staleSocket(sock);

  const refused = await ctl(['--socket', sock, 'status']);
  t.equal(refused.code, 1, 'ctl on a dead server: exit 1');
  t.match(
    refused.output,
    /^Error: connection refused on .*q\.ctl: no qilin is running there[^\n]*\n$/,
    'one clear line',
  );

  const q = await startQilin(t, ['--control-socket', sock, '--control-socket-mode', '0o660', fixture('app.ts')]);
  t.equal(statSync(sock).mode & 0o777, 0o660, 'control_socket_mode applies');
  t.equal((await status(sock)).pid, q.pid, "the stale file was replaced by the new server's socket");

  const second = await runQilin(['-b', `127.0.0.1:${await freePort()}`, '--control-socket', sock, fixture('app.ts')]);
  t.equal(second.code, 1, 'a second server on a live control socket exits 1');
  t.match(second.output, `Control socket ${sock} is in use by a running server`);
  t.notMatch(second.output, /Booting worker/, 'before any worker is forked');
  t.equal((await status(sock)).pid, q.pid, 'the first server keeps its socket');
});

t.test('ctl errors: one line, exit 1', async (t) => {
  const missing = path.join(socketDir(t), 'none.ctl');
  const r = await ctl(['--socket', missing, 'status']);
  t.equal(r.code, 1);
  t.equal(r.output, `Error: no control socket at ${missing} (is qilin running with --control-socket ${missing}?)\n`);

  const env = { QILIN_CONTROL_SOCKET: '' };
  const none = await runQilin(['ctl', 'status'], { env });
  t.equal(none.code, 1);
  t.match(none.output, /^Error: no control socket given[^\n]*\n$/);

  const fromEnv = await runQilin(['ctl', 'reload'], { env: { QILIN_CONTROL_SOCKET: missing } });
  t.match(fromEnv.output, `Error: no control socket at ${missing}`, '$QILIN_CONTROL_SOCKET names the socket');

  for (const args of [['scale'], ['scale', 'two'], ['frobnicate'], []]) {
    const u = await ctl(['--socket', missing, ...args]);
    t.equal(u.code, 1, `ctl ${args.join(' ')}: exit 1`);
    t.match(u.output, /^Error: [^\n]+\n$/);
  }
  const help = await ctl(['--help']);
  t.equal(help.code, 0);
  t.match(help.output, 'usage: qilin ctl');
});

t.test('settings: off switch and mode validation', async (t) => {
  const sock = path.join(socketDir(t), 'q.ctl');
  const q = await startQilin(t, ['--control-socket', sock, '--no-control-socket', fixture('app.ts')]);
  t.notOk(existsSync(sock), '--no-control-socket: no socket');
  t.notMatch(q.output, /Control socket/);

  const bad = await runQilin(['--control-socket', sock, '--control-socket-mode', '600', fixture('app.ts')]);
  t.equal(bad.code, 1);
  t.match(bad.output, /^Error: Invalid value for control_socket_mode: 600 \(permission bits[^\n]*\n$/);
});
