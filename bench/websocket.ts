// WebSocket echo, messages per second: qilin (uws engine, a fetch app with upgradeWebSocket), raw
// uWebSockets.js (same build) and the ws package on node:http, in one run, each server pinned to
// core 0 and the load generator (bench/ws-load.ts) to core 1.
// `npm run build && node dist/bench/websocket.js` writes bench/results/<date>-websocket.{md,json}.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';
import { loadUws } from '../lib/engines/uws/load.js';
import { CLK_TCK, cpuTicks, qilinArgv, startServer, stopGroup } from './proc.js';

function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const NODE = process.execPath;
const js = (file: string) => path.join(ROOT, 'dist/bench', file);
const PIN = spawnSync('sh', ['-c', 'command -v taskset']).status === 0 && os.cpus().length >= 2;
const pinned = (core: number, argv: string[]) => (PIN ? ['taskset', '-c', String(core), ...argv] : argv);

const CONNECTIONS = 100;
const WARMUP_MS = 1000;
const DURATION_MS = 5000;
/** Messages each connection keeps in flight: 1 is send-and-await-the-echo; 16 is pipelined. */
const WINDOWS = [1, 16];

interface Server {
  name: string;
  argv: (port: number) => string[];
  env?: Record<string, string>;
}
const SERVERS: Server[] = [
  {
    name: 'qilin (uws engine), fetch app with upgradeWebSocket',
    argv: (port) => qilinArgv(NODE, path.join(ROOT, 'dist/bin/qilin.js'), port, js('apps/ws-echo.js')),
  },
  { name: 'raw uWebSockets.js', argv: () => [NODE, js('servers/ws-raw-uws.js')] },
  {
    name: 'raw uWebSockets.js, text decoded and sent as a string',
    argv: () => [NODE, js('servers/ws-raw-uws.js')],
    env: { WS_TEXT: '1' },
  },
  { name: 'ws on node:http', argv: () => [NODE, js('servers/ws-node.js')] },
];

const log = (s: string) => process.stdout.write(s + '\n');

async function up(port: number, proc: ChildProcess): Promise<void> {
  const end = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      http
        .get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error('server did not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One load run against the server `pid`: messages echoed, the seconds measured (after the warm-up),
 * and the server's CPU ticks (all its processes) over those seconds.
 */
function load(
  pid: number,
  port: number,
  window: number,
): Promise<{ messages: number; seconds: number; ticks: number }> {
  const argv = pinned(1, [
    NODE,
    js('ws-load.js'),
    String(port),
    String(CONNECTIONS),
    String(window),
    String(WARMUP_MS),
    String(DURATION_MS),
  ]);
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let from = NaN;
  let to = NaN;
  p.stdout.on('data', (d) => {
    out += d;
    if (Number.isNaN(from) && out.includes('measuring\n')) from = cpuTicks(pid);
    if (Number.isNaN(to) && out.includes('}')) to = cpuTicks(pid);
  });
  return new Promise((resolve, reject) =>
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else {
        const r = JSON.parse(out.slice(out.indexOf('{'))) as { messages: number; seconds: number };
        resolve({ ...r, ticks: to - from });
      }
    }),
  );
}

/**
 * Servers take turns, ROUNDS times, and each keeps its best run: interference on a shared machine
 * only ever slows a run down, and one run each swung the ratio by ±15 %.
 */
const ROUNDS = Number(process.env.WS_ROUNDS ?? 3);
interface Run {
  server: string;
  window: number;
  perSecond: number;
  /** The server's CPU time (all its processes) per message, µs. */
  cpuUs: number;
}
const runs: Run[] = [];
for (let round = 1; round <= ROUNDS; round++)
  for (const s of SERVERS) {
    const port = await bindOnce('127.0.0.1', 0);
    const argv = pinned(0, s.argv(port));
    const proc = startServer(argv, port, s.env, ROOT);
    try {
      await up(port, proc);
      for (const window of WINDOWS) {
        const r = await load(proc.pid!, port, window);
        const perSecond = Math.round(r.messages / r.seconds);
        const cpuUs = Math.round(((r.ticks / CLK_TCK) * 1e8) / r.messages) / 100;
        runs.push({ server: s.name, window, perSecond, cpuUs });
        log(
          `round ${round}: ${s.name}, window ${window}: ${perSecond.toLocaleString('en-US')} messages/s, ${cpuUs} µs CPU/message`,
        );
      }
    } finally {
      await stopGroup(proc.pid!);
    }
  }

/** Per server and window: the best rate, and the least CPU per message, of its runs. */
const results = SERVERS.flatMap((s) =>
  WINDOWS.map((window) => {
    const mine = runs.filter((r) => r.server === s.name && r.window === window);
    return {
      server: s.name,
      window,
      perSecond: Math.max(...mine.map((r) => r.perSecond)),
      cpuUs: Math.min(...mine.map((r) => r.cpuUs)),
    };
  }),
);
const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
const raw = (w: number) => results.find((r) => r.server === 'raw uWebSockets.js' && r.window === w)!;
const cpu = os.cpus();
const lines = [
  `# WebSocket echo — ${date}`,
  '',
  `${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}). Node ${process.version}, ${loadUws().build}. Servers pinned to core 0, the load generator to core ${PIN ? '1' : '(not pinned: no taskset)'}.`,
  `${CONNECTIONS} connections, each keeping 1 (send, await the echo) or 16 (pipelined) text messages of 13 bytes in flight; ${DURATION_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up; the servers take turns ${ROUNDS} times and each row is the best of its runs. The load generator (bench/ws-load.ts) writes prebuilt frames and counts echoes by size.`,
  '',
  "Besides the rate, each server's CPU time per message (all its processes, over the measured seconds): a rate moves with what else the machine runs, the CPU a message costs much less. Its ratio is raw uWS's CPU per message ÷ the server's, so that 1.00× is as cheap as raw uWS.",
  '',
  '| server | in flight per connection | messages/s | ÷ raw uWS | µs CPU per message | ÷ raw uWS (CPU) |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.server} | ${r.window} | ${r.perSecond.toLocaleString('en-US')} | ${(r.perSecond / raw(r.window).perSecond).toFixed(2)}× | ${r.cpuUs.toFixed(2)} | ${(raw(r.window).cpuUs / r.cpuUs).toFixed(2)}× |`,
  ),
  '',
];
const OUT = path.join(ROOT, 'bench/results');
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, `${date}-websocket.md`), lines.join('\n'));
writeFileSync(
  path.join(OUT, `${date}-websocket.json`),
  JSON.stringify(
    { date, node: process.version, connections: CONNECTIONS, durationMs: DURATION_MS, results, runs },
    null,
    2,
  ) + '\n',
);
log(`\nwrote bench/results/${date}-websocket.md`);
