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
}
const SERVERS: Server[] = [
  {
    name: 'qilin (uws engine), fetch app with upgradeWebSocket',
    argv: (port) => [
      NODE,
      path.join(ROOT, 'dist/bin/qilin.js'),
      '-b',
      `127.0.0.1:${port}`,
      '-w',
      '1',
      '--log-level',
      'warning',
      js('apps/ws-echo.js'),
    ],
  },
  { name: 'raw uWebSockets.js', argv: () => [NODE, js('servers/ws-raw-uws.js')] },
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

function load(port: number, window: number): Promise<{ messages: number; seconds: number }> {
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
  p.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) =>
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else resolve(JSON.parse(out) as { messages: number; seconds: number });
    }),
  );
}

const results: { server: string; window: number; perSecond: number }[] = [];
for (const s of SERVERS) {
  const port = await bindOnce('127.0.0.1', 0);
  const argv = pinned(0, s.argv(port));
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
    env: { ...process.env, PORT: String(port) },
  });
  try {
    await up(port, proc);
    for (const window of WINDOWS) {
      const r = await load(port, window);
      const perSecond = Math.round(r.messages / r.seconds);
      results.push({ server: s.name, window, perSecond });
      log(`${s.name}, window ${window}: ${perSecond.toLocaleString('en-US')} messages/s`);
    }
  } finally {
    try {
      process.kill(-proc.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    await new Promise((r) => setTimeout(r, 500));
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
const raw = (w: number) => results.find((r) => r.server === 'raw uWebSockets.js' && r.window === w)!.perSecond;
const cpu = os.cpus();
const lines = [
  `# WebSocket echo — ${date}`,
  '',
  `${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}). Node ${process.version}, ${loadUws().build}. Servers pinned to core 0, the load generator to core ${PIN ? '1' : '(not pinned: no taskset)'}.`,
  `${CONNECTIONS} connections, each keeping 1 (send, await the echo) or 16 (pipelined) text messages of 13 bytes in flight; ${DURATION_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up, one run each. The load generator (bench/ws-load.ts) writes prebuilt frames and counts echoes by size.`,
  '',
  '| server | in flight per connection | messages/s | ÷ raw uWS |',
  '| --- | --- | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.server} | ${r.window} | ${r.perSecond.toLocaleString('en-US')} | ${(r.perSecond / raw(r.window)).toFixed(2)}× |`,
  ),
  '',
];
const OUT = path.join(ROOT, 'bench/results');
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, `${date}-websocket.md`), lines.join('\n'));
writeFileSync(
  path.join(OUT, `${date}-websocket.json`),
  JSON.stringify({ date, connections: CONNECTIONS, durationMs: DURATION_MS, results }, null, 2) + '\n',
);
log(`\nwrote bench/results/${date}-websocket.md`);
