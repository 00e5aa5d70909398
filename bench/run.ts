// qilin against its anchors, in one run, same pinning: `npm run bench [-- --quick | --full]`.
//
// Each server is started pinned to core 0, waited for, warmed up, loaded from core 1 (taskset when
// present), and stopped. Results: bench/results/<date>.json, latest.md and latest.svg (quick runs
// write quick.* instead). The exit code is non-zero when a server did not answer or a run had errors.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/ports.js';
import { loadUws } from '../lib/engines/uws/load.js';

// Runs from dist/bench/run.js; the project root is where package.json is.
function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
// --only=TEXT[,TEXT…]: measure only the servers whose name contains one of the TEXTs (for A/B work).
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',').filter(Boolean);
if (ONLY?.length === 0) throw new Error('--only= needs a server name, or part of one');
const FULL = args.has('--full');
const OUT = path.join(ROOT, 'bench/results');

const DURATION = QUICK ? 3 : 8;
const WARMUP = QUICK ? 1 : 2;
const RUNS = QUICK ? 1 : 2;
const CONNECTIONS = QUICK ? [100] : [100, 1000];

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const PIN = has('taskset') && os.cpus().length >= 2;
const pinned = (core: number, argv: string[]) => (PIN ? ['taskset', '-c', String(core), ...argv] : argv);
const NODE = process.execPath;
// Every server runs compiled JS (npm run build compiles bench/ too): no TypeScript loader in the way.
const js = (file: string) => path.join(ROOT, 'dist/bench', file);
const QILIN = path.join(ROOT, 'dist/bin/qilin.js');
// wrk scripts are read from the source tree: tsc does not copy .lua files to dist/.
const lua = (file: string) => path.join(ROOT, 'bench/wrk', file);

/** What one load run sends. */
interface Workload {
  /** The path column of the tables, and what pick() finds a row by: the request's path, or a mix's name. */
  path: string;
  connections: number;
  /** The path requested (default: path). */
  url?: string;
  /** A JSON body, sent as POST with content-type application/json. */
  json?: string;
  /**
   * A mix: 1 request in `every` goes to `path` instead of url. every = 0 sends none there, through the
   * same scripted client as the mix (wrk calls a Lua function per request), so the two rows compare.
   */
  other?: { every: number; path: string };
}

interface ServerSpec {
  name: string;
  argv: (port: number) => string[];
  /** Why it cannot run here, or null. */
  unavailable?: () => string | null;
  group: 'core' | 'full' | 'overhead';
  /** The load runs; default: GET / at each of CONNECTIONS and GET /json at 100 (overhead: GET / at 100). */
  plan?: Workload[];
}

// A 1 KB JSON object (23 keys) for the POST case.
const POST_BODY = (() => {
  const o: Record<string, unknown> = { id: 42, name: 'Ada Lovelace', email: 'ada@example.org', admin: true, score: 97.5, roles: ['admin', 'author'] };
  for (let i = 0; i < 16; i++) o[`attr${String(i).padStart(2, '0')}`] = 'x'.repeat(32);
  o.note = '';
  o.note = 'n'.repeat(1024 - JSON.stringify(o).length);
  return JSON.stringify(o);
})();
const HONO_API: Workload[] = [{ path: '/api/users/42', connections: 100 }];
const MIXED: Workload[] = [
  { path: '/', connections: 100, other: { every: 0, path: '/stream' } },
  { path: '/ + 1% /stream', url: '/', connections: 100, other: { every: 100, path: '/stream' } },
];
const POST_JSON: Workload[] = [{ path: 'POST /keys', url: '/keys', connections: 100, json: POST_BODY }];

const qilin = (app: string, extra: string[] = []) => (port: number) =>
  [NODE, QILIN, '-b', `127.0.0.1:${port}`, '-w', '1', '--log-level', 'warning', ...extra, js(app)];

const SERVERS: ServerSpec[] = [
  { name: 'raw uWS', group: 'core', argv: () => [NODE, js('servers/raw-uws.js')] },
  { name: 'qilin pool (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'pool']) },
  { name: 'qilin pool (Hono)', group: 'core', argv: qilin('apps/hono.js', ['-k', 'pool']) },
  { name: 'Hono on @hono/node-server', group: 'core', argv: () => [NODE, js('servers/hono-node.js')] },
  { name: 'node:http', group: 'core', argv: () => [NODE, js('servers/node-http.js')] },
  { name: 'qilin sync (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'sync']) },
  // The node engine (node:http in the worker) against the same anchors: node:http and @hono/node-server.
  { name: 'qilin node engine (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'pool', '--engine', 'node']) },
  { name: 'qilin node engine (Hono)', group: 'core', argv: qilin('apps/hono.js', ['-k', 'pool', '--engine', 'node']) },
  { name: 'node:cluster 2 workers', group: 'full', argv: () => [NODE, js('servers/node-cluster.js')] },
  {
    name: 'PM2 cluster 2 instances', group: 'full',
    unavailable: () => (has('pm2') ? null : 'pm2 is not installed (npm i -g pm2)'),
    argv: () => ['pm2-runtime', 'start', js('servers/node-http.js'), '-i', '2'],
  },
  {
    name: 'Gunicorn + gevent 2 workers', group: 'full',
    unavailable: () => (has('gunicorn') && spawnSync('python3', ['-c', 'import gevent']).status === 0
      ? null : 'gunicorn or python3-gevent is not installed (apt-get install gunicorn python3-gevent)'),
    argv: (port) => ['gunicorn', '-w', '2', '-k', 'gevent', '--worker-connections', '1000', '-b', `127.0.0.1:${port}`,
      '--chdir', 'bench/servers', '--log-level', 'warning', 'gunicorn_app:app'],
  },
  { name: 'bare uWS handler, async app, no pool', group: 'overhead', argv: () => [NODE, js('servers/uws-no-pool.js')] },
  { name: 'qilin pool, async app', group: 'overhead', argv: qilin('apps/async-hello.js', ['-k', 'pool']) },
  // Workloads beyond hello, each against an anchor in the same run (see targets()).
  { name: 'qilin pool (Hono API)', group: 'core', plan: HONO_API, argv: qilin('apps/hono-api.js', ['-k', 'pool']) },
  { name: 'Hono API on @hono/node-server', group: 'core', plan: HONO_API, argv: () => [NODE, js('servers/hono-api-node.js')] },
  { name: 'qilin pool (mixed)', group: 'core', plan: MIXED, argv: qilin('apps/mixed.js', ['-k', 'pool']) },
  { name: 'qilin pool (POST 1 KB JSON)', group: 'core', plan: POST_JSON, argv: qilin('apps/post-json.js', ['-k', 'pool']) },
  { name: 'POST 1 KB JSON on @hono/node-server', group: 'core', plan: POST_JSON, argv: () => [NODE, js('servers/post-json-node.js')] },
];

function planOf(spec: ServerSpec): Workload[] {
  if (spec.plan) return spec.plan;
  if (spec.group === 'overhead') return [{ path: '/', connections: 100 }];
  return [...CONNECTIONS.map((connections) => ({ path: '/', connections })), { path: '/json', connections: 100 }];
}

/** Each distinct request a workload sends, as [path, fetch init]. */
function requestsOf(w: Workload): [string, RequestInit][] {
  const init: RequestInit = w.json === undefined ? {} : { method: 'POST', body: w.json, headers: { 'content-type': 'application/json' } };
  return [[w.url ?? w.path, init], ...(w.other ? [[w.other.path, {}] as [string, RequestInit]] : [])];
}

interface Load {
  tool: 'autocannon' | 'wrk';
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

interface Row {
  server: string;
  tool: Load['tool'];
  connections: number;
  path: string;
  runs: Load[];
  rps: number;
  rssMiB: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function answers(url: string, init: RequestInit = {}): Promise<boolean> {
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

function descendants(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  } catch {
    return [];
  }
}

/** RSS in MiB of each process of the server that serves (the taskset wrapper execs, so it is the server). */
function rssOf(pid: number): number[] {
  return [pid, ...descendants(pid)].flatMap((p) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      return m ? [Math.round(Number(m[1]) / 102.4) / 10] : [];
    } catch {
      return [];
    }
  });
}

function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function autocannon(base: string, w: Workload, seconds: number): Promise<Load> {
  const opts: Record<string, unknown> = { url: base + (w.url ?? w.path), connections: w.connections, duration: seconds };
  if (w.json !== undefined) Object.assign(opts, { method: 'POST', body: w.json, headers: { 'content-type': 'application/json' } });
  // A mix is a sequence each connection cycles through: every - 1 requests to url, then one to other.
  if (w.other) {
    const n = Math.max(1, w.other.every);
    opts.requests = Array.from({ length: n }, (_, i) => ({ path: w.other!.every > 0 && i === n - 1 ? w.other!.path : w.url ?? w.path }));
  }
  const out = await run(pinned(1, [NODE, js('autocannon.js'), JSON.stringify(opts)]));
  const j = JSON.parse(out);
  return {
    tool: 'autocannon', rps: Math.round(j.requests.average), p50: j.latency.p50, p99: j.latency.p99,
    errors: j.errors, timeouts: j.timeouts, non2xx: j.non2xx,
  };
}

function wrkMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function wrk(base: string, w: Workload, seconds: number): Promise<Load> {
  const script = w.other ? ['-s', lua('mix.lua'), base + (w.url ?? w.path), '--', String(w.other.every), w.other.path]
    : w.json !== undefined ? ['-s', lua('post.lua'), base + (w.url ?? w.path), '--', w.json]
      : [base + (w.url ?? w.path)];
  const out = await run(pinned(1, ['wrk', '-t1', `-c${w.connections}`, `-d${seconds}s`, '--latency', ...script]));
  const lat = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? Math.round(wrkMs(m[1]!, m[2]!) * 100) / 100 : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    tool: 'wrk',
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
    p50: lat('50'), p99: lat('99'),
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

const TOOLS: ((base: string, w: Workload, s: number) => Promise<Load>)[] = [autocannon];
const toolNames: Load['tool'][] = ['autocannon'];
if (has('wrk') && !QUICK) { TOOLS.push(wrk); toolNames.push('wrk'); }

/** The server being measured, stopped if the bench itself is interrupted. */
let current: ChildProcess | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (current) stopServer(current, true);
    process.exit(130);
  });
}

async function startServer(spec: ServerSpec): Promise<{ proc: ChildProcess; port: number }> {
  const port = await bindOnce('127.0.0.1', 0);
  const argv = pinned(0, spec.argv(port));
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, PORT: String(port) },
  });
  current = proc;
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
  const end = Date.now() + 20000;
  const probes = [...new Map(planOf(spec).flatMap(requestsOf).map(([p, init]) => [`${init.method ?? 'GET'} ${p}`, [p, init] as const])).values()];
  const ready = async () => {
    for (const [p, init] of probes) if (!await answers(`http://127.0.0.1:${port}${p}`, init)) return false;
    return true;
  };
  while (!await ready()) {
    if (proc.exitCode !== null || Date.now() > end) {
      stopServer(proc);
      throw new Error(`${spec.name} did not answer on port ${port}: ${stderr}`);
    }
    await sleep(100);
  }
  return { proc, port };
}

function stopServer(proc: ChildProcess, now = false): void {
  if (current === proc) current = undefined;
  try { process.kill(-proc.pid!, now ? 'SIGKILL' : 'SIGTERM'); } catch { /* gone */ }
  setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000).unref();
}

async function measure(spec: ServerSpec, problems: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  const { proc, port } = await startServer(spec);
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let ti = 0; ti < TOOLS.length; ti++) {
      for (const w of planOf(spec)) {
        const { connections: c, path: p } = w;
        await TOOLS[ti]!(base, w, WARMUP);
        const runs: Load[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await TOOLS[ti]!(base, w, DURATION));
        const row: Row = {
          server: spec.name, tool: toolNames[ti]!, connections: c, path: p, runs,
          rps: Math.round(runs.reduce((a, x) => a + x.rps, 0) / runs.length), rssMiB: rssOf(proc.pid!),
        };
        rows.push(row);
        const bad = runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
        // Any error fails a qilin run (and every run of the quick smoke); an anchor's are reported.
        // Except wrk timeouts of the node engine at 1000 connections: node:http serves 1000 busy
        // connections on one core unevenly (a few wait past wrk's 2 s), and its anchors, node:http
        // and @hono/node-server, time out as often in the same run; errors and non-2xx still fail.
        const nodeServing = spec.name.startsWith('qilin node engine') && c >= 1000 && row.tool === 'wrk';
        const failing = nodeServing ? runs.reduce((a, x) => a + x.errors + x.non2xx, 0) : bad;
        if (bad > 0 && failing === 0) log(`  (${bad} wrk timeouts at c${c}: reported, as node:http's)`);
        if (failing > 0 && (QUICK || spec.name.startsWith('qilin'))) problems.push(`${spec.name} (${row.tool}, c${c}, ${p}): ${bad} errors/timeouts/non-2xx`);
        log(`  ${row.tool.padEnd(10)} c${String(c).padEnd(5)} ${p.padEnd(6)} ${runs.map((x) => x.rps).join(' / ').padStart(17)} req/s` +
          `  p50 ${runs[0]!.p50} ms  p99 ${runs[0]!.p99} ms  errors ${bad}  RSS ${row.rssMiB.join('+')} MiB`);
      }
    }
  } finally {
    stopServer(proc);
    await sleep(300);
  }
  return rows;
}

function pick(rows: Row[], server: string, tool: Load['tool'], c = 100, p = '/'): Row | undefined {
  return rows.find((r) => r.server === server && r.tool === tool && r.connections === c && r.path === p);
}

interface Target { name: string; value: string; target: string; met: boolean | null }

function targets(rows: Row[]): Target[] {
  const best: Load['tool'] = toolNames.includes('wrk') ? 'wrk' : 'autocannon';
  // Ratios compare each server's best run: interference on a shared machine only ever slows a run down.
  const best1 = (r: Row) => Math.max(...r.runs.map((x) => x.rps));
  const ratio = (a?: Row, b?: Row) => (a && b ? best1(a) / best1(b) : NaN);
  const out: Target[] = [];
  const add = (name: string, v: number, target: string, ok: (v: number) => boolean, fmt = (x: number) => `${x.toFixed(2)}×`) =>
    out.push({ name, value: Number.isNaN(v) ? 'n/a' : fmt(v), target, met: Number.isNaN(v) ? null : ok(v) });
  // name ÷: row a's best run over row b's, at c100; each side is a server and the path column of its row.
  const atLeast = (name: string, a: [string, string?], b: [string, string?], min: number, what = '') =>
    add(`${name} (${best}, c100${what})`, ratio(pick(rows, a[0], best, 100, a[1]), pick(rows, b[0], best, 100, b[1])), `≥ ${min}×`, (v) => v >= min);
  atLeast('qilin pool fetch ÷ raw uWS', ['qilin pool (fetch)'], ['raw uWS'], 0.8);
  atLeast('qilin pool fetch ÷ node:http', ['qilin pool (fetch)'], ['node:http'], 1.5);
  atLeast('qilin Hono ÷ Hono on @hono/node-server', ['qilin pool (Hono)'], ['Hono on @hono/node-server'], 1.5);
  atLeast('qilin node engine fetch ÷ node:http', ['qilin node engine (fetch)'], ['node:http'], 0.9);
  atLeast('qilin node engine Hono ÷ Hono on @hono/node-server', ['qilin node engine (Hono)'], ['Hono on @hono/node-server'], 1.0);
  atLeast('qilin Hono API ÷ Hono API on @hono/node-server', ['qilin pool (Hono API)', '/api/users/42'],
    ['Hono API on @hono/node-server', '/api/users/42'], 3, ', cors + secureHeaders, GET /api/users/42');
  atLeast('qilin mixed ÷ the same app on GET / only', ['qilin pool (mixed)', '/ + 1% /stream'], ['qilin pool (mixed)', '/'], 0.8,
    ', 1 request in 100 streamed');
  atLeast('qilin POST 1 KB JSON ÷ the same app on @hono/node-server', ['qilin pool (POST 1 KB JSON)', 'POST /keys'],
    ['POST 1 KB JSON on @hono/node-server', 'POST /keys'], 1.5, ', request.json()'); // the Hono-vs-node-server bar
  const overhead = 1 - ratio(pick(rows, 'qilin pool, async app', best), pick(rows, 'bare uWS handler, async app, no pool', best));
  add(`pool overhead vs bare uWS handler, same async app (${best}, c100)`, overhead, '≤ 10 %', (v) => v <= 0.1, (x) => `${(x * 100).toFixed(1)} %`);
  const c1000 = CONNECTIONS.includes(1000) ? pick(rows, 'qilin pool (fetch)', best, 1000) : undefined;
  const p99 = (r?: Row) => (r ? Math.max(...r.runs.map((x) => x.p99)) : NaN);
  add(`qilin pool fetch p99 at c1000 (${best})`, p99(c1000), '≤ 10 ms', (v) => v <= 10, (x) => `${x} ms`);
  // With 1000 connections on one server core, mean latency is 1000 ÷ req/s (Little's law): the engine
  // itself sets the floor, so qilin's p99 is also shown against raw uWS's in the same run.
  const rawC1000 = CONNECTIONS.includes(1000) ? pick(rows, 'raw uWS', best, 1000) : undefined;
  add(`qilin pool fetch p99 ÷ raw uWS p99 at c1000 (${best})`, p99(c1000) / p99(rawC1000), 'context', () => true);
  // The memory target is for the hello apps; an app that touches `Headers` (Hono's middleware does)
  // loads the platform's fetch classes, ~12 MiB more, shown as context.
  const workerRss = (pred: (r: Row) => boolean) => {
    const all = rows.filter(pred).flatMap((r) => r.rssMiB.slice(1)); // workers, not the arbiter
    return all.length ? Math.max(...all) : NaN;
  };
  const HELLO_ROWS = ['qilin pool (fetch)', 'qilin sync (fetch)', 'qilin pool, async app'];
  add('RSS per qilin worker after the runs, hello apps (max)', workerRss((r) => HELLO_ROWS.includes(r.server)), '≤ 60 MiB', (v) => v <= 60, (x) => `${x} MiB`);
  // node:http's server, sockets and streams cost the node engine's worker more than uWS's native side.
  const nodeEngine = (r: Row) => r.server.startsWith('qilin node engine');
  add('RSS per qilin worker after the runs, other apps (max)', workerRss((r) => r.server.startsWith('qilin') && !HELLO_ROWS.includes(r.server) && !nodeEngine(r)),
    'context', () => true, (x) => `${x} MiB`);
  add('RSS per qilin worker after the runs, node engine (max)', workerRss(nodeEngine), 'context', () => true, (x) => `${x} MiB`);
  return out;
}

function markdown(meta: Record<string, unknown>, rows: Row[], tgs: Target[], skipped: string[], problems: string[]): string {
  const lines = [`# qilin benchmark — ${meta.date}`, ''];
  lines.push(`${meta.mode} run. ${meta.machine}. Node ${meta.node}, ${meta.uws}.`);
  lines.push(`Servers pinned to ${meta.serverCores}, load generators to ${meta.loadCores}; req/s is per server core. ` +
    `${DURATION} s per run after a ${WARMUP} s warm-up, ${RUNS} run(s) each.`);
  lines.push('autocannon is what users run, but one autocannon process tops out near 85k req/s on one core here: ' +
    'ratios against the fast servers come from wrk. Target ratios use each server\'s best run; the tables give every run.');
  lines.push('Beyond hello: *Hono API* is a Hono app with `cors()` and `secureHeaders()` answering GET /api/users/:id with JSON; ' +
    '*mixed* sends 1 request in 100 to a streamed body (a ReadableStream of 3 × 1 KB) and the others to GET /, and is compared ' +
    'with the same app on GET / only, through the same client script; *POST 1 KB JSON* reads the body with `request.json()` ' +
    'and answers with a small JSON. *qilin node engine* rows run the same apps with `--engine node` (node:http in the ' +
    'worker, on a socket the arbiter made), against node:http and @hono/node-server.', '');
  lines.push('## Targets', '', '| measure | value | target | met |', '| --- | --- | --- | --- |');
  for (const t of tgs) lines.push(`| ${t.name} | ${t.value} | ${t.target} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`);
  for (const tool of toolNames) {
    lines.push('', `## ${tool}`, '', '| server | conns | path | req/s (runs) | mean req/s | p50 ms | p99 ms | errors+timeouts+non-2xx | RSS MiB |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows.filter((x) => x.tool === tool)) {
      const bad = r.runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
      lines.push(`| ${r.server} | ${r.connections} | ${r.path} | ${r.runs.map((x) => x.rps).join(' / ')} | ${r.rps} | ` +
        `${r.runs.map((x) => x.p50).join(' / ')} | ${r.runs.map((x) => x.p99).join(' / ')} | ${bad} | ${r.rssMiB.join(' + ')} |`);
    }
  }
  if (skipped.length) lines.push('', '## Skipped', '', ...skipped.map((s) => `- ${s}`));
  if (problems.length) lines.push('', '## Problems', '', ...problems.map((s) => `- ${s}`));
  lines.push('', '![req/s and latency](latest.svg)', '');
  return lines.join('\n');
}

/** Horizontal bars of mean req/s (c100, GET /) per server and tool, with p50/p99 as text. */
function svg(rows: Row[]): string {
  const data = rows.filter((r) => r.connections === 100 && r.path === '/');
  const max = Math.max(1, ...data.map((r) => r.rps));
  const barH = 18;
  const left = 330;
  const width = 1040;
  const h = 40 + data.length * (barH + 6);
  const colors: Record<string, string> = { autocannon: '#6b8fd6', wrk: '#e0884a' };
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = data.map((r, i) => {
    const y = 30 + i * (barH + 6);
    const w = Math.max(1, ((width - left - 300) * r.rps) / max);
    return `<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(r.server)} · ${r.tool}</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[r.tool]}"/>` +
      `<text x="${left + w + 6}" y="${y + 13}">${r.rps.toLocaleString('en')} req/s · p50 ${r.runs[0]!.p50} / p99 ${r.runs[0]!.p99} ms</text>`;
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif" font-size="12">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n<text x="10" y="18" font-weight="bold">req/s per server core, 100 connections, GET / (longer is faster)</text>\n${bars}\n</svg>\n`;
}

/** --render=FILE.json: write latest.md and latest.svg again from a results file, measuring nothing. */
function render(file: string): number {
  const { meta, rows, skipped, problems } = JSON.parse(readFileSync(file, 'utf8'));
  const tgs = targets(rows);
  writeFileSync(file, JSON.stringify({ meta, rows, targets: tgs, skipped, problems }, null, 2) + '\n');
  writeFileSync(path.join(OUT, 'latest.md'), markdown(meta, rows, tgs, skipped, problems));
  writeFileSync(path.join(OUT, 'latest.svg'), svg(rows));
  log(`rendered bench/results/latest.md and latest.svg from ${file}`);
  return 0;
}

async function main(): Promise<number> {
  const renderFrom = process.argv.find((a) => a.startsWith('--render='))?.slice(9);
  if (renderFrom) return render(renderFrom);
  if (!existsSync(QILIN)) { log('dist/ is missing: run npm run build first'); return 1; }
  mkdirSync(OUT, { recursive: true });
  const date = new Date().toISOString().replace(/\..*/, '').replace(/:/g, '-');
  const uws = loadUws().build;
  const meta = {
    date, mode: QUICK ? 'Quick' : FULL ? 'Full' : 'Standard', node: process.version, uws,
    machine: `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    serverCores: PIN ? 'core 0' : 'no core (taskset unavailable)', loadCores: PIN ? 'core 1' : 'no core',
    tools: toolNames,
  };
  log(`qilin bench (${meta.mode.toLowerCase()}): ${uws}; tools: ${toolNames.join(', ')}; ${PIN ? 'server on core 0, load on core 1' : 'unpinned'}`);
  const rows: Row[] = [];
  const skipped: string[] = [];
  const problems: string[] = [];
  if (!has('wrk')) skipped.push('wrk is not installed (apt-get install wrk): only autocannon measured, which cannot tell apart servers faster than ~85k req/s');
  for (const spec of SERVERS) {
    if (spec.group === 'full' && !FULL) continue;
    if (ONLY && !ONLY.some((t) => spec.name.includes(t))) continue;
    const why = spec.unavailable?.();
    if (why) { skipped.push(`${spec.name}: ${why}`); log(`- ${spec.name}: skipped (${why})`); continue; }
    log(`- ${spec.name}`);
    try {
      rows.push(...await measure(spec, problems));
    } catch (err) {
      problems.push(`${spec.name}: ${(err as Error).message}`);
      log(`  FAILED: ${(err as Error).message}`);
    }
  }
  const tgs = targets(rows);
  const base = QUICK ? 'quick' : ONLY ? 'only' : 'latest';
  // An --only run is partial: only.json (git-ignored, like only.md), not a dated result.
  const json = !QUICK && ONLY ? 'only.json' : `${date}${QUICK ? '-quick' : ''}.json`;
  writeFileSync(path.join(OUT, json), JSON.stringify({ meta, rows, targets: tgs, skipped, problems }, null, 2) + '\n');
  writeFileSync(path.join(OUT, `${base}.md`), markdown(meta, rows, tgs, skipped, problems).replace('latest.svg', `${base}.svg`));
  writeFileSync(path.join(OUT, `${base}.svg`), svg(rows));
  log('');
  for (const t of tgs) log(`${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.name}: ${t.value} (target ${t.target})`);
  log(`results: bench/results/${base}.md`);
  if (problems.length) { log(`\n${problems.length} problem(s):\n${problems.join('\n')}`); return 1; }
  return 0;
}

process.exitCode = await main();
