// Deploying qilin the way Gunicorn is deployed, on the node engine: behind nginx's default proxy
// settings (HTTP/1.0 upstream), on a unix socket, under ab, with systemd socket activation and
// inherited fds, on IPv6, through reloads and worker replacement under connection churn; and the
// arbiter never holds a client connection.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { QILIN, ROOT, Qilin, fixture, freePort, rawExchange, runQilin, sleep, startQilin } from '../helpers.js';

type T = { teardown(fn: () => void | Promise<void>): void };

const APP = fixture('deploy-app.mjs');
const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

/** Absolute path of `bin` on PATH, or null. */
function which(bin: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || null : null;
}
const NGINX = which('nginx');
const AB = which('ab');
const SOCKET_ACTIVATE = which('systemd-socket-activate');
const PYTHON = which('python3');

function tempDir(t: T, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qilin-deploy-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Children this file started outside startQilin (wrapped qilins, nginx): killed even if teardown never runs. */
const groups = new Set<number>();
const killGroups = () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
};
process.on('exit', killGroups);
// tap ends a file that ran out of time with SIGTERM, and teardowns do not run then.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    killGroups();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

function own(t: T, proc: ChildProcess): void {
  groups.add(proc.pid!);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  t.teardown(async () => {
    try {
      process.kill(-proc.pid!, 'SIGQUIT');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 3000);
    await exited;
    clearTimeout(timer);
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    groups.delete(proc.pid!);
  });
}

/**
 * qilin started by `cmd ...prefix` (a wrapper that execs it: same pid), with exactly `args` (no
 * bind added, unlike startQilin), waiting for `ready` workers.
 */
async function spawnQilin(
  t: T,
  args: string[],
  opts: { prefix?: string[]; env?: NodeJS.ProcessEnv; ready?: number; port?: number } = {},
): Promise<Qilin> {
  const [cmd, ...pre] = opts.prefix ?? [process.execPath];
  const proc = spawn(
    cmd!,
    [...pre, ...(opts.prefix ? [process.execPath] : []), QILIN, '--log-level', 'debug', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  own(t, proc);
  const q = new Qilin(proc, opts.port ?? 0);
  if (opts.ready !== 0) await q.waitFor(/Worker \(pid:\d+\) ready/, { count: opts.ready ?? 1, timeout: 30000 });
  return q;
}

interface Target {
  port?: number;
  host?: string;
  socketPath?: string;
}

/** One request on a fresh connection to a TCP port or a unix socket. */
function send(
  to: Target,
  p: string,
  opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: to.host ?? '127.0.0.1',
        port: to.port,
        socketPath: to.socketPath,
        path: p,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface ChurnResult {
  ok: number;
  failed: number;
  errors: Map<string, number>;
}

/** `connections` loops, each request on a new connection (connect, request, close), for `durationMs`. */
async function churn(
  to: Target,
  p: string,
  {
    connections,
    durationMs,
    during,
    until,
    maxMs,
  }: {
    connections: number;
    durationMs: number;
    during?: () => Promise<void>;
    /** Keep going past `durationMs` until this holds (or `maxMs`): a slow machine still gets there. */
    until?: () => boolean;
    maxMs?: number;
  },
): Promise<ChurnResult> {
  const r: ChurnResult = { ok: 0, failed: 0, errors: new Map() };
  const start = Date.now();
  const going = () =>
    Date.now() < start + durationMs || (until !== undefined && !until() && Date.now() < start + (maxMs ?? durationMs));
  const fail = (why: string) => {
    r.failed++;
    r.errors.set(why, (r.errors.get(why) ?? 0) + 1);
  };
  const loop = async () => {
    while (going()) {
      try {
        const res = await send(to, p);
        if (res.status === 200) r.ok++;
        else fail(`status ${res.status}`);
      } catch (err) {
        fail((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
  };
  await Promise.all([...Array.from({ length: connections }, loop), during?.()]);
  return r;
}

/** Wait until something accepts TCP connections on `port` (or `check` says the starter died). */
async function waitListening(port: number, check: () => string | null, timeout = 10000): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    const dead = check();
    if (dead !== null) throw new Error(dead);
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

/**
 * nginx in front of `upstream` (`http://unix:/x.sock:` or `http://127.0.0.1:PORT`) with its default
 * proxy settings: only proxy_pass, so it speaks HTTP/1.0 to qilin and closes after each response.
 */
async function startNginx(t: T, upstream: string): Promise<number> {
  const dir = tempDir(t, 'nginx');
  const port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      // nginx started by root runs its workers as nobody, who could not reach a socket in our 0700 temp dir.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      `  server { listen 127.0.0.1:${port}; location / { proxy_pass ${upstream}; } }`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = spawn(
    NGINX!,
    ['-p', dir, '-e', `${dir}/error.log`, '-c', conf, '-g', `daemon off; pid ${dir}/nginx.pid;`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  own(t, proc);
  const errorLog = () => {
    try {
      return readFileSync(`${dir}/error.log`, 'utf8');
    } catch {
      return '';
    }
  };
  await waitListening(port, () =>
    proc.exitCode !== null ? `nginx exited ${proc.exitCode}: ${out}\n${errorLog()}` : null,
  );
  t.teardown(() => {
    if (process.env.QILIN_TEST_VERBOSE) console.error(errorLog());
  });
  return port;
}

/** Run `n` GETs of `p` through `to`, `parallel` at a time: the statuses seen. */
async function many(to: Target, p: string, n: number, parallel: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      let key: string;
      try {
        key = String((await send(to, p)).status);
      } catch (err) {
        key = (err as Error).message;
      }
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return seen;
}

// One server for the tests that only talk to it (boots are the slow part): TCP and a unix socket,
// the engine picked for the unix bind.
const sharedDir = tempDir(t, 'shared');
const SOCK = path.join(sharedDir, 'app.sock');
const shared = await startQilin(t, ['-w', '2', '-b', '127.0.0.1:0', '-b', `unix:${SOCK}`, APP], { ready: 2 });
const SHARED_PORT = Number(
  new RegExp(`\\[${shared.pid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:(\\d+)`).exec(shared.output)?.[1],
);
const SHARED_URL = `http://127.0.0.1:${SHARED_PORT}`;

// 1. nginx, default proxy settings ------------------------------------------------------------------

t.test(
  'nginx (default proxy_pass, HTTP/1.0 upstream) in front of qilin on a unix socket',
  { skip: NGINX ? false : 'nginx is not installed' },
  async (t) => {
    const q = shared;
    const sock = SOCK;
    t.match(
      q.output,
      `Using engine: node (node:http) (bind unix:${sock} needs it)`,
      'the node engine, picked for the unix bind',
    );
    t.match(q.output, `Listening at: unix:${sock}`);
    const port = await startNginx(t, `http://unix:${sock}:`);
    const get = await send({ port }, '/');
    t.equal(get.status, 200, 'GET through nginx');
    t.equal(get.body, 'Hello, World!');
    const post = await send({ port }, '/echo', { method: 'POST', body: 'a body through nginx' });
    t.equal(post.status, 200, 'POST through nginx');
    t.equal(post.body, 'a body through nginx', 'the body arrived whole');
    t.equal(post.headers['x-method'], 'POST');
    const seen = await many({ port }, '/', 200, 20);
    t.same(Object.fromEntries(seen), { 200: 200 }, '200 requests through nginx, all 200');
  },
);

t.test(
  'nginx (default proxy_pass) in front of qilin on TCP, node engine',
  { skip: NGINX ? false : 'nginx is not installed' },
  async (t) => {
    const port = await startNginx(t, `http://127.0.0.1:${SHARED_PORT}`);
    const get = await send({ port }, '/');
    t.equal(get.status, 200);
    t.equal(get.body, 'Hello, World!');
    const body = 'x'.repeat(100_000);
    const post = await send({ port }, '/echo', { method: 'POST', body });
    t.equal(post.status, 200);
    t.equal(post.body.length, body.length, 'a 100 kB body through nginx, whole');
    const seen = await many({ port }, '/', 200, 20);
    t.same(Object.fromEntries(seen), { 200: 200 }, '200 requests through nginx, all 200');
  },
);

t.test("uws engine: the start-up warning about HTTP/1.0 (nginx's default proxy_pass)", async (t) => {
  // Said before any worker boots: no need to wait for one.
  const q = await startQilin(t, ['--engine', 'uws', APP], { ready: false });
  await q.waitFor(/Listening at:/);
  const m = /Using engine: uws \(uWebSockets\.js ([\d.]+)\)/.exec(q.output);
  t.ok(m, 'the uws engine');
  if (m?.[1] === '20.30.0') {
    t.match(
      q.output,
      /\[WARNING\] uWebSockets\.js 20\.30\.0 cannot answer HTTP\/1\.0 requests \(nginx's default proxy_pass.*proxy_http_version 1\.1;.*--engine node/,
      'warned, with both ways out',
    );
  } else {
    t.notMatch(q.output, /cannot answer HTTP\/1\.0/, 'a build that answers HTTP/1.0: no warning');
  }
});

// 2. ab ---------------------------------------------------------------------------------------------

t.test(
  'ab -n 500 -c 20 against the node engine: no failed request, all 2xx',
  { skip: AB ? false : 'ab (apache2-utils) is not installed' },
  async (t) => {
    const r = spawnSync(AB!, ['-n', '500', '-c', '20', `${SHARED_URL}/`], { encoding: 'utf8', timeout: 60000 });
    const out = r.stdout + r.stderr;
    t.equal(r.status, 0, 'ab finished');
    t.match(out, /Complete requests:\s+500\n/);
    t.match(out, /Failed requests:\s+0\n/, 'Failed requests: 0');
    t.notMatch(out, /Non-2xx responses/, 'no non-2xx response');
    t.match(out, /Document Length:\s+13 bytes/, "the app's body");
  },
);

// 3. HTTP/1.0 ---------------------------------------------------------------------------------------

/** Read one response with a Content-Length from `sock`, resolving with its head and body. */
function readResponse(sock: net.Socket, timeout = 3000): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no whole response in ${timeout} ms: ${buf.toString('latin1')}`));
    }, timeout);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!cl) {
        cleanup();
        reject(new Error(`no content-length: ${head}`));
        return;
      }
      if (buf.length - end - 4 < Number(cl[1])) return;
      cleanup();
      resolve({ head, body: buf.subarray(end + 4, end + 4 + Number(cl[1])).toString() });
    };
    const cleanup = () => {
      clearTimeout(timer);
      sock.off('data', onData);
    };
    sock.on('data', onData);
  });
}

t.test('HTTP/1.0 on --engine node: Content-Length and close; keep-alive when asked', async (t) => {
  const q = { port: SHARED_PORT, url: SHARED_URL };
  const plain = await rawExchange(q.port, 'GET / HTTP/1.0\r\n\r\n', 3000);
  t.match(plain.text, /^HTTP\/1\.[01] 200 OK\r\n/, '200');
  t.match(plain.text, /\r\ncontent-length: 13\r\n/i, 'Content-Length present');
  t.notMatch(plain.text, /transfer-encoding/i, 'no chunked encoding for an HTTP/1.0 client');
  t.ok(plain.text.endsWith('\r\n\r\nHello, World!'), 'the body');
  t.ok(plain.closed, 'the server closed the connection after the response');

  const post = await rawExchange(q.port, 'POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello', 3000);
  t.ok(post.text.startsWith('HTTP/1.1 200') || post.text.startsWith('HTTP/1.0 200'), 'POST 200');
  t.ok(post.text.endsWith('\r\n\r\nhello') && post.closed, 'POST body echoed, then closed');

  const sock = net.connect(q.port, '127.0.0.1');
  t.teardown(() => {
    sock.destroy();
  });
  await new Promise((resolve) => sock.once('connect', resolve));
  let closed = false;
  sock.on('close', () => {
    closed = true;
  });
  sock.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  const first = await readResponse(sock);
  t.match(first.head, /\r\nconnection: keep-alive/i, 'keep-alive acknowledged');
  t.equal(first.body, 'Hello, World!');
  await sleep(100);
  t.notOk(closed, 'still open after the first response');
  sock.write('GET /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  const second = await readResponse(sock);
  t.match(second.head, /^HTTP\/1\.[01] 200/, 'a second request on the same connection');
  t.match(second.body, /^\d+$/);

  if (which('curl')) {
    const c = spawnSync('curl', ['-s', '-i', '--http1.0', `${q.url}/`], { encoding: 'utf8', timeout: 10000 });
    t.equal(c.status, 0, 'curl --http1.0 succeeded');
    t.match(c.stdout, /^HTTP\/1\.[01] 200/);
    t.match(c.stdout, /\r\ncontent-length: 13\r\n/i);
  }
});

// 4. systemd socket activation ---------------------------------------------------------------------

t.test(
  "systemd socket activation: serves on systemd's socket, bind ignored",
  { skip: SOCKET_ACTIVATE ? false : 'systemd-socket-activate is not installed' },
  async (t) => {
    const port = await freePort();
    const ignored = await freePort();
    const proc = spawn(
      SOCKET_ACTIVATE!,
      [
        '-l',
        `127.0.0.1:${port}`,
        '--',
        process.execPath,
        QILIN,
        '--log-level',
        'debug',
        '-b',
        `127.0.0.1:${ignored}`,
        APP,
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    own(t, proc);
    const q = new Qilin(proc, port);
    await q.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
    // systemd-socket-activate execs qilin at the first connection; that connection waits in the queue.
    const first = await send({ port }, '/pid');
    t.equal(first.status, 200, 'the first connection, queued before qilin started, is served');
    t.match(q.output, 'Using engine: node (node:http) (systemd socket activation (LISTEN_FDS) needs it)');
    t.match(q.output, /Using 1 socket\(s\) from systemd; bind is ignored/);
    t.match(
      q.output,
      `[INFO] Listening at: http://127.0.0.1:${port} (fd://3) (${q.pid})\n`,
      'logged as the address systemd bound, and the descriptor',
    );
    t.equal(Number(first.body), q.workerPids()[0], 'answered by the worker');
    const seen = await many({ port }, '/', 50, 10);
    t.same(Object.fromEntries(seen), { 200: 50 });
    await t.rejects(send({ port: ignored }, '/'), { code: 'ECONNREFUSED' }, "nothing on the bind setting's port");
    q.signal('SIGTERM');
    t.equal((await q.exited).code, 0, 'clean exit');
  },
);

// 5. fd://N -----------------------------------------------------------------------------------------

const EXEC_WITH_FD3 = [
  'import socket, os, sys',
  's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
  's.bind(("127.0.0.1", 0))',
  's.listen(64)',
  'print("PORT", s.getsockname()[1], flush=True)',
  'if s.fileno() != 3: os.dup2(s.fileno(), 3)',
  'os.set_inheritable(3, True)',
  'os.execvp(sys.argv[1], sys.argv[1:])',
].join('\n');

t.test(
  'fd://3: qilin serves on a listening socket it inherited',
  { skip: PYTHON ? false : 'python3 is not installed' },
  async (t) => {
    const q = await spawnQilin(t, ['-b', 'fd://3', APP], { prefix: [PYTHON!, '-c', EXEC_WITH_FD3] });
    const port = Number(/PORT (\d+)/.exec(q.output)?.[1]);
    t.ok(port > 0, "the socket's port");
    t.match(q.output, 'Using engine: node (node:http) (bind fd://3 needs it)');
    t.match(
      q.output,
      `[${q.pid}] [INFO] Listening at: http://127.0.0.1:${port} (fd://3) (${q.pid})\n`,
      'logged as the address it is bound to, and the descriptor',
    );
    const seen = await many({ port }, '/', 100, 10);
    t.same(Object.fromEntries(seen), { 200: 100 }, '100 requests on the inherited socket');
    q.signal('SIGTERM');
    t.equal((await q.exited).code, 0, 'clean exit');
  },
);

t.test('fd://N that is not an open socket: a clear error', async (t) => {
  const r = await runQilin(['-b', 'fd://9', APP]);
  t.equal(r.code, 3, 'exit 3');
  t.match(r.output, /Reason: Can't use fd:\/\/9: /);
});

// 6. IPv6 -------------------------------------------------------------------------------------------

function ipv6Loopback(): Promise<string | false> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (err) => resolve(`no IPv6 loopback here (${(err as NodeJS.ErrnoException).code})`));
    s.listen(0, '::1', () => s.close(() => resolve(false)));
  });
}

const NO_V6 = await ipv6Loopback();

t.test('[::1]:PORT on both engines', { skip: NO_V6 }, async (t) => {
  for (const engine of ['node', 'uws']) {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '::1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const q = await startQilin(t, ['--engine', engine, '-b', `[::1]:${port}`, APP]);
    t.match(q.output, `Listening at: http://[::1]:${port}`, `${engine}: logged as Gunicorn does`);
    const r = await send({ host: '::1', port }, '/');
    t.equal(r.status, 200, `${engine}: served on [::1]`);
    t.equal(r.body, 'Hello, World!');
    await t.rejects(send({ port }, '/'), { code: 'ECONNREFUSED' }, `${engine}: not on 127.0.0.1`);
    q.signal('SIGTERM');
    t.equal((await q.exited).code, 0);
  }
});

// 7. Unix socket details ----------------------------------------------------------------------------

t.test(
  'unix socket: mode from --umask; a live path → exit 3, Connection in use; removed at a clean exit',
  async (t) => {
    const dir = tempDir(t, 'umask');
    const sock = path.join(dir, 'app.sock');
    const q = await startQilin(t, ['--umask', '0o007', '-b', `unix:${sock}`, APP]);
    const st = lstatSync(sock);
    t.ok(st.isSocket(), 'a socket file');
    t.equal((st.mode & 0o777).toString(8), '770', 'srwxrwx--- (umask 0o007)');
    t.equal((await send({ socketPath: sock }, '/')).status, 200);

    const r = await runQilin(['-b', `unix:${sock}`, APP]);
    t.equal(r.code, 3, "a second server on the path: exit 3 (Gunicorn's boot error)");
    t.match(r.output, `Reason: Connection in use: unix:${sock}`);
    t.notMatch(r.output, /Booting worker/, 'no worker forked');
    t.equal((await send({ socketPath: sock }, '/')).status, 200, 'the running server still serves');
    t.ok(lstatSync(sock).isSocket(), 'and its socket file is still there');

    q.signal('SIGTERM');
    t.equal((await q.exited).code, 0);
    t.notOk(existsSync(sock), 'the socket file is removed at exit');
  },
);

t.test('unix socket: a stale file from a killed run is replaced', async (t) => {
  const dir = tempDir(t, 'stale');
  const sock = path.join(dir, 'app.sock');
  const q = await startQilin(t, ['-w', '2', '-b', `unix:${sock}`, APP], { ready: false });
  await q.waitFor(/Booting worker with pid: \d+[^]*Booting worker with pid: \d+/);
  q.kill(); // SIGKILL to the arbiter and its workers: nothing cleans up
  await q.exited;
  await sleep(200);
  t.ok(lstatSync(sock).isSocket(), 'the dead run left its socket file');
  const q2 = await startQilin(t, ['-b', `unix:${sock}`, APP]);
  const r = await send({ socketPath: sock }, '/pid');
  t.equal(r.status, 200, 'the new run serves on the path');
  t.ok(q2.workerPids().includes(Number(r.body)), 'answered by the new run');
});

t.test('unix socket: a regular file at the path → clear error, file untouched', async (t) => {
  const dir = tempDir(t, 'regular');
  const file = path.join(dir, 'app.sock');
  writeFileSync(file, 'not a socket');
  const r = await runQilin(['-b', `unix:${file}`, APP]);
  t.not(r.code, 0, 'non-zero exit');
  t.match(r.output, `unix:${file}`, 'names the bind');
  t.match(r.output, /exists and is not a socket/, 'says what is wrong');
  t.equal(readFileSync(file, 'utf8'), 'not a socket', 'the file is left alone');
});

t.test('unix socket in a directory that does not exist → clear error', async (t) => {
  const dir = tempDir(t, 'nodir');
  const sock = path.join(dir, 'missing', 'app.sock');
  const r = await runQilin(['-b', `unix:${sock}`, APP]);
  t.equal(r.code, 3);
  t.match(r.output, `unix:${sock}`, 'names the bind');
  t.match(r.output, `directory ${path.join(dir, 'missing')} does not exist`, 'says the directory is missing');
});

// 8. uws cannot serve a unix socket -----------------------------------------------------------------

t.test('--engine uws -b unix:PATH → exit 1, one line naming the setting engine', async (t) => {
  const r = await runQilin(['--engine', 'uws', '-b', 'unix:/x.sock', APP]);
  t.equal(r.code, 1);
  const lines = r.output.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /\bengine\b/, 'names the setting');
  t.match(lines[0], /unix:\/x\.sock/, 'and the bind');
  t.notOk(existsSync('/x.sock'), 'nothing created');
});

// 9. HUP keeps the sockets --------------------------------------------------------------------------

t.test(
  'HUP on the node engine keeps the listening socket: no refused connection; a bind added on HUP is served',
  async (t) => {
    const dir = tempDir(t, 'hup');
    const portA = await freePort();
    const sock = path.join(dir, 'b.sock');
    const config = path.join(dir, 'qilin.config.mjs');
    writeFileSync(config, `export default { engine: 'node', workers: 1, bind: ['127.0.0.1:${portA}'] };\n`);
    const q = await spawnQilin(t, ['-c', config, APP], { ready: 1, port: portA });
    const before = q.workerPids();
    const result = await churn({ port: portA }, '/', {
      connections: 10,
      durationMs: 4000,
      during: async () => {
        await sleep(800);
        writeFileSync(
          config,
          `export default { engine: 'node', workers: 1, bind: ['127.0.0.1:${portA}', 'unix:${sock}'] };\n`,
        );
        q.signal('SIGHUP');
        await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 30000 });
      },
    });
    t.ok(result.ok > 100, `requests went through the reload (${result.ok})`);
    t.equal(result.failed, 0, `no failed request during the HUP ${JSON.stringify(Object.fromEntries(result.errors))}`);
    const arbiterSays = (re: string) => count(q.output, new RegExp(`\\[${q.pid}\\] \\[INFO\\] Listening at: ${re}`));
    t.equal(arbiterSays(`http://127\\.0\\.0\\.1:${portA} `), 1, 'the TCP socket was kept, not made again');
    t.equal(arbiterSays(`unix:${sock} `), 1, 'the new bind is logged');
    const after = await oldGone(q, before);
    t.notOk(
      after.some((p) => before.includes(p)),
      'the old workers are gone',
    );
    const viaUnix = await send({ socketPath: sock }, '/pid');
    t.equal(viaUnix.status, 200, 'the bind added by the HUP is served');
    t.ok(after.includes(Number(viaUnix.body)), 'by a new worker');
    t.equal((await send({ port: portA }, '/')).status, 200, 'and the old one still');

    // A HUP that drops the unix bind: the file goes away, TCP still served.
    writeFileSync(config, `export default { engine: 'node', workers: 1, bind: ['127.0.0.1:${portA}'] };\n`);
    q.signal('SIGHUP');
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 3, timeout: 30000 });
    await sleep(300);
    t.notOk(existsSync(sock), 'a bind dropped on HUP: its socket file is removed');
    t.equal((await send({ port: portA }, '/')).status, 200);
    q.signal('SIGTERM');
    t.equal((await q.exited).code, 0);
  },
);

/** The arbiter's workers once none of `old` is left (they finish their requests first). */
async function oldGone(q: Qilin, old: number[], timeout = 15000): Promise<number[]> {
  const end = Date.now() + timeout;
  for (;;) {
    const pids = q.workerPids();
    if (!pids.some((p) => old.includes(p)) || Date.now() > end) return pids;
    await sleep(100);
  }
}

// 10. Worker replacement under connection churn -----------------------------------------------------

/** Run in a network namespace of our own: loopback up, tcp_migrate_req=0 there only. */
const NETNS_SETUP = 'ip link set lo up && echo 0 > /proc/sys/net/ipv4/tcp_migrate_req';

/** Whether we may make such a namespace (root, unshare, ip): else why not. */
function netnsWithoutMigration(): string | false {
  if (!which('unshare') || !which('nsenter') || !which('ip')) return 'unshare, nsenter or ip (iproute2) is missing';
  const r = spawnSync('unshare', ['-n', '--', 'sh', '-c', `${NETNS_SETUP} && cat /proc/sys/net/ipv4/tcp_migrate_req`], {
    encoding: 'utf8',
  });
  return r.status === 0 && r.stdout.trim() === '0'
    ? false
    : `no private network namespace here (${(r.stderr || r.stdout).trim()})`;
}

t.test(
  'max_requests replacement under connection churn on the node engine, tcp_migrate_req=0: nothing lost',
  async (t) => {
    // The sysctl is set in a namespace of our own: test files running beside this one set it globally.
    const noNetns = netnsWithoutMigration();
    const dir = tempDir(t, 'churn');
    const port = await freePort();
    const prefix = noNetns ? undefined : ['unshare', '-n', '--', 'sh', '-c', `${NETNS_SETUP} && exec "$@"`, 'sh'];
    const q = await spawnQilin(
      t,
      ['--engine', 'node', '-w', '2', '--max-requests', '300', '-b', `127.0.0.1:${port}`, APP],
      { prefix, ready: 2, port },
    );
    const inNs = (cmd: string[]) => (noNetns ? cmd : ['nsenter', '-t', String(q.pid), '-n', ...cmd]);
    const migrate = spawnSync(
      inNs(['cat', '/proc/sys/net/ipv4/tcp_migrate_req'])[0]!,
      inNs(['cat', '/proc/sys/net/ipv4/tcp_migrate_req']).slice(1),
      { encoding: 'utf8' },
    ).stdout.trim();
    if (noNetns) t.comment(`${noNetns}: running with the machine's net.ipv4.tcp_migrate_req=${migrate}`);
    else t.equal(migrate, '0', 'net.ipv4.tcp_migrate_req=0 where qilin runs');

    // 50 loops, a new connection per request, for 6 s and on until 6 workers were replaced (at most 25 s).
    const stop = path.join(dir, 'stop');
    const [cmd, ...args] = inNs([
      process.execPath,
      fixture('deploy-churn.mjs'),
      String(port),
      '50',
      '6000',
      '25000',
      stop,
    ]);
    const client = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    own(t, client);
    let out = '';
    client.stdout!.on('data', (d) => {
      out += d;
    });
    const done = new Promise<void>((resolve) => client.once('exit', () => resolve()));
    const restarts = () => count(q.output, /Autorestarting worker/);
    while (client.exitCode === null && restarts() < 6) await sleep(100);
    writeFileSync(stop, '');
    await done;
    const result = JSON.parse(out) as { ok: number; failed: number; errors: Record<string, number> };
    t.ok(result.ok > 0, `${result.ok} requests`);
    t.equal(result.failed, 0, `no failed request ${JSON.stringify(result.errors)}`);
    t.ok(restarts() >= 6, `workers replaced under load (${restarts()} Autorestarting worker)`);
  },
);

// 11. The arbiter holds no client connection --------------------------------------------------------

/** Socket inodes the process `pid` holds. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) out.add(m[1]!);
  }
  return out;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '0A': 'LISTEN',
  '06': 'TIME_WAIT',
  '08': 'CLOSE_WAIT',
};

/** The arbiter's sockets, described: TCP by state, unix by state and path. */
function describeSockets(pid: number): { tcp: string[]; unix: string[] } {
  const inodes = socketInodes(pid);
  const tcp: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9]!)) tcp.push(TCP_STATES[cols[3]!] ?? cols[3]!);
    }
  }
  const unix: string[] = [];
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode [Path]; St 01 unconnected (a listener), 03 connected.
    if (cols.length > 6 && inodes.has(cols[6]!))
      unix.push(`${cols[5] === '03' ? 'connected' : 'unconnected'} ${cols[7] ?? '(no path)'}`);
  }
  return { tcp, unix };
}

t.test(
  'the arbiter holds no client connection under load (TCP and unix binds)',
  { skip: existsSync('/proc/net/unix') ? false : 'needs Linux /proc' },
  async (t) => {
    const q = shared;
    const sock = SOCK;
    const port = SHARED_PORT;
    const snapshots: { tcp: string[]; unix: string[] }[] = [];
    const during = async () => {
      for (let i = 0; i < 8; i++) {
        await sleep(250);
        snapshots.push(describeSockets(q.pid));
      }
    };
    const [tcpLoad, unixLoad] = await Promise.all([
      churn({ port }, '/', { connections: 20, durationMs: 2500, during }),
      churn({ socketPath: sock }, '/', { connections: 20, durationMs: 2500 }),
    ]);
    t.ok(tcpLoad.ok > 100 && unixLoad.ok > 100, `load ran (${tcpLoad.ok} TCP, ${unixLoad.ok} unix)`);
    t.equal(tcpLoad.failed + unixLoad.failed, 0, 'no failed request');
    t.equal(snapshots.length, 8);
    for (const s of snapshots) {
      t.same(s.tcp, ['LISTEN'], 'TCP: the listening socket only');
      const withPath = s.unix.filter((u) => u.endsWith(sock));
      t.same(withPath, [`unconnected ${sock}`], 'unix: the listening socket only, no accepted connection');
      t.ok(
        s.unix.every((u) => u === `unconnected ${sock}` || u === 'connected (no path)'),
        `other unix sockets are the workers' IPC channels (${s.unix.join(', ')})`,
      );
    }
  },
);

// Backlog: Gunicorn's `backlog` reaches listen(2) of the shared socket -------------------------------

t.test(
  '--backlog sets the listen queue of the shared socket',
  {
    skip: which('ss') ? false : 'ss (iproute2) is not installed',
  },
  async (t) => {
    const q = await startQilin(t, ['--engine', 'node', '--backlog', '100', APP]);
    const out = spawnSync('ss', ['-Hltn', `sport = :${q.port}`], { encoding: 'utf8' }).stdout;
    // For a listener, ss's Send-Q column is the backlog it was given (capped by net.core.somaxconn).
    const sendQ = Number(out.trim().split(/\s+/)[2]);
    t.equal(sendQ, 100, `backlog 100 (${out.trim()})`);
  },
);
