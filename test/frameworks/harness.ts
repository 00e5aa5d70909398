// The framework compatibility suite: each app under apps/<id>/ is built for production (when its
// inputs changed), served by its framework's own server and by qilin on each engine it runs on, and
// sent the same requests; the answers are compared field by field. run.ts prints and writes the grid.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import type { Command, CompatRequest, Difference, FrameworkApp, RequestName } from './types.js';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const APPS = path.join(HERE, 'apps');
export const QILIN = path.join(ROOT, 'dist/bin/qilin.js');
const STAMP = '.compat-stamp';

/** Every request name, in the grid's order. */
export const REQUESTS: readonly RequestName[] = [
  'page',
  'page-cookie',
  'json',
  'post-json',
  'post-form',
  'static',
  'static-304',
  'redirect',
  'set-cookie',
  'not-found',
  'head',
  'stream',
];

/** The response fields compared, besides the status and the decoded body. */
export const FIELDS = [
  'content-type',
  'content-length',
  'set-cookie',
  'location',
  'etag',
  'cache-control',
  'content-encoding',
  'vary',
  'last-modified',
] as const;

export type Engine = 'uws' | 'node';

export interface FieldDiff {
  readonly field: string;
  readonly own: string;
  readonly qilin: string;
  /** The manifest's reason, when the difference is a listed one. */
  readonly why?: string;
}

export interface RequestResult {
  readonly name: RequestName;
  /** identical; listed: every difference is in the manifest; failed: some is not, or no answer. */
  readonly outcome: 'identical' | 'listed' | 'failed';
  readonly diffs: readonly FieldDiff[];
  /** Content-Length against chunked: how each side framed the body (not a failure). */
  readonly framing?: string;
  readonly error?: string;
  /** What the framework's own server answered: status, Content-Type, decoded body length. */
  readonly answer?: string;
}

export interface Row {
  readonly id: string;
  readonly name: string;
  readonly engine: Engine;
  readonly results: readonly RequestResult[];
  /** Why the row could not run at all (a build or a server that failed). */
  readonly error?: string;
  readonly identical: number;
  readonly listed: number;
  readonly failed: number;
  readonly total: number;
  readonly ok: boolean;
}

export interface FrameworkResult {
  readonly id: string;
  readonly name: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly build: { readonly ran: boolean; readonly ms: number; readonly error?: string } | null;
  readonly rows: readonly Row[];
  readonly differences: readonly Difference[];
  readonly notes?: string;
  readonly uwsNeeds?: string;
}

export interface RunResult {
  readonly date: string;
  readonly node: string;
  readonly qilin: string;
  readonly frameworks: readonly FrameworkResult[];
  readonly ms: number;
  readonly ok: boolean;
}

// ---------------------------------------------------------------------------------------------
// Processes: each in its own process group, all killed at the end, on a signal, or on exit.

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** TERM to the group, KILL to what is left after a grace period. */
async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!live.has(child)) return;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // A grandchild the server forked (qilin's worker) may outlive its parent: the group goes too.
  killGroup(child, 'SIGKILL');
  live.delete(child);
}

function killAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/**
 * The environment of every command: production, no loader hooks of the process running the harness.
 * Under tap, qilin keeps NODE_V8_COVERAGE (its coverage counts); builds and the frameworks' own servers
 * do not (a framework's coverage is not ours, and a bundler's is large).
 */
function childEnv(
  extra: Readonly<Record<string, string>> | undefined,
  port?: number,
  coverage = false,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env.NODE_OPTIONS; // tap's and tsx's hooks are for the harness, not for the servers under test
  if (!coverage) delete env.NODE_V8_COVERAGE;
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAPJS')) delete env[k];
  env.PATH = [path.join(HERE, 'node_modules/.bin'), path.join(ROOT, 'node_modules/.bin'), env.PATH].join(
    path.delimiter,
  );
  if (port !== undefined) Object.assign(env, { PORT: String(port), HOST: '127.0.0.1' });
  return { ...env, ...extra };
}

interface Spawned {
  readonly child: ChildProcess;
  /** The last 8 KiB of its stdout and stderr, for the reason of a failure. */
  output(): string;
  readonly exited: Promise<number | string>;
}

function start(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Spawned {
  hookExit();
  const [cmd, ...args] = argv;
  const child = spawn(cmd === 'node' ? process.execPath : cmd!, args, {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      out += `\n${err.message}`;
      resolve(err.message);
    });
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'exited'));
  });
  void exited.then(() => live.delete(child));
  return { child, output: () => out, exited };
}

const tail = (s: string, lines = 12) => s.trim().split('\n').slice(-lines).join('\n');

/** A port the OS says is free now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Builds, cached by a hash of the app's sources and the lock file.

function sourceHash(dir: string, skip: ReadonlySet<string>): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(path.join(HERE, 'package-lock.json')));
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (name === 'node_modules' || name === STAMP || skip.has(r)) continue;
      const st = statSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile())
        hash
          .update(`${r}\0`)
          .update(readFileSync(path.join(dir, r)))
          .update('\0');
    }
  };
  walk('');
  return hash.digest('hex');
}

async function runCommand(cmd: Command, cwd: string, timeoutMs: number): Promise<void> {
  const p = start(cmd.argv, cwd, childEnv(cmd.env));
  const timer = setTimeout(() => killGroup(p.child, 'SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  killGroup(p.child, 'SIGKILL');
  if (code !== 0) {
    // The grid shows the first line: the build's own error, not the command.
    const out = p.output();
    const why =
      out
        .split('\n')
        .map((l) => l.trim())
        .find((l) => /\b(error|cannot|failed)\b/i.test(l)) ?? `exit ${code}`;
    throw new Error(`${why} (\`${cmd.argv.join(' ')}\` exited ${code}):\n${tail(out, 20)}`);
  }
}

async function build(dir: string, app: FrameworkApp, log: (s: string) => void): Promise<FrameworkResult['build']> {
  if (!app.build?.length) return null;
  const outputs = app.buildOutput ?? [];
  const stamp = path.join(dir, STAMP);
  const hash = sourceHash(dir, new Set(outputs.map((o) => o.replace(/\/+$/, ''))));
  const fresh =
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8').trim() === hash &&
    outputs.every((o) => existsSync(path.join(dir, o)));
  if (fresh) return { ran: false, ms: 0 };
  const t0 = performance.now();
  rmSync(stamp, { force: true });
  for (const o of outputs) rmSync(path.join(dir, o), { recursive: true, force: true });
  try {
    for (const cmd of app.build) await runCommand(cmd, dir, 10 * 60_000);
  } catch (err) {
    return { ran: true, ms: performance.now() - t0, error: (err as Error).message };
  }
  writeFileSync(stamp, `${hash}\n`);
  const ms = performance.now() - t0;
  log(`  built in ${(ms / 1000).toFixed(1)} s`);
  return { ran: true, ms };
}

// ---------------------------------------------------------------------------------------------
// Requests.

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly chunked: boolean;
}

const ACCEPT_ENCODING = 'gzip, deflate, br';

function decode(raw: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(raw);
    case 'br':
      return zlib.brotliDecompressSync(raw);
    case 'deflate':
      try {
        return zlib.inflateSync(raw);
      } catch {
        return zlib.inflateRawSync(raw);
      }
    default:
      return raw;
  }
}

/** One request on a fresh connection: nothing a previous answer left on a kept-alive socket counts. */
function send(
  port: number,
  req: CompatRequest,
  extraHeaders: Record<string, string>,
  timeoutMs = 15_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'accept-encoding': ACCEPT_ENCODING, ...req.headers, ...extraHeaders };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const r = http.request(
      { host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const body = decode(Buffer.concat(chunks), res.headers['content-encoding']).toString('utf8');
            const te = res.headers['transfer-encoding'];
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, chunked: /chunked/i.test(te ?? '') });
          } catch (err) {
            reject(new Error(`undecodable ${res.headers['content-encoding']} body: ${(err as Error).message}`));
          }
        });
      },
    );
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Until the server answers anything on `readyPath`, or it exits, or time is up. */
async function waitReady(p: Spawned, port: number, readyPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | null = null;
  void p.exited.then((c) => {
    gone = c;
  });
  let last = '';
  while (Date.now() < deadline) {
    if (gone !== null) throw new Error(`exited (${gone}) before answering:\n${tail(p.output())}`);
    try {
      await send(port, { name: 'page', path: readyPath }, {}, 2000);
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no answer on ${readyPath} within ${timeoutMs / 1000} s (${last}):\n${tail(p.output())}`);
}

function headerValue(h: http.IncomingHttpHeaders, field: string): string {
  const v = h[field];
  if (v === undefined) return '';
  return Array.isArray(v) ? v.join('\n') : String(v);
}

/** The compared fields of an answer, normalised: status, FIELDS, body. */
function fieldsOf(a: Answer, port: number, req: CompatRequest, app: FrameworkApp): Map<string, string> {
  // Each server has its own port: an absolute URL the app echoes (request.url) differs by it alone.
  const own = new RegExp(String.raw`\b(127\.0\.0\.1|localhost):${port}\b`, 'g');
  const norm = (value: string, field: string) => {
    let v = value.replace(own, '$1:<port>');
    if (field === 'body') for (const re of app.bodyVaries ?? []) v = v.replace(re, '<varies>');
    return app.normalize ? app.normalize(v, field, req.name) : v;
  };
  const m = new Map<string, string>();
  m.set('status', norm(String(a.status), 'status'));
  for (const f of FIELDS) m.set(f, norm(headerValue(a.headers, f), f));
  m.set('body', norm(a.body, 'body'));
  return m;
}

const framingOf = (a: Answer) =>
  a.chunked ? 'chunked' : a.headers['content-length'] !== undefined ? 'Content-Length' : 'close-delimited or none';

function compare(
  own: Answer,
  q: Answer,
  ports: readonly [number, number],
  req: CompatRequest,
  app: FrameworkApp,
  engine: Engine,
): RequestResult {
  const a = fieldsOf(own, ports[0], req, app);
  const b = fieldsOf(q, ports[1], req, app);
  const diffs: FieldDiff[] = [];
  let framing: string | undefined;
  const ownFraming = framingOf(own);
  const qFraming = framingOf(q);
  if (ownFraming !== qFraming) framing = `own: ${ownFraming}, qilin: ${qFraming}`;
  for (const [field, ov] of a) {
    const qv = b.get(field)!;
    if (ov === qv) continue;
    // One side chunked: its missing Content-Length is framing, reported above, not a difference.
    if (field === 'content-length' && (own.chunked || q.chunked) && framing) continue;
    const listed = (app.differences ?? []).find(
      (d) =>
        (d.request === '*' || d.request === req.name) &&
        d.field === field &&
        (d.engine === undefined || d.engine === engine),
    );
    diffs.push({ field, own: clip(ov), qilin: clip(qv), ...(listed ? { why: listed.why } : {}) });
  }
  const outcome = diffs.length === 0 ? 'identical' : diffs.every((d) => d.why !== undefined) ? 'listed' : 'failed';
  const answer = `${own.status} ${headerValue(own.headers, 'content-type') || '(no type)'}, ${Buffer.byteLength(own.body)} bytes`;
  return { name: req.name, outcome, diffs, ...(framing ? { framing } : {}), answer };
}

const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

/** The validators of an earlier answer, as a conditional request sends them. */
function conditionalHeaders(a: Answer | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (!a) return h;
  const etag = headerValue(a.headers, 'etag');
  const lm = headerValue(a.headers, 'last-modified');
  if (etag) h['if-none-match'] = etag;
  if (lm) h['if-modified-since'] = lm;
  return h;
}

/** Every request of the app, sequentially, to both servers; one result per request. */
async function exchange(app: FrameworkApp, ownPort: number, qPort: number, engine: Engine): Promise<RequestResult[]> {
  const results: RequestResult[] = [];
  const ownSeen = new Map<RequestName, Answer>();
  const qSeen = new Map<RequestName, Answer>();
  for (const req of app.requests) {
    const on = req.conditionalOn;
    let own: Answer;
    let q: Answer;
    try {
      own = await send(ownPort, req, on ? conditionalHeaders(ownSeen.get(on)) : {});
    } catch (err) {
      results.push({ name: req.name, outcome: 'failed', diffs: [], error: `own server: ${(err as Error).message}` });
      continue;
    }
    try {
      q = await send(qPort, req, on ? conditionalHeaders(qSeen.get(on)) : {});
    } catch (err) {
      results.push({ name: req.name, outcome: 'failed', diffs: [], error: `qilin: ${(err as Error).message}` });
      continue;
    }
    ownSeen.set(req.name, own);
    qSeen.set(req.name, q);
    results.push(compare(own, q, [ownPort, qPort], req, app, engine));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Apps.

export function discover(only?: readonly string[]): string[] {
  if (!existsSync(APPS)) return [];
  const ids = readdirSync(APPS)
    .filter((d) => existsSync(path.join(APPS, d, 'compat.ts')))
    .sort();
  if (!only?.length) return ids;
  const unknown = only.filter((id) => !ids.includes(id));
  if (unknown.length) throw new Error(`no app ${unknown.join(', ')} under ${APPS} (there are: ${ids.join(', ')})`);
  return ids.filter((id) => only.includes(id));
}

function versionsOf(packages: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of packages) {
    try {
      out[p] = (
        JSON.parse(readFileSync(path.join(HERE, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }
      ).version;
    } catch {
      out[p] = 'not installed';
    }
  }
  return out;
}

function row(id: string, name: string, engine: Engine, results: RequestResult[], error?: string): Row {
  const count = (o: RequestResult['outcome']) => results.filter((r) => r.outcome === o).length;
  const failed = count('failed');
  return {
    id,
    name,
    engine,
    results,
    ...(error ? { error } : {}),
    identical: count('identical'),
    listed: count('listed'),
    failed,
    total: results.length,
    ok: !error && failed === 0,
  };
}

async function runApp(id: string, log: (s: string) => void): Promise<FrameworkResult> {
  const dir = path.join(APPS, id);
  let app: FrameworkApp;
  try {
    app = ((await import(pathToFileURL(path.join(dir, 'compat.ts')).href)) as { default: FrameworkApp }).default;
  } catch (err) {
    const msg = `its compat.ts does not load: ${(err as Error).message}`;
    return { id, name: id, versions: {}, build: null, differences: [], rows: [row(id, id, 'node', [], msg)] };
  }
  const base = {
    id,
    name: app.name,
    versions: versionsOf(app.packages),
    differences: app.differences ?? [],
    ...(app.notes ? { notes: app.notes } : {}),
    ...(app.uwsNeeds ? { uwsNeeds: app.uwsNeeds } : {}),
  };
  const failAll = (b: FrameworkResult['build'], reason: string): FrameworkResult => ({
    ...base,
    build: b,
    rows: app.qilin.engines.map((e) => row(id, app.name, e, [], reason)),
  });
  log(`${app.name}`);
  const b = await build(dir, app, log);
  if (b?.error) return failAll(b, `build failed: ${b.error}`);

  const started: Spawned[] = [];
  try {
    const readyPath = app.readyPath ?? '/';
    const timeout = app.startTimeout ?? 30_000;
    const ownPort = await freePort();
    const own = start(app.own.argv, dir, childEnv(app.own.env, ownPort));
    started.push(own);
    const qilins = await Promise.all(
      app.qilin.engines.map(async (engine) => {
        const port = await freePort();
        const argv = [
          'node',
          QILIN,
          '-w',
          '1',
          '-b',
          `127.0.0.1:${port}`,
          '--engine',
          engine,
          ...(app.qilin.args ?? []),
          app.qilin.app,
        ];
        const p = start(argv, dir, childEnv(app.qilin.env, undefined, true));
        started.push(p);
        return { engine, port, p };
      }),
    );
    try {
      await waitReady(own, ownPort, readyPath, timeout);
    } catch (err) {
      return failAll(b, `its own server did not start: ${(err as Error).message}`);
    }
    const rows: Row[] = [];
    for (const { engine, port, p } of qilins) {
      try {
        await waitReady(p, port, readyPath, timeout);
      } catch (err) {
        rows.push(row(id, app.name, engine, [], `qilin (${engine}) did not start: ${(err as Error).message}`));
        continue;
      }
      const results = await exchange(app, ownPort, port, engine);
      const r = row(id, app.name, engine, results);
      log(
        `  ${engine}: ${r.identical}/${r.total} identical${r.listed ? `, ${r.listed} listed` : ''}${r.failed ? `, ${r.failed} FAILED` : ''}`,
      );
      rows.push(r);
    }
    return { ...base, build: b, rows };
  } finally {
    await Promise.all(started.map((p) => stop(p.child)));
  }
}

export interface RunOptions {
  readonly only?: readonly string[];
  readonly log?: (s: string) => void;
}

export async function runAll(opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  if (!existsSync(QILIN)) throw new Error(`${QILIN} is missing: npm run build first`);
  const qilin = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const frameworks: FrameworkResult[] = [];
  try {
    for (const id of discover(opts.only)) {
      try {
        frameworks.push(await runApp(id, log));
      } catch (err) {
        frameworks.push({
          id,
          name: id,
          versions: {},
          build: null,
          differences: [],
          rows: [row(id, id, 'node', [], (err as Error).stack ?? String(err))],
        });
      }
    }
  } finally {
    killAll();
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    qilin,
    frameworks,
    ms: performance.now() - t0,
    ok: frameworks.every((f) => f.rows.every((r) => r.ok)),
  };
}

// ---------------------------------------------------------------------------------------------
// Reports.

const MARK = { identical: '✓', listed: '≈', failed: '✗' } as const;

/** The grid as text, for the terminal. */
export function textReport(run: RunResult): string {
  const lines: string[] = [];
  const w = Math.max(10, ...run.frameworks.map((f) => f.name.length));
  lines.push(`${'framework'.padEnd(w)}  engine  ${REQUESTS.map((r) => r.padEnd(3).slice(0, 3)).join(' ')}  result`);
  for (const f of run.frameworks) {
    for (const r of f.rows) {
      const cells = REQUESTS.map((n) => {
        const res = r.results.find((x) => x.name === n);
        return (res ? MARK[res.outcome] : r.error ? ' ' : '-').padEnd(3);
      }).join(' ');
      const verdict = r.error
        ? `FAILED: ${r.error.split('\n')[0]}`
        : `${r.identical}/${r.total} identical${r.listed ? `, ${r.listed} listed` : ''}${r.failed ? `, ${r.failed} FAILED` : ''}`;
      lines.push(`${f.name.padEnd(w)}  ${r.engine.padEnd(6)}  ${cells}  ${verdict}`);
    }
  }
  lines.push('');
  lines.push('✓ identical  ≈ differs as listed  ✗ differs  - n/a');
  for (const f of run.frameworks) {
    for (const r of f.rows) {
      if (r.error) lines.push(`\n${f.name} (${r.engine}): ${r.error}`);
      for (const res of r.results) {
        if (res.outcome === 'failed') {
          lines.push(`\n${f.name} (${r.engine}) ${res.name}: ${res.error ?? ''}`);
          for (const d of res.diffs.filter((d) => !d.why))
            lines.push(`  ${d.field}:\n    own:   ${JSON.stringify(d.own)}\n    qilin: ${JSON.stringify(d.qilin)}`);
        }
      }
    }
  }
  const framing = run.frameworks.flatMap((f) =>
    f.rows.flatMap((r) =>
      r.results.filter((x) => x.framing).map((x) => `${f.name} (${r.engine}) ${x.name}: ${x.framing}`),
    ),
  );
  if (framing.length) lines.push('', 'Framing (not compared):', ...framing.map((s) => `  ${s}`));
  const versions = run.frameworks.map(
    (f) =>
      `${f.name}: ${Object.entries(f.versions)
        .map(([p, v]) => `${p} ${v}`)
        .join(', ')}`,
  );
  lines.push('', `Node ${run.node}, qilin ${run.qilin}, ${run.date}, ${(run.ms / 1000).toFixed(1)} s`, ...versions);
  lines.push(run.ok ? 'All rows pass.' : 'Some rows FAIL.');
  return lines.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** docs/frameworks-grid.md: generated, committed. */
export function markdownReport(run: RunResult): string {
  const out: string[] = [];
  out.push('# Framework compatibility grid', '');
  out.push('<!-- Generated by `npm run compat` (test/frameworks/run.ts): do not edit. -->', '');
  out.push(
    `Run ${run.date.slice(0, 10)} on Node ${run.node}, qilin ${run.qilin}. Each app is served by its framework's own`,
  );
  out.push('production server and by qilin (`-w 1`) on each engine it runs on; the same requests go to both and');
  out.push('the answers are compared: status, `Content-Type`, `Content-Length`, `Set-Cookie`, `Location`, `ETag`,');
  out.push('`Cache-Control`, `Content-Encoding`, `Vary`, `Last-Modified` and the decoded body. See');
  out.push('[Frameworks](frameworks.md) for how each app is pointed at, and why the listed differences exist.', '');
  out.push(`| framework | versions | engine | ${REQUESTS.join(' | ')} | identical |`);
  out.push(`| --- | --- | --- | ${REQUESTS.map(() => ':-:').join(' | ')} | --- |`);
  for (const f of run.frameworks) {
    const versions = Object.entries(f.versions)
      .map(([p, v]) => `${p} ${v}`)
      .join(', ');
    for (const r of f.rows) {
      const cells = REQUESTS.map((n) => {
        const res = r.results.find((x) => x.name === n);
        if (!res) return r.error ? '' : 'n/a';
        return MARK[res.outcome] + (res.framing ? '¹' : '');
      });
      const verdict = r.error
        ? `**failed**: ${md(r.error.split('\n')[0]!)}`
        : `${r.identical}/${r.total}${r.listed ? ` (+${r.listed} listed)` : ''}${r.failed ? ` **${r.failed} failed**` : ''}`;
      out.push(`| ${md(f.name)} | ${md(versions)} | ${r.engine} | ${cells.join(' | ')} | ${verdict} |`);
    }
  }
  out.push(
    '',
    '✓ identical, ≈ differs only as listed below, ✗ differs, n/a: the framework has no natural form for it;',
  );
  out.push('¹ framed differently (Content-Length against chunked), which is not compared.', '');
  const listed = run.frameworks.flatMap((f) =>
    f.rows.flatMap((r) =>
      r.results.flatMap((res) =>
        res.diffs
          .filter((d) => d.why)
          .map((d) => `| ${md(f.name)} | ${r.engine} | ${res.name} | ${d.field} | ${md(d.why!)} |`),
      ),
    ),
  );
  if (listed.length) {
    out.push(
      '## Listed differences',
      '',
      '| framework | engine | request | field | why |',
      '| --- | --- | --- | --- | --- |',
      ...listed,
      '',
    );
  }
  const framing = run.frameworks.flatMap((f) =>
    f.rows.flatMap((r) =>
      r.results.filter((x) => x.framing).map((x) => `| ${md(f.name)} | ${r.engine} | ${x.name} | ${md(x.framing!)} |`),
    ),
  );
  if (framing.length)
    out.push(
      '## Framing',
      '',
      '| framework | engine | request | framing |',
      '| --- | --- | --- | --- |',
      ...framing,
      '',
    );
  // Node-style frameworks run on the node engine only: what each would need of the uws engine.
  const needs = run.frameworks.filter((f) => f.uwsNeeds).map((f) => `| ${md(f.name)} | ${md(f.uwsNeeds!)} |`);
  if (needs.length)
    out.push(
      '## On the uws engine',
      '',
      'What each Node-style framework would need to be served on the uws engine (it runs on the node engine):',
      '',
      '| framework | needs |',
      '| --- | --- |',
      ...needs,
      '',
    );
  const failures = run.frameworks.flatMap((f) =>
    f.rows.flatMap((r) =>
      r.results
        .filter((x) => x.outcome === 'failed')
        .map(
          (x) =>
            `| ${md(f.name)} | ${r.engine} | ${x.name} | ${md(
              x.error ??
                x.diffs
                  .filter((d) => !d.why)
                  .map((d) => `${d.field}: own \`${d.own.slice(0, 80)}\`, qilin \`${d.qilin.slice(0, 80)}\``)
                  .join('; '),
            )} |`,
        ),
    ),
  );
  if (failures.length)
    out.push(
      '## Failures',
      '',
      '| framework | engine | request | what differs |',
      '| --- | --- | --- | --- |',
      ...failures,
      '',
    );
  return out.join('\n');
}
