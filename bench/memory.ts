// Memory at rest: each server of the hello app after 200 requests and 3 quiet seconds, per process,
// three ways from /proc/PID/smaps_rollup:
//   RSS      what `ps` and `top` show: every page the process has in memory, shared ones included;
//   private  pages no other process has (its own heap, stacks, and code pages only it touched): what
//            stopping it gives back;
//   PSS      private plus its share of each shared page (the node binary's code, shared by the
//            arbiter and every worker): the processes' PSS add up to what they cost together.
// RSS counts the node binary's code in full in every process (30–40 MiB of it on Node 24), so a
// server of N processes costs less than N × RSS; PSS is the figure to add up.
// `npm run build && node dist/bench/memory.js` writes bench/results/<date>-memory.{md,json}; run it
// inside the Debian 13 root with Node 24 (`.ci/platforms.sh enter`) for that line.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';
import { loadUws } from '../lib/engines/uws/load.js';
import { qilinArgv, serverProcesses, startServer, stopGroup } from './proc.js';

function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const NODE = process.execPath;
const js = (file: string) => path.join(ROOT, 'dist/bench', file);
const RUNTIMES = path.join(ROOT, 'bench/runtimes/node_modules');
const BUN = path.join(RUNTIMES, '@oven/bun-linux-x64/bin/bun');
const DENO = path.join(RUNTIMES, '@deno/linux-x64-glibc/deno');

const REQUESTS = 200;
const SETTLE_MS = 3000;

interface Server {
  name: string;
  argv: (port: number) => string[];
  env?: Record<string, string>;
  /** Serves no HTTP: measured once it has run for SETTLE_MS. */
  silent?: boolean;
  /** Why it cannot run here, or null. */
  missing?: () => string | null;
}
const qilinOn =
  (workers: number, app: string, ...args: string[]) =>
  (port: number) =>
    qilinArgv(NODE, path.join(ROOT, 'dist/bin/qilin.js'), port, app, workers, args);
const qilin = (app: string, ...args: string[]) => qilinOn(1, app, ...args);
const needs = (file: string) => () =>
  existsSync(file) ? null : `${file} is not installed (npm run bench installs it)`;
const SERVERS: Server[] = [
  {
    name: 'bare node (a timer, nothing imported)',
    argv: () => [NODE, '-e', 'setInterval(() => {}, 1000)'],
    silent: true,
  },
  { name: 'node:http', argv: () => [NODE, js('servers/node-http.js')] },
  { name: 'raw uWebSockets.js', argv: () => [NODE, js('servers/raw-uws.js')] },
  { name: 'Hono on @hono/node-server', argv: () => [NODE, js('servers/hono-node.js')] },
  { name: 'qilin, fetch app', argv: qilin(js('apps/hello.js')) },
  // Less the one-worker row's total: what each further worker adds.
  { name: 'qilin, fetch app, 2 workers', argv: qilinOn(2, js('apps/hello.js')) },
  { name: 'qilin, fetch app, --no-stuck-stack', argv: qilin(js('apps/hello.js'), '--no-stuck-stack') },
  { name: 'qilin, Hono app', argv: qilin(js('apps/hono.js')) },
  { name: 'qilin, Express app (node engine)', argv: qilin(path.join(ROOT, 'bench/apps/express.cjs')) },
  { name: 'Bun.serve', argv: () => [BUN, js('servers/bun-serve.js'), js('apps/hello.js')], missing: needs(BUN) },
  {
    name: 'deno serve',
    argv: (port) => [DENO, 'serve', '-A', '--port', String(port), '--host', '127.0.0.1', js('servers/deno-serve.js')],
    env: { BENCH_APP: js('apps/hello.js') },
    missing: needs(DENO),
  },
];

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(port: number, agent: http.Agent): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(`http://127.0.0.1:${port}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', () => resolve(0));
  });
}

async function upAndWarm(port: number, proc: ChildProcess): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const end = Date.now() + 20000;
    while ((await get(port, agent)) !== 200) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
      if (Date.now() > end) throw new Error('server did not answer');
      await sleep(100);
    }
    for (let i = 0; i < REQUESTS; i += 4) await Promise.all([0, 1, 2, 3].map(() => get(port, agent)));
  } finally {
    agent.destroy();
  }
}

interface Usage {
  role: string;
  rss: number;
  pss: number;
  private: number;
}
/** smaps_rollup of one process, MiB. */
function usage(pid: number): Omit<Usage, 'role'> | null {
  try {
    const kb: Record<string, number> = {};
    for (const m of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm))
      kb[m[1]!] = Number(m[2]);
    const mib = (k: number) => Math.round(k / 102.4) / 10;
    return {
      rss: mib(kb.Rss ?? 0),
      pss: mib(kb.Pss ?? 0),
      private: mib((kb.Private_Clean ?? 0) + (kb.Private_Dirty ?? 0)),
    };
  } catch {
    return null;
  }
}
const PAGE = 4096;
/**
 * The physical pages a set of processes has in memory, each counted once however many of them map
 * it: what the server holds in all, as if nothing else on the machine shared its pages (PSS splits
 * a page with every process that maps it, the bench's own node included). From /proc/PID/pagemap,
 * whose frame numbers only root may read: null otherwise.
 */
function distinctPages(pids: number[]): number | null {
  const frames = new Set<bigint>();
  for (const pid of pids) {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      return null;
    }
    try {
      // Only mappings with pages in memory (smaps' Rss), so that the V8 cage's reservations are skipped.
      const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
      for (const m of smaps.matchAll(/^([0-9a-f]+)-([0-9a-f]+) [^\n]*\n(?:(?!Rss:)[^\n]*\n)*?Rss:\s+(\d+) kB/gm)) {
        if (m[3] === '0') continue;
        const start = Number.parseInt(m[1]!, 16) / PAGE;
        const count = (Number.parseInt(m[2]!, 16) - Number.parseInt(m[1]!, 16)) / PAGE;
        const buf = Buffer.alloc(count * 8);
        readSync(fd, buf, 0, buf.length, start * 8);
        for (let i = 0; i < count; i++) {
          const e = buf.readBigUInt64LE(i * 8);
          if (!(e >> 63n)) continue; // not present
          const pfn = e & ((1n << 55n) - 1n);
          if (pfn === 0n) return null; // frame numbers hidden: not root
          frames.add(pfn);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return Math.round((frames.size * PAGE) / 1048576 / 0.1) / 10;
}

/** What a process is, by its title (qilin names its arbiter and workers) or its command. */
function roleOf(pid: number): string {
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  if (cmd.startsWith('qilin: master')) return 'arbiter';
  if (cmd.startsWith('qilin: worker')) return 'worker';
  return 'server';
}

interface Result {
  server: string;
  processes: Usage[];
  /** The distinct pages of all its processes, MiB (null: not root). */
  total: number | null;
}
const results: Result[] = [];
const skipped: string[] = [];
for (const s of SERVERS) {
  const why = s.missing?.() ?? null;
  if (why !== null) {
    skipped.push(`${s.name}: ${why}`);
    log(`${s.name}: skipped (${why})`);
    continue;
  }
  const port = await bindOnce('127.0.0.1', 0);
  const argv = s.argv(port);
  const proc = startServer(argv, port, s.env, ROOT);
  try {
    if (!s.silent) await upAndWarm(port, proc);
    await sleep(SETTLE_MS);
    const pids = serverProcesses(proc.pid!);
    const processes = pids.flatMap((pid) => {
      const u = usage(pid);
      return u ? [{ role: roleOf(pid), ...u }] : [];
    });
    const total = distinctPages(pids);
    results.push({ server: s.name, processes, total });
    const each = processes.map((p) => `${p.role} RSS ${p.rss} PSS ${p.pss} private ${p.private} MiB`);
    log(`${s.name}: ${each.join('; ')}; in all ${total ?? '?'} MiB`);
  } finally {
    await stopGroup(proc.pid!);
  }
}

const sum = (ps: Usage[], k: 'rss' | 'pss' | 'private') => Math.round(ps.reduce((a, p) => a + p[k], 0) * 10) / 10;
const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
const cpu = os.cpus();
const glibc = spawnSync('ldd', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '';
let uws: string;
try {
  uws = loadUws().build;
} catch (err) {
  uws = `uWebSockets.js not loaded: ${(err as Error).message}`;
}
const lines = [
  `# Memory at rest — ${date}`,
  '',
  `${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}). Node ${process.version}, ${uws}; ${glibc}.`,
  `Each server serves the bench's hello app (bench/apps/hello.ts; the Hono rows bench/apps/hono.ts, Express bench/apps/express.cjs) with one qilin worker (two in the row that says so), answers ${REQUESTS} requests over 4 keep-alive connections, then rests ${SETTLE_MS / 1000} s; its processes are read from /proc/PID/smaps_rollup.`,
  "*RSS* counts every page a process has in memory, the node binary's shared code in full; *private* is what only that process holds (what stopping it gives back); *PSS* is private plus its share of the pages it shares, so that the PSS of a server's processes add up to what they cost together.",
  '',
  "*In all* counts each physical page of the server's processes once, however many of them map it: what the server holds, as if nothing else on the machine shared its pages (from /proc/PID/pagemap; root only).",
  '',
  '| server | process | RSS MiB | PSS MiB | private MiB | in all MiB |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.flatMap((r) => {
    const one = r.processes.length === 1;
    const rows = r.processes.map(
      (p) => `| ${r.server} | ${p.role} | ${p.rss} | ${p.pss} | ${p.private} | ${one ? (r.total ?? '') : ''} |`,
    );
    if (!one)
      rows.push(
        `| ${r.server} | all | ${sum(r.processes, 'rss')} | ${sum(r.processes, 'pss')} | ${sum(r.processes, 'private')} | ${r.total ?? ''} |`,
      );
    return rows;
  }),
  '',
  ...(skipped.length ? ['Not measured:', '', ...skipped.map((s) => `- ${s}`), ''] : []),
];
const OUT = path.join(ROOT, 'bench/results');
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, `${date}-memory.md`), lines.join('\n'));
writeFileSync(
  path.join(OUT, `${date}-memory.json`),
  JSON.stringify({ date, node: process.version, uws, glibc, results, skipped }, null, 2) + '\n',
);
log(`\nwrote bench/results/${date}-memory.md`);
