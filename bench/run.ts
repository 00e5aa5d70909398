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
import { loadUws } from '../lib/uws.js';

// Runs from dist/bench/run.js; the project root is where package.json is.
function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
// --only=TEXT: measure only the servers whose name contains TEXT (for A/B work on one case).
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
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

interface ServerSpec {
  name: string;
  argv: (port: number) => string[];
  /** Why it cannot run here, or null. */
  unavailable?: () => string | null;
  group: 'core' | 'full' | 'overhead';
}

const qilin = (app: string, extra: string[] = []) => (port: number) =>
  [NODE, QILIN, '-b', `127.0.0.1:${port}`, '-w', '1', '--log-level', 'warning', ...extra, js(app)];

const SERVERS: ServerSpec[] = [
  { name: 'raw uWS', group: 'core', argv: () => [NODE, js('servers/raw-uws.js')] },
  { name: 'qilin pool (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'pool']) },
  { name: 'qilin pool (Hono)', group: 'core', argv: qilin('apps/hono.js', ['-k', 'pool']) },
  { name: 'Hono on @hono/node-server', group: 'core', argv: () => [NODE, js('servers/hono-node.js')] },
  { name: 'node:http', group: 'core', argv: () => [NODE, js('servers/node-http.js')] },
  { name: 'qilin sync (fetch)', group: 'core', argv: qilin('apps/hello.js', ['-k', 'sync']) },
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
];

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

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
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

async function autocannon(url: string, connections: number, seconds: number): Promise<Load> {
  const out = await run(pinned(1, [NODE, path.join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(connections), '-d', String(seconds), '-j', url]));
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

async function wrk(url: string, connections: number, seconds: number): Promise<Load> {
  const out = await run(pinned(1, ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url]));
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

const TOOLS: ((url: string, c: number, s: number) => Promise<Load>)[] = [autocannon];
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
  while (!(await answers(`http://127.0.0.1:${port}/`) && await answers(`http://127.0.0.1:${port}/json`))) {
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
    const plan: { c: number; path: string }[] = spec.group === 'overhead'
      ? [{ c: 100, path: '/' }]
      : [...CONNECTIONS.map((c) => ({ c, path: '/' })), { c: 100, path: '/json' }];
    for (let ti = 0; ti < TOOLS.length; ti++) {
      for (const { c, path: p } of plan) {
        const url = `http://127.0.0.1:${port}${p}`;
        await TOOLS[ti]!(url, c, WARMUP);
        const runs: Load[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await TOOLS[ti]!(url, c, DURATION));
        const row: Row = {
          server: spec.name, tool: toolNames[ti]!, connections: c, path: p, runs,
          rps: Math.round(runs.reduce((a, x) => a + x.rps, 0) / runs.length), rssMiB: rssOf(proc.pid!),
        };
        rows.push(row);
        const bad = runs.reduce((a, x) => a + x.errors + x.timeouts + x.non2xx, 0);
        // Any error fails a qilin run (and every run of the quick smoke); an anchor's are reported.
        if (bad > 0 && (QUICK || spec.name.startsWith('qilin'))) problems.push(`${spec.name} (${row.tool}, c${c}, ${p}): ${bad} errors/timeouts/non-2xx`);
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
  add(`qilin pool fetch ÷ raw uWS (${best}, c100)`, ratio(pick(rows, 'qilin pool (fetch)', best), pick(rows, 'raw uWS', best)), '≥ 0.6×', (v) => v >= 0.6);
  add(`qilin pool fetch ÷ node:http (${best}, c100)`, ratio(pick(rows, 'qilin pool (fetch)', best), pick(rows, 'node:http', best)), '≥ 1.5×', (v) => v >= 1.5);
  add(`qilin Hono ÷ Hono on @hono/node-server (${best}, c100)`, ratio(pick(rows, 'qilin pool (Hono)', best), pick(rows, 'Hono on @hono/node-server', best)), '≥ 1.5×', (v) => v >= 1.5);
  const overhead = 1 - ratio(pick(rows, 'qilin pool, async app', best), pick(rows, 'bare uWS handler, async app, no pool', best));
  add(`pool overhead vs bare uWS handler, same async app (${best}, c100)`, overhead, '≤ 10 %', (v) => v <= 0.1, (x) => `${(x * 100).toFixed(1)} %`);
  const c1000 = CONNECTIONS.includes(1000) ? pick(rows, 'qilin pool (fetch)', best, 1000) : undefined;
  const p99 = (r?: Row) => (r ? Math.max(...r.runs.map((x) => x.p99)) : NaN);
  add(`qilin pool fetch p99 at c1000 (${best})`, p99(c1000), '≤ 10 ms', (v) => v <= 10, (x) => `${x} ms`);
  // With 1000 connections on one server core, mean latency is 1000 ÷ req/s (Little's law): the engine
  // itself sets the floor, so qilin's p99 is also shown against raw uWS's in the same run.
  const rawC1000 = CONNECTIONS.includes(1000) ? pick(rows, 'raw uWS', best, 1000) : undefined;
  add(`qilin pool fetch p99 ÷ raw uWS p99 at c1000 (${best})`, p99(c1000) / p99(rawC1000), 'context', () => true);
  const qilinRss = rows.filter((r) => r.server.startsWith('qilin')).flatMap((r) => r.rssMiB.slice(1)); // workers, not the arbiter
  add('RSS per qilin worker after the runs (max)', qilinRss.length ? Math.max(...qilinRss) : NaN, '≤ 60 MiB', (v) => v <= 60, (x) => `${x} MiB`);
  return out;
}

function markdown(meta: Record<string, unknown>, rows: Row[], tgs: Target[], skipped: string[], problems: string[]): string {
  const lines = [`# qilin benchmark — ${meta.date}`, ''];
  lines.push(`${meta.mode} run. ${meta.machine}. Node ${meta.node}, ${meta.uws}.`);
  lines.push(`Servers pinned to ${meta.serverCores}, load generators to ${meta.loadCores}; req/s is per server core. ` +
    `${DURATION} s per run after a ${WARMUP} s warm-up, ${RUNS} run(s) each.`);
  lines.push('autocannon is what users run, but one autocannon process tops out near 85k req/s on one core here: ' +
    'ratios against the fast servers come from wrk. Target ratios use each server\'s best run; the tables give every run.', '');
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
    if (ONLY && !spec.name.includes(ONLY)) continue;
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
  writeFileSync(path.join(OUT, `${date}${QUICK ? '-quick' : ''}.json`), JSON.stringify({ meta, rows, targets: tgs, skipped, problems }, null, 2) + '\n');
  writeFileSync(path.join(OUT, `${base}.md`), markdown(meta, rows, tgs, skipped, problems).replace('latest.svg', `${base}.svg`));
  writeFileSync(path.join(OUT, `${base}.svg`), svg(rows));
  log('');
  for (const t of tgs) log(`${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.name}: ${t.value} (target ${t.target})`);
  log(`results: bench/results/${base}.md`);
  if (problems.length) { log(`\n${problems.length} problem(s):\n${problems.join('\n')}`); return 1; }
  return 0;
}

process.exitCode = await main();
