// Start real qilin arbiters on free ports, talk real HTTP, send real signals, and always clean up.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const QILIN = path.join(ROOT, 'dist/bin/qilin.js');
export const fixture = (name: string) => path.join(ROOT, 'test/fixtures', name);

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Process groups of the servers this test process started: killed even if teardown never runs. */
const started = new Set<number>();
const killStarted = () => {
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  started.clear();
};
process.on('exit', killStarted);
// tap ends a test process that ran out of time with SIGTERM: teardowns do not run then.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    killStarted();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // nobody else handles it: die as before
  });
}

/** A port the OS says is free now. */
export const freePort = (): Promise<number> => bindOnce('127.0.0.1', 0);

export type Engine = 'uws' | 'node';
/** The engines every end-to-end suite runs on. */
export const ENGINES: readonly Engine[] = ['uws', 'node'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Qilin {
  output = '';
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    proc.stdout!.on('data', (d) => {
      this.output += d;
    });
    proc.stderr!.on('data', (d) => {
      this.output += d;
    });
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }
  get pid(): number {
    return this.proc.pid!;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Wait until the combined output matches (counting matches when `count` > 1). */
  async waitFor(re: RegExp, { timeout = 15000, count = 1 } = {}): Promise<void> {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    const end = Date.now() + timeout;
    while ((this.output.match(g)?.length ?? 0) < count) {
      if (this.exit) throw new Error(`qilin exited (${JSON.stringify(this.exit)}) before ${re}:\n${this.output}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${this.output}`);
      await sleep(25);
    }
  }

  /** Pids of the arbiter's live worker processes. */
  workerPids(): number[] {
    try {
      return execFileSync('pgrep', ['-P', String(this.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  async waitForWorkers(n: number, timeout = 15000): Promise<number[]> {
    const end = Date.now() + timeout;
    for (;;) {
      const pids = this.workerPids();
      if (pids.length === n) return pids;
      if (Date.now() > end) throw new Error(`expected ${n} workers, have ${pids.length}:\n${this.output}`);
      await sleep(50);
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM', timeout = 15000): Promise<Exit> {
    if (!this.exit) this.proc.kill(sig);
    const t = setTimeout(() => this.kill(), timeout);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }

  /** Kill the arbiter and every process in its group. */
  kill(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Wait until this many workers report ready (needs --log-level debug; default: workers from args or 1). */
  ready?: number | false;
  port?: number;
  /** `--engine` to serve with (default: qilin's choice). */
  engine?: Engine;
}

/**
 * Start `qilin ARGS... APP` on a free port (unless ARGS bind one), with debug logs (and `--engine`
 * when `opts.engine` is given), and stop it at teardown.
 */
export async function startQilin(t: Teardown, args: string[], opts: StartOptions = {}): Promise<Qilin> {
  const port = opts.port ?? (await freePort());
  const full = [
    '--log-level',
    'debug',
    ...(opts.engine ? ['--engine', opts.engine] : []),
    ...(args.some((a) => a === '-b' || a.startsWith('--bind')) ? [] : ['-b', `127.0.0.1:${port}`]),
    ...args,
  ];
  const proc = spawn(process.execPath, [QILIN, ...full], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: teardown can kill the arbiter and its workers together
  });
  const q = new Qilin(proc, port);
  started.add(proc.pid!);
  void q.exited.then(() => started.delete(proc.pid!));
  t.teardown(async () => {
    if (!q.exit) {
      q.signal('SIGQUIT');
      const t2 = setTimeout(() => q.kill(), 3000);
      await q.exited;
      clearTimeout(t2);
    }
    q.kill();
  });
  const wi = args.findIndex((a) => a === '-w' || a === '--workers');
  const ready = opts.ready ?? (wi >= 0 ? Number(args[wi + 1]) : 1);
  if (ready) await q.waitFor(/Worker \(pid:\d+\) ready/, { count: ready });
  return q;
}

/** Run qilin to completion (for commands that exit by themselves). */
export function runQilin(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): Promise<Exit & { output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [QILIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    started.add(proc.pid!);
    let output = '';
    proc.stdout.on('data', (d) => {
      output += d;
    });
    proc.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, opts.timeout ?? 20000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      started.delete(proc.pid!);
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      resolve({ code, signal, output });
    });
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  rawHeaders: string[];
}

/** One request on a fresh connection (no keep-alive pool), so every request may reach another worker. */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Write raw bytes on a socket; resolve with everything read until the server closes or `ms` pass. */
export function rawExchange(
  port: number,
  data: Buffer | string,
  ms = 2000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closed });
    }, ms);
    sock.on('data', (d) => {
      text += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    sock.write(data);
  });
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
}

/**
 * Keep `connections` clients busy with GET `url` for `durationMs` (bounded, loopback only); `during`
 * runs meanwhile (send signals from it). Every request that is not a 200 counts as failed. Keep-alive
 * by default; `churn` opens a new connection for every request (and closes it after the response).
 */
export async function loadFor(
  url: string,
  {
    connections = 8,
    durationMs = 3000,
    during,
    churn = false,
  }: { connections?: number; durationMs?: number; during?: () => Promise<void>; churn?: boolean } = {},
): Promise<LoadResult> {
  const agent = churn
    ? new http.Agent({ keepAlive: false })
    : new http.Agent({ keepAlive: true, maxSockets: connections });
  const result: LoadResult = { ok: 0, failed: 0, errors: [] };
  const end = Date.now() + durationMs;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) result.ok++;
          else {
            result.failed++;
            result.errors.push(`status ${res.statusCode}`);
          }
          resolve();
        });
      });
      req.on('error', (err) => {
        result.failed++;
        result.errors.push(err.message);
        resolve();
      });
    });
  const client = async () => {
    while (Date.now() < end) await one();
  };
  await Promise.all([...Array.from({ length: connections }, client), during?.()]);
  agent.destroy();
  return result;
}

const MIGRATE = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * Zero-drop worker replacement with per-worker SO_REUSEPORT listeners needs net.ipv4.tcp_migrate_req=1
 * (docs/differences.md). Turn it on for this test file when we may, and put it back after.
 * Returns why it could not be turned on, or null when it is on.
 */
export function enableReusePortMigration(t: Teardown): string | null {
  let before: string;
  try {
    before = readFileSync(MIGRATE, 'utf8').trim();
  } catch {
    return `${MIGRATE} is not available (Linux >= 5.14 needed)`;
  }
  if (before === '1') return null;
  try {
    writeFileSync(MIGRATE, '1');
  } catch {
    return `${MIGRATE} is 0 and cannot be set here (needs root)`;
  }
  t.teardown(() => {
    try {
      writeFileSync(MIGRATE, before);
    } catch {
      /* leave it */
    }
  });
  return null;
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  chunked: boolean;
}

/**
 * Parse every complete response in `text` (as read from one connection): Content-Length framed,
 * chunked, or (neither) to the close; `heads[i]` marks the i-th as an answer to HEAD.
 */
export function parseResponses(text: string, heads: boolean[] = []): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const k = l.slice(0, i).toLowerCase();
      headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
    }
    rest = rest.slice(end + 4);
    let body = '';
    const chunked = headers['transfer-encoding'] === 'chunked';
    const noBody = heads[out.length] === true || status === 204 || status === 304;
    if (noBody) {
      /* no body on the wire */
    } else if (chunked) {
      for (;;) {
        const nl = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, nl), 16);
        rest = rest.slice(nl + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      const n = headers['content-length'] === undefined ? rest.length : Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    }
    out.push({ status, headers, body, chunked });
  }
  return out;
}

/** An HTTP/1.1 GET as raw bytes, with extra header lines. */
export const rawGet = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

/** GET `path` every 100 ms for `ms`: the statuses (0: refused or reset), and the pids that answered (`pidOf` the body). */
export async function pollFor(
  q: Qilin,
  ms: number,
  path: string,
  pidOf: (body: string) => number,
): Promise<{ statuses: number[]; pids: Set<number> }> {
  const statuses: number[] = [];
  const pids = new Set<number>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await request(q.url + path);
      statuses.push(r.status);
      if (r.status === 200) pids.add(pidOf(r.body));
    } catch {
      statuses.push(0);
    }
    await sleep(100);
  }
  return { statuses, pids };
}

/** GET /metrics: the samples as name{labels} → value. */
export function scrapeMetrics(
  target: { port?: number; socketPath?: string },
  p = '/metrics',
): Promise<{ status: number; type: string; samples: Map<string, number>; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', ...target, path: p, agent: false }, (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          const samples = new Map<string, number>();
          for (const line of text.split('\n')) {
            if (line === '' || line.startsWith('#')) continue;
            const i = line.lastIndexOf(' ');
            samples.set(line.slice(0, i), Number(line.slice(i + 1)));
          }
          resolve({ status: res.statusCode!, type: String(res.headers['content-type']), samples, text });
        });
      })
      .on('error', reject);
  });
}

/** Direct children of `pid` (from ps): pid, state letter (`Z`: a zombie), command name. */
export function childrenOf(pid: number): { pid: number; state: string; comm: string }[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,stat=,comm=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // none
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [p, st, comm] = l.trim().split(/\s+/);
      return { pid: Number(p), state: st!.slice(0, 1), comm: comm! };
    });
}

/** A self-signed EC (P-256) certificate for localhost and 127.0.0.1, valid for a day: written to `key` and `cert`. */
export function selfSignedCert(key: string, cert: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}
