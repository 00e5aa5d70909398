// Process management: workers as another user, daemon mode (-D) with WINCH, and systemd's notify
// protocol — real processes, real users, a real datagram listener.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { bindOnce } from '../../lib/arbiter/ports.js';
import { ENGINES, QILIN, ROOT, fixture, freePort, request, runQilin, sleep, startQilin } from '../helpers.js';

t.setTimeout(420_000);

const APP = fixture('app.ts');
const isRoot = process.getuid?.() === 0;
const notRoot = isRoot ? false : 'needs root (workers switch to nobody; only root can)';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

/**
 * For processes that run as nobody: the test runner's instrumentation (which it adds to every node
 * process started from here) records each process as it exits, under the working tree unless told
 * another directory. nobody cannot write root's tree: give it a directory anyone may write.
 */
const recordsDir = mkdtempSync(path.join(os.tmpdir(), 'qilin-records-'));
mkdirSync(path.join(recordsDir, '.tap/processinfo'), { recursive: true });
for (const d of ['', '.tap', '.tap/processinfo']) chmodSync(path.join(recordsDir, d), 0o1777);
t.teardown(() => rmSync(recordsDir, { recursive: true, force: true }));
const ASIDE = { _TAPJS_PROCESSINFO_CWD_: recordsDir };

function tempDir(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ps = (pid: number, field: string) =>
  execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' }).trim();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function children(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeout = 30_000): Promise<T> {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await sleep(100);
  }
}

/** Kill a daemon this test started (it is in a session of its own: the helpers do not know it). */
function killDaemon(pid: number): void {
  for (const w of children(pid)) {
    try {
      process.kill(w, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** nobody's uid and primary gid, from the system's own tools. */
function nobody(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })),
  };
}

t.test('user and group that do not exist: one line, exit 1, nothing started', async (t) => {
  for (const [flag, setting, what] of [
    ['-u', 'user', 'user'],
    ['--group', 'group', 'group'],
  ] as const) {
    const name = `no-such-${what}-qilin`;
    for (const extra of [[], ['-D']]) {
      const r = await runQilin([...extra, flag, name, '-b', `127.0.0.1:${await freePort()}`, APP]);
      t.equal(r.code, 1, `${[...extra, flag].join(' ')} ${name} → exit 1`);
      t.equal(r.output.trim().split('\n').length, 1, 'one line');
      t.match(r.output, new RegExp(`^Error: Invalid value for ${setting}: "${name}" \\(No such ${what}: '${name}'\\)`));
      t.notMatch(r.output, /Starting qilin/);
    }
  }
});

t.test('not root: workers as another user are refused before anything starts', async (t) => {
  // As root, run qilin as nobody and ask for root; otherwise ask for root as we are.
  const ids = isRoot ? nobody() : null;
  const port = await freePort();
  const r = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const p = spawn(process.execPath, [QILIN, '-u', 'root', '-b', `127.0.0.1:${port}`, APP], {
      cwd: ROOT,
      env: { ...process.env, ...ASIDE },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    let output = '';
    p.stdout.on('data', (d) => {
      output += d;
    });
    p.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
  t.equal(r.code, 1, 'exit 1');
  t.equal(r.output.trim().split('\n').length, 1, 'one line', { output: r.output });
  t.match(
    r.output,
    /^Error: Operation not permitted: workers can run as user root \(uid 0\) only when qilin is started as root/,
  );
});

for (const engine of ENGINES) {
  t.test(
    `${engine}: workers run as nobody, the arbiter stays root, logs stay writable`,
    { skip: notRoot },
    async (t) => {
      const ids = nobody();
      const dir = tempDir(t, 'qilin-user-');
      chmodSync(dir, 0o755); // nobody must reach the log files, as in /var/log/APP
      const access = path.join(dir, 'access.log');
      const q = await startQilin(
        t,
        ['-u', 'nobody', '-g', String(ids.gid), '-w', '2', '--access-logfile', access, APP],
        { engine, env: ASIDE },
      );
      const workers = await q.waitForWorkers(2);
      t.equal(ps(q.pid, 'user'), 'root', 'the arbiter stays root');
      for (const w of workers) {
        t.equal(ps(w, 'user'), 'nobody', `worker ${w} runs as nobody`);
        t.equal(Number(ps(w, 'gid')), ids.gid, `worker ${w} runs in group ${ids.gid}`);
        const groups = /^Groups:\s*(.*)$/m.exec(readFileSync(`/proc/${w}/status`, 'utf8'))![1]!.trim();
        t.equal(groups, String(ids.gid), `worker ${w} keeps none of root's supplementary groups`);
      }
      const r = await request(`${q.url}/pid`);
      t.equal(r.status, 200, 'requests are served');
      t.ok(workers.includes(Number(r.body)), 'by one of those workers');
      t.equal(statSync(access).uid, ids.uid, "the access log belongs to the workers' user");
      await until(
        'the access line',
        () => readFileSync(access, 'utf8'),
        (s) => s.includes('GET /pid'),
      );

      // Rotation: the workers, no longer root, reopen the file the arbiter created for them.
      renameSync(access, `${access}.1`);
      q.signal('SIGUSR1');
      await until('the new access log', () => existsSync(access), Boolean);
      await sleep(500); // the workers reopen on their own USR1, just after the arbiter
      for (let i = 0; i < 4; i++) t.equal((await request(`${q.url}/after-rotation`)).status, 404);
      const fresh = await until(
        'lines in the reopened log',
        () => readFileSync(access, 'utf8'),
        (s) => s.includes('/after-rotation'),
      );
      t.match(fresh, /GET \/after-rotation/, 'the workers write to the reopened access log');
      t.notMatch(q.output, /Cannot reopen the log/);
      t.equal((await q.stop()).code, 0);
    },
  );
}

t.test(
  "node: a unix socket belongs to the workers' user and group; --initgroups gives the user's groups",
  { skip: notRoot },
  async (t) => {
    const ids = nobody();
    const dir = tempDir(t, 'qilin-unix-');
    const sock = path.join(dir, 'app.sock');
    const q = await startQilin(
      t,
      ['-u', 'nobody', '-g', String(ids.gid), '--initgroups', '-m', '0o007', '-b', `unix:${sock}`, APP],
      { env: ASIDE },
    );
    const st = statSync(sock);
    t.equal(st.uid, ids.uid, 'owned by nobody');
    t.equal(st.gid, ids.gid, "in the workers' group");
    t.equal(st.mode & 0o777, 0o770, 'umask 0o007: the group may connect');
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ socketPath: sock, path: '/pid' }, (res) => {
          let b = '';
          res.on('data', (d) => {
            b += d;
          });
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    t.equal(ps(Number(body), 'user'), 'nobody', 'served by a worker running as nobody');
    const groups = /^Groups:\s*(.*)$/m
      .exec(readFileSync(`/proc/${Number(body)}/status`, 'utf8'))![1]!
      .trim()
      .split(/\s+/)
      .map(Number);
    const expected = execFileSync('id', ['-G', 'nobody'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    t.same(new Set(groups), new Set([...expected, ids.gid]), 'the groups the group database gives nobody');
    t.same(await q.stop(), { code: 0, signal: null }, 'stopped', { output: q.output });
    t.notOk(existsSync(sock), 'removed at exit');
  },
);

t.test('a port below 1024 as nobody: uws refuses clearly, node serves it', { skip: notRoot }, async (t) => {
  const lowest = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  let port = 0;
  for (let p = 1023; p >= 600 && p < lowest && port === 0; p--) {
    try {
      port = await bindOnce('127.0.0.1', p);
    } catch {
      /* in use */
    }
  }
  if (port === 0) {
    t.plan(0, 'no privileged port is free here, or any user may bind them');
    return;
  }
  const uws = await runQilin(['--engine', 'uws', '-u', 'nobody', '-b', `127.0.0.1:${port}`, APP], { env: ASIDE });
  t.equal(uws.code, 3, 'uws: the worker cannot boot (exit 3)');
  t.match(
    uws.output,
    new RegExp(
      `Permission denied: 127\\.0\\.0\\.1:${port} \\(uws workers listen themselves, as user nobody, and ports below ${lowest} need root: use --engine node`,
    ),
  );
  const q = await startQilin(t, ['-u', 'nobody', APP], { engine: 'node', port, env: ASIDE });
  const r = await request(`http://127.0.0.1:${port}/pid`);
  t.equal(r.status, 200, 'node: the arbiter binds it as root, the worker serves it as nobody');
  t.equal(ps(Number(r.body), 'user'), 'nobody');
  t.equal((await q.stop()).code, 0);
});

/** `qilin -D ...`: the command's result, and the daemon's pid from its pid file (killed at teardown). */
async function startDaemon(t: Teardown, args: string[]) {
  const dir = tempDir(t, 'qilin-daemon-');
  const pidfile = path.join(dir, 'qilin.pid');
  const errorlog = path.join(dir, 'error.log');
  const port = await freePort();
  const t0 = Date.now();
  const r = await runQilin(
    ['-D', '-p', pidfile, '--error-logfile', errorlog, '--log-level', 'debug', '-b', `127.0.0.1:${port}`, ...args, APP],
    { timeout: 60_000 },
  );
  const took = Date.now() - t0;
  const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
  if (pid) t.teardown(() => killDaemon(pid));
  const log = () => (existsSync(errorlog) ? readFileSync(errorlog, 'utf8') : '');
  return { r, took, pid, pidfile, port, url: `http://127.0.0.1:${port}`, log };
}

t.test('-D: returns 0 once serving; the pid file names a live arbiter; TERM stops it and removes it', async (t) => {
  const d = await startDaemon(t, ['-w', '2']);
  t.equal(d.r.code, 0, 'the command exits 0');
  t.equal(d.r.output, '', 'and says nothing');
  t.ok(d.took < 45_000, `quickly (${d.took} ms)`);
  t.ok(d.pid > 0 && alive(d.pid), `the pid file names a live process (${d.pid})`);
  t.match(ps(d.pid, 'args'), /^qilin: master \[/, 'the arbiter');
  t.equal(Number(ps(d.pid, 'sid')), d.pid, 'leading a session of its own (setsid): no terminal');
  t.equal(
    /^Umask:\s*(\d+)/m.exec(readFileSync(`/proc/${d.pid}/status`, 'utf8'))![1],
    '0022',
    "Gunicorn's daemon umask",
  );
  for (const fd of [0, 1, 2]) t.equal(readlinkSync(`/proc/${d.pid}/fd/${fd}`), '/dev/null', `fd ${fd} is /dev/null`);
  const r = await request(`${d.url}/`);
  t.equal(r.status, 200, 'it serves HTTP right away');
  t.equal(r.body, 'Hello, World!');
  const workers = children(d.pid);
  t.equal(workers.length, 2, 'with its two workers');
  process.kill(d.pid, 'SIGTERM');
  await until(
    'the arbiter to exit',
    () => alive(d.pid),
    (a) => !a,
  );
  t.notOk(existsSync(d.pidfile), 'the pid file is removed');
  t.same(workers.filter(alive), [], 'no worker is left');
  t.match(d.log(), /Handling signal: term/);
});

t.test('-D: what would fail at start is said on the terminal, before detaching', async (t) => {
  const missingDir = path.join(os.tmpdir(), `qilin-no-such-dir-${process.pid}`, 'error.log');
  const r = await runQilin(['-D', '--error-logfile', missingDir, '-b', `127.0.0.1:${await freePort()}`, APP]);
  t.equal(r.code, 1);
  t.match(r.output, /^Error: Invalid value for errorlog: /);
  t.equal(r.output.trim().split('\n').length, 1, 'one line');

  const d = await startDaemon(t, []);
  t.equal(d.r.code, 0);
  const again = await runQilin(['-D', '-p', d.pidfile, '-b', `127.0.0.1:${await freePort()}`, APP]);
  t.equal(again.code, 1, 'a pid file a live server holds: exit 1');
  t.equal(again.output.trim(), `Error: Already running on PID ${d.pid} (or pid file '${d.pidfile}' is stale)`);

  // Taken port: found by the background copy; the command says where to look and exits with its code.
  const taken = await runQilin(['-D', '-b', `127.0.0.1:${d.port}`, APP]);
  t.equal(taken.code, 3, 'exit 3, as the arbiter');
  t.match(
    taken.output,
    /^Error: qilin exited with code 3 before its workers served; see the error log, which is \/dev\/null in the background: set --error-logfile/,
  );
  process.kill(d.pid, 'SIGTERM');
  await until(
    'the arbiter to exit',
    () => alive(d.pid),
    (a) => !a,
  );
});

t.test('WINCH: a daemon stops its workers and stays; HUP brings them back', async (t) => {
  const d = await startDaemon(t, ['-w', '2']);
  t.equal(d.r.code, 0);
  const before = children(d.pid);
  t.equal(before.length, 2);
  process.kill(d.pid, 'SIGWINCH');
  await until(
    'the workers to stop',
    () => children(d.pid),
    (c) => c.length === 0,
  );
  await sleep(1500);
  t.same(children(d.pid), [], 'none is started again');
  t.ok(alive(d.pid), 'the arbiter stays');
  t.match(d.log(), /Handling signal: winch[^]*graceful stop of workers/);
  process.kill(d.pid, 'SIGHUP');
  const after = await until(
    'two new workers',
    () => children(d.pid),
    (c) => c.length === 2,
  );
  t.notOk(
    after.some((p) => before.includes(p)),
    'new workers',
  );
  const r = await until(
    'a served request',
    () => request(`${d.url}/`).catch(() => ({ status: 0 })),
    (x) => x.status === 200,
  );
  t.equal(r.status, 200, 'serving again');
  process.kill(d.pid, 'SIGTERM');
  await until(
    'the arbiter to exit',
    () => alive(d.pid),
    (a) => !a,
  );
  t.notOk(existsSync(d.pidfile));
});

t.test('WINCH without -D: ignored, as Gunicorn', async (t) => {
  const q = await startQilin(t, [APP]);
  const before = q.workerPids();
  q.signal('SIGWINCH');
  await q.waitFor(/SIGWINCH ignored\. Not daemonized/);
  await sleep(500);
  t.same(q.workerPids(), before, 'the workers stay');
  t.equal((await request(`${q.url}/`)).status, 200);
  await q.stop();
});

// A unix datagram listener standing in for systemd: prints each datagram, with the sender's pid from
// its credentials, as a JSON line. Descriptors sent along (systemd-notify's BARRIER=1) are closed.
const LISTENER = `
import array, json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + path[1:] if path.startswith('@') else path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({'listening': True}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', d[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i')
            fds.frombytes(d[:len(d) - len(d) % fds.itemsize])
            for fd in fds: os.close(fd)
    print(json.dumps({'state': data.decode(), 'pid': pid}), flush=True)
`;

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const noNotify = !have('python3')
  ? 'needs python3 (the test listener)'
  : !have('systemd-notify')
    ? 'needs systemd-notify (what qilin sends with)'
    : false;

interface Datagram {
  state: string;
  pid: number | null;
}

async function notifyListener(t: Teardown, address: string): Promise<{ got: Datagram[]; proc: ChildProcess }> {
  const proc = spawn('python3', ['-c', LISTENER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    proc.kill('SIGKILL');
  });
  const got: Datagram[] = [];
  let listening = false;
  let buf = '';
  proc.stdout!.on('data', (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl)) as Datagram & { listening?: boolean };
      buf = buf.slice(nl + 1);
      if (msg.listening) listening = true;
      else if (msg.state !== 'BARRIER=1') got.push(msg); // systemd-notify's wait for systemd to read
    }
  });
  await until('the listener', () => listening, Boolean, 15_000);
  return { got, proc };
}

const states = (got: Datagram[]) => got.map((g) => g.state.split('\n')[0]);

t.test(
  'systemd notify: READY=1, RELOADING=1 and READY=1 around HUP, STOPPING=1, in order',
  { skip: noNotify },
  async (t) => {
    const dir = tempDir(t, 'qilin-notify-');
    const sock = path.join(dir, 'notify.sock');
    const { got } = await notifyListener(t, sock);
    const q = await startQilin(t, ['-w', '2', APP], { env: { NOTIFY_SOCKET: sock } });
    await until(
      'READY=1',
      () => states(got),
      (s) => s.length >= 1,
    );
    const ready = got[0]!;
    t.match(
      ready.state,
      new RegExp(`^READY=1\\nMAINPID=${q.pid}\\nSTATUS=2 workers serving$`),
      'READY=1 with MAINPID once both workers listen',
    );
    // Root lets systemd-notify send with the arbiter's pid: systemd's default NotifyAccess=main accepts it.
    if (isRoot) t.equal(ready.pid, q.pid, "sent with the arbiter's pid in its credentials");
    const first = q.workerPids();

    q.signal('SIGHUP');
    await until(
      'RELOADING=1 and READY=1',
      () => states(got),
      (s) => s.length >= 3,
    );
    t.match(got[1]!.state, /^RELOADING=1\nMONOTONIC_USEC=\d+\n/, 'RELOADING=1 with MONOTONIC_USEC');
    t.match(got[2]!.state, /^READY=1\n/, 'then READY=1');
    const renewed = await until(
      'the old workers to go',
      () => q.workerPids(),
      (p) => p.length === 2 && !p.some((w) => first.includes(w)),
    );
    t.equal(renewed.length, 2, 'the workers were replaced');
    t.equal((await request(`${q.url}/`)).status, 200);

    t.equal((await q.stop()).code, 0);
    await until(
      'STOPPING=1',
      () => states(got),
      (s) => s.length >= 4,
    );
    t.same(states(got), ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1'], 'in that order, nothing else');
  },
);

t.test('systemd notify: an abstract socket (@name)', { skip: noNotify }, async (t) => {
  const address = `@qilin-test-${process.pid}-${Date.now()}`;
  const { got } = await notifyListener(t, address);
  const q = await startQilin(t, [APP], { env: { NOTIFY_SOCKET: address } });
  await until(
    'READY=1',
    () => states(got),
    (s) => s.length >= 1,
  );
  t.match(got[0]!.state, /^READY=1\n/);
  await q.stop();
  await until(
    'STOPPING=1',
    () => states(got),
    (s) => s.includes('STOPPING=1'),
  );
  t.same(states(got), ['READY=1', 'STOPPING=1']);
});

t.test('systemd notify without systemd-notify: one warning, and qilin serves', async (t) => {
  const bin = tempDir(t, 'qilin-nopath-'); // an empty PATH: no systemd-notify to run
  const q = await startQilin(t, [APP], { env: { NOTIFY_SOCKET: path.join(bin, 'notify.sock'), PATH: bin } });
  await q.waitFor(/NOTIFY_SOCKET is set but systemd-notify is not installed: systemd is not told READY=1/);
  t.equal((await request(`${q.url}/`)).status, 200);
  await q.stop();
  t.equal(q.output.match(/systemd-notify is not installed/g)?.length, 1, 'said once');
});
