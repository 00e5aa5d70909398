// qilin against its anchors, in one run, same pinning: `npm run bench [-- --quick | --full]`.
//
// Each server is started pinned to core 0, waited for, warmed up, loaded from core 1 (taskset when
// present), and stopped. Results: bench/results/<date>.json, latest.md and latest.svg (quick runs
// write quick.* instead). The exit code is non-zero when a server did not answer or a run had errors.
// Targets not met are reported (✗ in the log, **no** in the results), not failed: they depend on the
// machine.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';
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
// The Node-style apps are CommonJS modules (bench/apps/*.cjs), read from the source tree: tsc does
// not copy them, and qilin and the anchors load the same file.
const cjs = (file: string) => path.join(ROOT, 'bench', file);
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
  /**
   * core and overhead run in every run, full only with --full; apps (Node frameworks) and io (the
   * I/O-bound case) in the standard and full runs, and in --quick only when `quick` is set.
   */
  group: 'core' | 'full' | 'overhead' | 'apps' | 'io' | 'observe';
  quick?: boolean;
  /** The load runs; default: GET / at each of CONNECTIONS and GET /json at 100 (overhead: GET / at 100). */
  plan?: Workload[];
  /** Measured with the best load tool only (wrk when present), not with each. */
  bestToolOnly?: boolean;
  /** Environment for the server, on top of the bench's. */
  env?: Record<string, string>;
  /** Run after the server is stopped (and if the bench is interrupted while it runs). */
  cleanup?: () => void;
  /** qilin on the node engine (node:http in the worker). */
  nodeEngine?: boolean;
  /** Servers listed one after another with the same batch are measured side by side (see measure()). */
  batch?: string;
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
  [NODE, QILIN, '-b', `127.0.0.1:${port}`, '-w', '1', '--log-level', 'warning', ...extra, app.endsWith('.cjs') ? cjs(app) : js(app)];

/** pm2-runtime and pm2: the installed ones, else pm2@6 through npx (fetched once into npm's cache). */
let pm2Bins: { runtime: string; cli: string } | null | undefined;
function pm2(): { runtime: string; cli: string } | null {
  if (pm2Bins !== undefined) return pm2Bins;
  if (has('pm2-runtime') && has('pm2')) return (pm2Bins = { runtime: 'pm2-runtime', cli: 'pm2' });
  log('  (pm2 is not installed: fetching pm2@6 with npx)');
  const r = spawnSync('npx', ['--yes', '-p', 'pm2@6', 'sh', '-c', 'command -v pm2-runtime && command -v pm2'],
    { cwd: os.tmpdir(), encoding: 'utf8', timeout: 300000 });
  const [runtime, cli] = r.status === 0 ? r.stdout.trim().split('\n') : [];
  return (pm2Bins = runtime && cli ? { runtime, cli } : null);
}
// PM2 keeps its state in PM2_HOME: a directory of this run's own, so no user's PM2 is touched.
const PM2_HOME = path.join(os.tmpdir(), `qilin-bench-pm2-${process.pid}`);
const pm2Missing = () => {
  if (!pm2()) return 'pm2 could not be run (npm i -g pm2, or let npx fetch pm2@6 from the npm registry)';
  mkdirSync(PM2_HOME, { recursive: true });
  return null;
};
/** `pm2 kill` after every PM2 server: pm2-runtime stops its apps on TERM, but a daemon must not outlive the run. */
const pm2Kill = () => {
  const bins = pm2();
  if (bins) spawnSync(bins.cli, ['kill'], { cwd: os.tmpdir(), env: { ...process.env, PM2_HOME }, stdio: 'ignore', timeout: 30000 });
};

/** Why Gunicorn's gevent worker cannot run, or null: checked with the Python gunicorn runs on. */
function geventMissing(): string | null {
  if (!has('gunicorn')) return 'gunicorn is not installed';
  const bin = execFileSync('sh', ['-c', 'command -v gunicorn'], { encoding: 'utf8' }).trim();
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0]!);
  const python = !m ? 'python3' : path.basename(m[1]!) === 'env' ? m[2] ?? 'python3' : m[1]!;
  return spawnSync(python, ['-c', 'import gevent']).status === 0 ? null : `gevent is not installed for ${python}`;
}
let gunicornWhy: string | null | undefined;
/** Debian's gunicorn and python3-gevent, installed with apt-get when missing and the bench runs as root. */
function gunicornMissing(): string | null {
  if (gunicornWhy !== undefined) return gunicornWhy;
  gunicornWhy = geventMissing();
  if (gunicornWhy && process.getuid?.() === 0 && has('apt-get')) {
    log(`  (${gunicornWhy}: apt-get install gunicorn python3-gevent)`);
    spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq gunicorn python3-gevent'],
      { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600000 });
    gunicornWhy = geventMissing();
  }
  if (gunicornWhy) gunicornWhy += ' (as root: apt-get install gunicorn python3-gevent)';
  return gunicornWhy;
}

// Express, Fastify and Koa: the same app module on qilin (1 worker; a Node-style app makes qilin pick
// the node engine), on its own listen(), on node:cluster with 1 worker under each scheduling policy
// (rr: the primary accepts each connection and hands it to the worker; none: the worker accepts from
// the shared socket), and on PM2's cluster mode with 1 instance.
const FRAMEWORKS = ['Express', 'Fastify', 'Koa'] as const;
const NODE_APPS: Workload[] = QUICK ? [{ path: '/', connections: 100 }] : [{ path: '/', connections: 100 }, { path: '/json', connections: 100 }];
const anchorNames = (fw: string) => ({
  listen: `${fw} listen()`, rr: `${fw} on node:cluster 1 worker (rr)`, none: `${fw} on node:cluster 1 worker (none)`,
  pm2: `${fw} on PM2 cluster 1 instance`,
});
const frameworkServers = (fw: (typeof FRAMEWORKS)[number]): ServerSpec[] => {
  const app = cjs(`apps/${fw.toLowerCase()}.cjs`);
  const listen = [js('servers/listen.js'), app];
  const n = anchorNames(fw);
  // --quick measures Express on qilin and on its listen() only (GET /, c100).
  const common = { group: 'apps', plan: NODE_APPS, bestToolOnly: true, batch: fw } as const;
  return [
    { ...common, quick: fw === 'Express', name: `qilin (${fw})`, nodeEngine: true, argv: qilin(`apps/${fw.toLowerCase()}.cjs`) },
    { ...common, quick: fw === 'Express', name: n.listen, argv: () => [NODE, ...listen] },
    { ...common, name: n.rr, env: { NODE_CLUSTER_SCHED_POLICY: 'rr' }, argv: () => [NODE, js('servers/cluster.js'), ...listen] },
    { ...common, name: n.none, env: { NODE_CLUSTER_SCHED_POLICY: 'none' }, argv: () => [NODE, js('servers/cluster.js'), ...listen] },
    {
      ...common, name: n.pm2, unavailable: pm2Missing, env: { PM2_HOME }, cleanup: pm2Kill,
      argv: () => [pm2()!.runtime, 'start', listen[0]!, '-i', '1', '--', app],
    },
  ];
};

// The workload qilin is for: every request awaits 20 ms (a database call), 1000 connections, one
// worker on one core. Ideal: 1000 ÷ 20 ms = 50k req/s, until the core saturates.
const IO_WAIT_MS = 20;
const IO_PATH = `await ${IO_WAIT_MS} ms`;
const IO: Workload[] = [{ path: IO_PATH, url: '/', connections: 1000 }];
const IO_IDEAL = (1000 * 1000) / IO_WAIT_MS;
const IO_SERVERS = {
  fetch: 'qilin I/O (fetch)', express: 'qilin I/O (Express)', rawUws: 'raw uWS I/O', nodeHttp: 'node:http I/O', expressListen: 'Express listen() I/O',
  cluster: 'node:cluster 1 worker I/O', gunicorn: 'Gunicorn + gevent 1 worker I/O',
} as const;
const io = { group: 'io', plan: IO, bestToolOnly: true, batch: 'I/O' } as const;

// What it costs to watch the server: the hello app with the access log (text and JSON, to a file),
// /metrics (workers report to the arbiter), statsd (UDP to a sink in this process), all measured
// side by side with the same app with everything off.
const OBSERVE_DIR = mkdtempSync(path.join(os.tmpdir(), 'qilin-bench-observe-'));
const statsdSink = dgram.createSocket('udp4');
statsdSink.on('message', () => {});
await new Promise<void>((resolve) => statsdSink.bind(0, '127.0.0.1', resolve));
statsdSink.unref();
const STATSD = `127.0.0.1:${statsdSink.address().port}`;
const OBSERVE = {
  off: 'qilin observe: all off', text: 'qilin observe: access log (text)', json: 'qilin observe: access log (JSON)',
  metrics: 'qilin observe: /metrics', statsd: 'qilin observe: statsd', all: 'qilin observe: JSON log + /metrics + statsd',
  nodeOff: 'qilin observe, node engine: all off', nodeAll: 'qilin observe, node engine: JSON log + /metrics + statsd',
  apiOff: 'qilin observe, Hono API: all off', apiText: 'qilin observe, Hono API: access log (text)',
  apiJson: 'qilin observe, Hono API: access log (JSON)',
  // The defaults watch request_timeout (300 s): what that costs, against the same app without it.
  noTimeout: 'qilin observe: request_timeout 0',
} as const;
const accessFile = (name: string) => ['--access-logfile', path.join(OBSERVE_DIR, `${name}.log`)];
const metricsBind = (port: number) => ['--metrics-bind', `unix:${path.join(OBSERVE_DIR, `metrics-${port}.sock`)}`];
const everything = (port: number) => [...accessFile(`all-${port}`), '--access-logformat', 'json', ...metricsBind(port), '--statsd-host', STATSD];
const OBSERVE_PLAN: Workload[] = [{ path: '/', connections: 100 }];
// A run writes tens of MB of access log per server: dropped once the server stops.
const dropLogs = () => {
  for (const f of readdirSync(OBSERVE_DIR)) if (f.endsWith('.log')) rmSync(path.join(OBSERVE_DIR, f), { force: true });
};
const observe = { group: 'observe', plan: OBSERVE_PLAN, bestToolOnly: true, cleanup: dropLogs } as const;
const observeServers: ServerSpec[] = [
  { ...observe, batch: 'observe', quick: true, name: OBSERVE.off, argv: qilin('apps/hello.js') },
  { ...observe, batch: 'observe', name: OBSERVE.text, argv: (port) => qilin('apps/hello.js', accessFile(`text-${port}`))(port) },
  { ...observe, batch: 'observe', quick: true, name: OBSERVE.json, argv: (port) => qilin('apps/hello.js', [...accessFile(`json-${port}`), '--access-logformat', 'json'])(port) },
  { ...observe, batch: 'observe', name: OBSERVE.metrics, argv: (port) => qilin('apps/hello.js', metricsBind(port))(port) },
  { ...observe, batch: 'observe', name: OBSERVE.statsd, argv: qilin('apps/hello.js', ['--statsd-host', STATSD]) },
  { ...observe, batch: 'observe', quick: true, name: OBSERVE.all, argv: (port) => qilin('apps/hello.js', everything(port))(port) },
  { ...observe, batch: 'observe', name: OBSERVE.noTimeout, argv: qilin('apps/hello.js', ['--request-timeout', '0']) },
  { ...observe, batch: 'observe node', nodeEngine: true, name: OBSERVE.nodeOff, argv: qilin('apps/hello.js', ['--engine', 'node']) },
  { ...observe, batch: 'observe node', nodeEngine: true, name: OBSERVE.nodeAll, argv: (port) => qilin('apps/hello.js', ['--engine', 'node', ...everything(port)])(port) },
  // The same logs on an app doing an app's work per request (Hono, three middlewares, a JSON route).
  { ...observe, plan: HONO_API, batch: 'observe api', quick: true, name: OBSERVE.apiOff, argv: qilin('apps/hono-api.js') },
  { ...observe, plan: HONO_API, batch: 'observe api', quick: true, name: OBSERVE.apiText, argv: (port) => qilin('apps/hono-api.js', accessFile(`api-text-${port}`))(port) },
  { ...observe, plan: HONO_API, batch: 'observe api', name: OBSERVE.apiJson, argv: (port) => qilin('apps/hono-api.js', [...accessFile(`api-json-${port}`), '--access-logformat', 'json'])(port) },
];

const SERVERS: ServerSpec[] = [
  { name: 'raw uWS', group: 'core', argv: () => [NODE, js('servers/raw-uws.js')] },
  { name: 'qilin pool (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'pool']) },
  { name: 'qilin pool (Hono)', group: 'core', argv: qilin('apps/hono.js', ['-k', 'pool']) },
  { name: 'Hono on @hono/node-server', group: 'core', argv: () => [NODE, js('servers/hono-node.js')] },
  { name: 'node:http', group: 'core', argv: () => [NODE, js('servers/node-http.js')] },
  { name: 'qilin sync (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'sync']) },
  // The node engine (node:http in the worker) against the same anchors: node:http and @hono/node-server.
  { name: 'qilin node engine (fetch)', group: 'core', nodeEngine: true, argv: qilin('apps/hello.js', ['-k', 'pool', '--engine', 'node']) },
  { name: 'qilin node engine (Hono)', group: 'core', nodeEngine: true, argv: qilin('apps/hono.js', ['-k', 'pool', '--engine', 'node']) },
  { name: 'node:cluster 2 workers', group: 'full', argv: () => [NODE, js('servers/node-cluster.js')] },
  {
    name: 'PM2 cluster 2 instances', group: 'full', unavailable: pm2Missing, env: { PM2_HOME }, cleanup: pm2Kill,
    argv: () => [pm2()!.runtime, 'start', js('servers/node-http.js'), '-i', '2'],
  },
  {
    name: 'Gunicorn + gevent 2 workers', group: 'full', unavailable: gunicornMissing,
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
  ...FRAMEWORKS.flatMap(frameworkServers),
  ...observeServers,
  { ...io, name: IO_SERVERS.fetch, argv: qilin('apps/io.js', ['--worker-connections', '1000']) },
  { ...io, name: IO_SERVERS.express, nodeEngine: true, argv: qilin('apps/io-express.cjs', ['--worker-connections', '1000']) },
  { ...io, name: IO_SERVERS.rawUws, argv: () => [NODE, js('servers/io-raw-uws.js')] },
  { ...io, name: IO_SERVERS.nodeHttp, argv: () => [NODE, js('servers/io-node-http.js')] },
  { ...io, name: IO_SERVERS.expressListen, argv: () => [NODE, js('servers/listen.js'), cjs('apps/io-express.cjs')] },
  { ...io, name: IO_SERVERS.cluster, argv: () => [NODE, js('servers/cluster.js'), js('servers/io-node-http.js')] },
  {
    ...io, name: IO_SERVERS.gunicorn, unavailable: gunicornMissing,
    argv: (port) => ['gunicorn', '-w', '1', '-k', 'gevent', '--worker-connections', '1000', '-b', `127.0.0.1:${port}`,
      '--chdir', 'bench/servers', '--log-level', 'warning', 'gunicorn_io:app'],
  },
];

function runsIn(spec: ServerSpec): boolean {
  if (spec.group === 'full') return FULL;
  if (spec.group === 'apps' || spec.group === 'io' || spec.group === 'observe') return !QUICK || spec.quick === true;
  return true;
}

function planOf(spec: ServerSpec): Workload[] {
  const plan = spec.plan ?? (spec.group === 'overhead' ? [{ path: '/', connections: 100 }]
    : [...CONNECTIONS.map((connections) => ({ path: '/', connections })), { path: '/json', connections: 100 }]);
  return plan.filter(fits);
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
  /** CPU time of the server's processes during the run, in cores (1 = the pinned core was busy throughout). */
  cpu?: number;
  /** The server's core: the share of the run it was not idle (processes, interrupts, softirq). */
  core?: number;
  /** CPU time of the load generator during the run, in cores. */
  toolCpu?: number;
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

/** Clock ticks of CPU time (user + system) of a process and its descendants. */
function cpuTicks(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
      return sum + Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15
    } catch {
      return sum;
    }
  }, 0);
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * Per CPU, from /proc/stat: clock ticks spent running processes (user, nice, system), in interrupts
 * (irq, softirq: loopback TCP is mostly softirq, charged to no process), and in all.
 */
interface CpuTicks { busy: number; kernel: number; total: number }
function cpuStat(): CpuTicks[] {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => {
      const t = l.split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
      return { busy: t[0]! + t[1]! + t[2]!, kernel: t[5]! + t[6]!, total: t.reduce((a, x) => a + x, 0) };
    });
  } catch {
    return [];
  }
}
/** The share of a CPU's time between two snapshots that `part` took. */
const shareOf = (a: CpuTicks[], b: CpuTicks[], cpu: number, part: (t: CpuTicks) => number) =>
  a[cpu] && b[cpu] ? (part(b[cpu]) - part(a[cpu])) / Math.max(1, b[cpu].total - a[cpu].total) : 0;
const busyBetween = (a: CpuTicks[], b: CpuTicks[], cpu: number) => shareOf(a, b, cpu, (t) => t.busy);

// On a shared machine (tests running beside the bench), a run is only as good as the quiet around it.
// Standard and full runs wait, before each run, for the machine to be idle (no CPU busier than IDLE
// over a second), and repeat a run during which other processes took more than IDLE of the server's
// core or of the load generator's, up to ATTEMPTS times. Quick runs (CI) do neither.
const IDLE = 0.1;
const ATTEMPTS = 3;
const IDLE_WAIT_MS = 10 * 60 * 1000;
async function untilIdle(): Promise<void> {
  if (QUICK || !PIN) return;
  const end = Date.now() + IDLE_WAIT_MS;
  let said = false;
  // One quiet second; after a busy one, three in a row (a test suite pauses between files for about one).
  for (let quiet = 0, needed = 1; quiet < needed;) {
    const a = cpuStat();
    await sleep(1000);
    const b = cpuStat();
    const busiest = Math.max(0, ...a.map((_, i) => busyBetween(a, b, i)));
    if (busiest <= IDLE) { quiet++; continue; }
    [quiet, needed] = [0, 3];
    if (Date.now() > end) { log(`  (the machine is still busy, ${Math.round(busiest * 100)} % of a core: measuring anyway)`); return; }
    if (!said) { log(`  (waiting for the machine to be idle: ${Math.round(busiest * 100)} % of a core busy)`); said = true; }
  }
}

// 1000 connections take 1000 descriptors in the server and as many in the load generator: each is
// started with its soft limit raised (up to the hard limit) when it is below FILES.
const FILES = 4096;
const nofile = (() => {
  const [soft, hard] = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).stdout.trim().split('\n')
    .map((x) => (x === 'unlimited' ? Infinity : Number(x)));
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
})();
const NOFILE = Math.min(Math.max(nofile.soft, FILES), nofile.hard);
/** Whether a workload's connections fit in the descriptors a process may open here. */
const fits = (w: Workload) => w.connections + 100 <= NOFILE;
const withFiles = (argv: string[]) => (nofile.soft >= FILES || NOFILE <= nofile.soft ? argv
  : ['sh', '-c', `ulimit -n ${NOFILE} && exec "$@"`, 'sh', ...argv]);

/**
 * Runs a load generator: its output, and the CPU it took in clock ticks (read by the shell that waited
 * for it, from its own children's times in /proc: fields 16 and 17 of /proc/PID/stat).
 */
function run(argv: string[]): Promise<{ out: string; ticks: number }> {
  return new Promise((resolve, reject) => {
    const cmd = ['sh', '-c', '"$@"; s=$?; echo "tool-ticks $(cut -d" " -f16,17 /proc/$$/stat)" >&2; exit $s', 'sh', ...withFiles(argv)];
    const p = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => {
      const m = /tool-ticks (\d+) (\d+)/.exec(err);
      if (code === 0) resolve({ out, ticks: m ? Number(m[1]) + Number(m[2]) : NaN });
      else reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`));
    });
  });
}
const toolCpu = (ticks: number, seconds: number) => Math.round((ticks / CLK_TCK / seconds) * 100) / 100;

async function autocannon(base: string, w: Workload, seconds: number): Promise<Load> {
  const opts: Record<string, unknown> = { url: base + (w.url ?? w.path), connections: w.connections, duration: seconds };
  if (w.json !== undefined) Object.assign(opts, { method: 'POST', body: w.json, headers: { 'content-type': 'application/json' } });
  // A mix is a sequence each connection cycles through: every - 1 requests to url, then one to other.
  if (w.other) {
    const n = Math.max(1, w.other.every);
    opts.requests = Array.from({ length: n }, (_, i) => ({ path: w.other!.every > 0 && i === n - 1 ? w.other!.path : w.url ?? w.path }));
  }
  const { out, ticks } = await run(pinned(1, [NODE, js('autocannon.js'), JSON.stringify(opts)]));
  const j = JSON.parse(out);
  return {
    tool: 'autocannon', rps: Math.round(j.requests.average), p50: j.latency.p50, p99: j.latency.p99,
    errors: j.errors, timeouts: j.timeouts, non2xx: j.non2xx, toolCpu: toolCpu(ticks, seconds),
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
  const { out, ticks } = await run(pinned(1, ['wrk', '-t1', `-c${w.connections}`, `-d${seconds}s`, '--latency', ...script]));
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
    toolCpu: toolCpu(ticks, seconds),
  };
}

interface Tool { name: Load['tool']; run: (base: string, w: Workload, seconds: number) => Promise<Load> }
const TOOLS: Tool[] = [{ name: 'autocannon', run: autocannon }];
if (has('wrk') && !QUICK) TOOLS.push({ name: 'wrk', run: wrk });
const toolNames = TOOLS.map((t) => t.name);
/** The tool ratios are taken with: wrk when present (one autocannon process tops out near 85k req/s). */
const BEST = TOOLS.at(-1)!;

/** The servers running, stopped (and their specs' cleanup run) if the bench itself is interrupted. */
const running = new Map<ChildProcess, ServerSpec>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const [proc, spec] of running) {
      stopServer(proc, true);
      spec.cleanup?.();
    }
    rmSync(PM2_HOME, { recursive: true, force: true });
    rmSync(OBSERVE_DIR, { recursive: true, force: true });
    process.exit(130);
  });
}

async function startServer(spec: ServerSpec): Promise<{ proc: ChildProcess; port: number }> {
  const port = await bindOnce('127.0.0.1', 0);
  const argv = withFiles(pinned(0, spec.argv(port)));
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, ...spec.env, PORT: String(port) },
  });
  running.set(proc, spec);
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
  running.delete(proc);
  try { process.kill(-proc.pid!, now ? 'SIGKILL' : 'SIGTERM'); } catch { /* gone */ }
  setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000).unref();
}

interface Started { spec: ServerSpec; proc: ChildProcess; base: string }

/**
 * One run of a started server, with the CPU it took. Standard and full runs start it on an idle
 * machine and take it again (up to ATTEMPTS times) when other processes took more than IDLE of the
 * server's core or of the load generator's meanwhile.
 */
async function runOnce(s: Started, tool: Tool, w: Workload, label: string): Promise<Load> {
  for (let attempt = 1; ; attempt++) {
    await untilIdle();
    const [ticks, stat] = [cpuTicks(s.proc.pid!), cpuStat()];
    const load = await tool.run(s.base, w, DURATION);
    const [server, after] = [cpuTicks(s.proc.pid!) - ticks, cpuStat()];
    load.cpu = Math.round((server / CLK_TCK / DURATION) * 100) / 100;
    if (!PIN) return load;
    // A process's ticks include the softirq work done in its context, which /proc/stat counts as softirq.
    const used = (cpu: number) => shareOf(stat, after, cpu, (t) => t.busy + t.kernel);
    const span = (cpu: number) => Math.max(1, (after[cpu]?.total ?? 0) - (stat[cpu]?.total ?? 0));
    load.core = Math.round(used(0) * 100) / 100;
    const others = Math.max(0, used(0) - server / span(0), used(1) - ((load.toolCpu ?? 0) * CLK_TCK * DURATION) / span(1));
    if (QUICK || others <= IDLE) return load;
    const what = `${label}: other processes took ${Math.round(others * 100)} % of a core used by the bench`;
    if (attempt === ATTEMPTS) { log(`  (${what}: kept, the last of ${ATTEMPTS} attempts)`); return load; }
    log(`  (${what}; again)`);
  }
}

/** A row from a server's runs of one workload; its errors make a problem when they fail the run. */
function record(s: Started, tool: Tool, w: Workload, runs: Load[], problems: string[], named: boolean): Row {
  const { spec } = s;
  const { connections: c, path: p } = w;
  const row: Row = {
    server: spec.name, tool: tool.name, connections: c, path: p, runs,
    rps: Math.round(runs.reduce((a, x) => a + x.rps, 0) / runs.length), rssMiB: rssOf(s.proc.pid!),
  };
  const bad = runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
  // Any error fails a qilin run (and every run of the quick smoke); an anchor's are reported.
  // Except wrk timeouts of the node engine at 1000 connections: node:http serves 1000 busy
  // connections on one core unevenly (a few wait past wrk's 2 s), and its anchors (node:http,
  // @hono/node-server, Express's listen()) time out as often in the same run; errors and
  // non-2xx still fail.
  const nodeServing = spec.nodeEngine === true && c >= 1000 && row.tool === 'wrk';
  const failing = nodeServing ? runs.reduce((a, x) => a + x.errors + x.non2xx, 0) : bad;
  if (bad > 0 && failing === 0) log(`  (${bad} wrk timeouts at c${c}: reported, as node:http's)`);
  if (failing > 0 && (QUICK || spec.name.startsWith('qilin'))) problems.push(`${spec.name} (${row.tool}, c${c}, ${p}): ${bad} errors/timeouts/non-2xx`);
  log(`  ${named ? `${spec.name}: ` : ''}${row.tool.padEnd(10)} c${String(c).padEnd(5)} ${p.padEnd(6)} ${runs.map((x) => x.rps).join(' / ').padStart(17)} req/s` +
    `  p50 ${runs[0]!.p50} ms  p99 ${runs[0]!.p99} ms  errors ${bad}  CPU ${runs.map((x) => x.cpu).join(' / ')}` +
    `${PIN ? ` (core ${runs.map((x) => x.core).join(' / ')})` : ''}  load CPU ${runs.map((x) => x.toolCpu).join(' / ')}` +
    `  RSS ${row.rssMiB.join('+')} MiB`);
  return row;
}

/**
 * Measures a batch of servers side by side: each is started once, and each round of runs takes them
 * in turn, so a slow spell of a shared machine (or of the host under it) falls on all of them alike.
 * A batch of one is a server measured alone. The servers of a batch share their plan and tools.
 */
async function measure(batch: ServerSpec[], problems: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  const started: Started[] = [];
  const named = batch.length > 1;
  try {
    for (const spec of batch) {
      try {
        const { proc, port } = await startServer(spec);
        started.push({ spec, proc, base: `http://127.0.0.1:${port}` });
      } catch (err) {
        problems.push(`${spec.name}: ${(err as Error).message}`);
        log(`  FAILED: ${(err as Error).message}`);
      }
    }
    const first = batch[0]!;
    for (const tool of first.bestToolOnly ? [BEST] : TOOLS) {
      for (const w of planOf(first)) {
        for (const s of started) {
          await untilIdle();
          await tool.run(s.base, w, WARMUP);
        }
        const runs = started.map(() => [] as Load[]);
        for (let r = 0; r < RUNS; r++) {
          for (const [i, s] of started.entries()) runs[i]!.push(await runOnce(s, tool, w, `${named ? `${s.spec.name}, ` : ''}run ${r + 1}`));
        }
        rows.push(...started.map((s, i) => record(s, tool, w, runs[i]!, problems, named)));
      }
    }
  } finally {
    for (const s of started) stopServer(s.proc);
    await sleep(300);
    for (const s of started) s.spec.cleanup?.();
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
  // A ratio just under its target shows a third decimal, so that it does not read as met.
  const times = (min: number) => (x: number) => `${x < min && x.toFixed(2) === min.toFixed(2) ? x.toFixed(3) : x.toFixed(2)}×`;
  // name ÷: row a's best run over row b's, at c100; each side is a server and the path column of its row.
  const atLeast = (name: string, a: [string, string?], b: [string, string?], min: number, what = '') =>
    add(`${name} (${best}, c100${what})`, ratio(pick(rows, a[0], best, 100, a[1]), pick(rows, b[0], best, 100, b[1])), `≥ ${min}×`, (v) => v >= min, times(min));
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
  // 60 MiB for the server, plus ~9 MiB for the stuck-stack watchdog thread that defaults turn on.
  add('RSS per qilin worker after the runs, hello apps (max)', workerRss((r) => HELLO_ROWS.includes(r.server)), '≤ 69 MiB', (v) => v <= 69, (x) => `${x} MiB`);
  // node:http's server, sockets and streams cost the node engine's worker more than uWS's native side.
  // The node engine: --engine node rows, and the Node-style apps (qilin picks the node engine for them).
  const nodeEngine = (r: Row) => SERVERS.some((spec) => spec.name === r.server && spec.nodeEngine === true);
  add('RSS per qilin worker after the runs, other apps (max)', workerRss((r) => r.server.startsWith('qilin') && !HELLO_ROWS.includes(r.server) && !nodeEngine(r)),
    'context', () => true, (x) => `${x} MiB`);
  add('RSS per qilin worker after the runs, node engine (max)', workerRss(nodeEngine), 'context', () => true, (x) => `${x} MiB`);
  // Express, Fastify and Koa, GET / and GET /json: qilin against the same app module on each anchor.
  for (const fw of FRAMEWORKS) {
    const n = anchorNames(fw);
    for (const p of ['/', '/json']) {
      if (!pick(rows, `qilin (${fw})`, best, 100, p)) continue; // not measured in this run
      // Against the anchors this kind of run measures (--quick: listen() only); n/a when one was skipped.
      const measured = (name: string) => SERVERS.some((spec) => spec.name === name && runsIn(spec));
      if (measured(n.listen)) atLeast(`qilin ${fw} ÷ ${n.listen}`, [`qilin (${fw})`, p], [n.listen, p], 0.95, `, GET ${p}`);
      for (const anchor of [n.rr, n.none, n.pm2].filter(measured)) {
        atLeast(`qilin ${fw} ÷ ${anchor}`, [`qilin (${fw})`, p], [anchor, p], 1.0, `, GET ${p}`);
      }
    }
  }
  // Watching the server: each way on against the same app with everything off, same batch.
  for (const [on, off] of [
    [OBSERVE.metrics, OBSERVE.off], [OBSERVE.statsd, OBSERVE.off], [OBSERVE.nodeAll, OBSERVE.nodeOff],
  ] as const) {
    if (!pick(rows, on, best, 100) || !pick(rows, off, best, 100)) continue;
    atLeast(`${on} ÷ ${off}`, [on], [off], 0.9);
  }
  // request_timeout is on by default (300 s): it should cost nothing a run can tell from noise.
  if (pick(rows, OBSERVE.off, best, 100) && pick(rows, OBSERVE.noTimeout, best, 100)) {
    atLeast(`${OBSERVE.off} (request_timeout 300) ÷ ${OBSERVE.noTimeout}`, [OBSERVE.off], [OBSERVE.noTimeout], 0.95);
  }
  // An access log line costs a few µs however little the app does (on uWS, one getpeername(2) for
  // %(h)s, since uWS keeps no peer address, then the line): on hello world, ~10 µs a request, that is
  // most of a request, so these are the log's absolute cost, and the ≤ 10 % bar is an app's (below).
  for (const on of [OBSERVE.text, OBSERVE.json, OBSERVE.all]) {
    const a = pick(rows, on, best, 100);
    const b = pick(rows, OBSERVE.off, best, 100);
    if (!a || !b) continue;
    const us = 1e6 / best1(a) - 1e6 / best1(b);
    add(`${on} ÷ ${OBSERVE.off} (${best}, c100)`, ratio(a, b), 'context: the cost per request', () => true,
      (x) => `${x.toFixed(2)}× (+${us.toFixed(1)} µs a request)`);
  }
  for (const on of [OBSERVE.apiText, OBSERVE.apiJson]) {
    if (!pick(rows, on, best, 100, HONO_API[0]!.path) || !pick(rows, OBSERVE.apiOff, best, 100, HONO_API[0]!.path)) continue;
    atLeast(`${on} ÷ ${OBSERVE.apiOff}`, [on, HONO_API[0]!.path], [OBSERVE.apiOff, HONO_API[0]!.path], 0.9);
  }
  // The I/O-bound case, from each server's best run.
  const io = (server: string) => pick(rows, server, best, 1000, IO_PATH);
  if (io(IO_SERVERS.fetch) || io(IO_SERVERS.express)) {
    const what = `${best}, c1000, ${IO_PATH}`;
    const atLeastAt = (name: string, a: Row | undefined, b: Row | undefined, min: number) => add(name, ratio(a, b), `≥ ${min}×`, (v) => v >= min, times(min));
    atLeastAt(`qilin I/O fetch ÷ Gunicorn + gevent, 1 worker each (${what})`, io(IO_SERVERS.fetch), io(IO_SERVERS.gunicorn), 10);
    for (const server of [IO_SERVERS.fetch, IO_SERVERS.express]) {
      const r = io(server);
      const top = r ? r.runs.reduce((a, x) => (x.rps > a.rps ? x : a)) : undefined;
      // The server's core, busy in the server or in the kernel's TCP for it (softirq, charged to no process).
      const core = top?.core ?? NaN;
      // Near the ideal until the core saturates: either is met.
      add(`${server} ÷ ${IO_IDEAL / 1000}k req/s (1000 connections ÷ ${IO_WAIT_MS} ms) (${best})`, top ? top.rps / IO_IDEAL : NaN,
        '≥ 90 %, or its core saturated (≥ 90 % busy)', (v) => v >= 0.9 || core >= 0.9,
        (x) => `${(x * 100).toFixed(0)} % (core ${Number.isNaN(core) ? 'n/a' : `${Math.round(core * 100)} %`} busy)`);
    }
    atLeastAt(`qilin I/O fetch ÷ raw uWS, same handler: the engine's limit on this core (${what})`, io(IO_SERVERS.fetch), io(IO_SERVERS.rawUws), 0.8);
    add(`qilin I/O fetch ÷ node:http, same handler (${what})`, ratio(io(IO_SERVERS.fetch), io(IO_SERVERS.nodeHttp)), 'context', () => true);
    add(`qilin I/O Express ÷ Express listen(), same app (${what})`, ratio(io(IO_SERVERS.express), io(IO_SERVERS.expressListen)), 'context', () => true);
    add(`qilin I/O fetch ÷ node:cluster 1 worker, same handler (${what})`, ratio(io(IO_SERVERS.fetch), io(IO_SERVERS.cluster)), 'context', () => true);
  }
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
    'worker, on a socket the arbiter made), against node:http and @hono/node-server.');
  lines.push('*Express*, *Fastify* and *Koa* rows run one app module per framework (bench/apps/*.cjs, GET / text and GET /json) ' +
    'on qilin (1 worker; qilin serves a Node-style app on the node engine), on the framework\'s own listen(), on node:cluster ' +
    'with 1 worker under each scheduling policy (rr: the primary accepts and hands each connection to the worker; none: the ' +
    'worker accepts from the shared socket), and on PM2 cluster mode with 1 instance; each framework\'s servers are measured ' +
    'side by side (all started, each round of runs takes them in turn), with the best tool only (the I/O rows too). The anchors listen with ' +
    'qilin\'s backlog (2048) rather than node\'s 511, which a burst of 1000 connections overflows. ' +
    `*I/O* rows: every request awaits ${IO_WAIT_MS} ms (a database call), 1000 connections, qilin with --worker-connections 1000 ` +
    'for a fetch app (uws engine) and an Express app (node engine), against the same handler on raw uWS, node:http, Express\'s listen(), ' +
    `node:cluster (1 worker) and Gunicorn's gevent worker (1 worker, gevent.sleep(${IO_WAIT_MS / 1000})); the ideal is ` +
    `1000 ÷ ${IO_WAIT_MS} ms = ${IO_IDEAL / 1000}k req/s until the core saturates. The server processes' CPU is their CPU ` +
    'time over the run (all pinned to the one core); the core\'s busy share adds the kernel\'s interrupt and softirq time ' +
    'on it (loopback TCP, charged to no process). Standard and full runs start each run on an idle machine, and repeat a run ' +
    `during which other processes took more than ${IDLE * 100} % of the server's core or the load generator's (up to ${ATTEMPTS} times).`, '');
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
  const ioRows = rows.filter((r) => r.path === IO_PATH);
  if (ioRows.length) {
    lines.push('', `## I/O-bound: each request awaits ${IO_WAIT_MS} ms, 1000 connections, 1 worker on one core`, '',
      `| server | tool | req/s (runs) | ÷ ${IO_IDEAL / 1000}k | server processes' CPU | server core busy | p50 ms | p99 ms | errors+timeouts+non-2xx | RSS MiB |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of ioRows) {
      const bad = r.runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
      const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x * 100)} %`);
      lines.push(`| ${r.server} | ${r.tool} | ${r.runs.map((x) => x.rps).join(' / ')} | ${r.runs.map((x) => pct(x.rps / IO_IDEAL)).join(' / ')} | ` +
        `${r.runs.map((x) => pct(x.cpu)).join(' / ')} | ${r.runs.map((x) => pct(x.core)).join(' / ')} | ${r.runs.map((x) => x.p50).join(' / ')} | ${r.runs.map((x) => x.p99).join(' / ')} | ` +
        `${bad} | ${r.rssMiB.join(' + ')} |`);
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
  if (NOFILE < 1100) skipped.push(`runs with 1000 connections: a process may open only ${NOFILE} files here (ulimit -n 4096 first)`);
  if (!has('wrk')) skipped.push('wrk is not installed (apt-get install wrk): only autocannon measured, which cannot tell apart servers faster than ~85k req/s');
  // Consecutive servers of the same batch are measured side by side; any other alone.
  const batches: ServerSpec[][] = [];
  for (const spec of SERVERS) {
    if (!runsIn(spec)) continue;
    if (ONLY && !ONLY.some((t) => spec.name.includes(t))) continue;
    const why = planOf(spec).length === 0 ? 'nothing to run with the descriptors a process may open (ulimit -n)' : spec.unavailable?.();
    if (why) { skipped.push(`${spec.name}: ${why}`); log(`- ${spec.name}: skipped (${why})`); continue; }
    const last = batches.at(-1);
    if (spec.batch !== undefined && last?.[0]?.batch === spec.batch) last.push(spec);
    else batches.push([spec]);
  }
  for (const batch of batches) {
    log(batch.length > 1 ? `- side by side: ${batch.map((x) => x.name).join(', ')}` : `- ${batch[0]!.name}`);
    try {
      rows.push(...await measure(batch, problems));
    } catch (err) {
      problems.push(`${batch.map((x) => x.name).join(', ')}: ${(err as Error).message}`);
      log(`  FAILED: ${(err as Error).message}`);
    }
  }
  rmSync(PM2_HOME, { recursive: true, force: true });
  rmSync(OBSERVE_DIR, { recursive: true, force: true });
  statsdSink.close();
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
