// HTTP/2 against HTTP/1.1 on the node engine: the same app (bench/apps/hello.ts) served by qilin
// `--engine node -w 1`, loaded by h2load (nghttp2-client) over HTTP/1.1 (cleartext and TLS, `--h1`,
// 100 connections) and over HTTP/2 (h2c with prior knowledge and TLS with ALPN, 10 connections of
// 10 streams each: 100 requests in flight either way). The server is pinned to core 0 and h2load to
// core 1 (taskset when present), warmed, then measured.
// `npm run bench:http2` writes bench/results/<date>-http2.{md,json}; `-- --quick` runs 3 s instead of 10.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindOnce } from '../lib/arbiter/ports.js';
import { stopGroup } from './proc.js';

function findRoot(dir: string): string {
  return existsSync(path.join(dir, 'package.json')) ? dir : findRoot(path.dirname(dir));
}
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const NODE = process.execPath;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const PIN = has('taskset') && os.cpus().length >= 2;
const pinned = (core: number, argv: string[]) => (PIN ? ['taskset', '-c', String(core), ...argv] : argv);
const QUICK = process.argv.includes('--quick');
const DURATION_S = QUICK ? 3 : 10;
const WARMUP_S = 1;
const log = (s: string) => process.stdout.write(s + '\n');

if (!has('h2load')) {
  log('h2load is not installed: apt-get install -y nghttp2-client');
  process.exit(1);
}

const certs = mkdtempSync(path.join(os.tmpdir(), 'qilin-bench-h2-'));
process.on('exit', () => rmSync(certs, { recursive: true, force: true }));
execFileSync(
  'openssl',
  ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost'].concat([
    '-days',
    '1',
    '-keyout',
    'key.pem',
    '-out',
    'cert.pem',
  ]),
  { cwd: certs, stdio: 'ignore' },
);
const TLS = ['--certfile', path.join(certs, 'cert.pem'), '--keyfile', path.join(certs, 'key.pem')];

interface Row {
  name: string;
  /** qilin's arguments besides the bind, the engine and the app. */
  qilin: string[];
  scheme: 'http' | 'https';
  /** h2load's arguments besides the URL. */
  load: string[];
}
const H1 = ['--h1', '-c', '100', '-m', '1'];
const H2 = ['-c', '10', '-m', '10'];
const ROWS: Row[] = [
  { name: 'HTTP/1.1', qilin: [], scheme: 'http', load: H1 },
  { name: 'HTTP/1.1 over TLS', qilin: TLS, scheme: 'https', load: H1 },
  {
    name: 'HTTP/2 cleartext (h2c, prior knowledge)',
    qilin: ['--http-protocols', 'h2,h1', '--http2-cleartext', 'prior-knowledge'],
    scheme: 'http',
    load: H2,
  },
  { name: 'HTTP/2 over TLS (ALPN h2)', qilin: [...TLS, '--http-protocols', 'h2,h1'], scheme: 'https', load: H2 },
];

interface Result {
  row: string;
  load: string;
  perSecond: number;
  succeeded: number;
  failed: number;
  meanMs: number;
}

function h2load(url: string, args: string[]): { out: string; code: number } {
  const argv = pinned(1, ['h2load', '-t', '1', ...args, url]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (DURATION_S + WARMUP_S + 30) * 1000 });
  return { out: r.stdout + r.stderr, code: r.status ?? 1 };
}

/** The figures of an h2load run: requests a second, done and failed, the mean time of a request. */
function parse(out: string): Omit<Result, 'row' | 'load'> {
  const perSecond = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? 'NaN';
  const meanMs = mean.endsWith('us')
    ? Number(mean.slice(0, -2)) / 1000
    : mean.endsWith('ms')
      ? Number(mean.slice(0, -2))
      : Number(mean.slice(0, -1)) * 1000;
  return { perSecond, succeeded: Number(counts?.[1] ?? 0), failed: Number(counts?.[2] ?? 0), meanMs };
}

async function up(url: string, args: string[], proc: ChildProcess): Promise<void> {
  const end = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`qilin exited with ${proc.exitCode}`);
    if (/1 succeeded/.test(h2load(url, [...args.filter((a) => a === '--h1'), '-n', '1', '-c', '1']).out)) return;
    if (Date.now() > end) throw new Error(`qilin did not answer on ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const results: Result[] = [];
for (const row of ROWS) {
  const port = await bindOnce('127.0.0.1', 0);
  const argv = pinned(0, [
    NODE,
    path.join(ROOT, 'dist/bin/qilin.js'),
    '-b',
    `127.0.0.1:${port}`,
    '-w',
    '1',
    '--engine',
    'node',
    '--log-level',
    'warning',
    ...row.qilin,
    path.join(ROOT, 'dist/bench/apps/hello.js'),
  ]);
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const url = `${row.scheme}://127.0.0.1:${port}/`;
  try {
    await up(url, row.load, proc);
    const r = h2load(url, [...row.load, '-D', String(DURATION_S), '--warm-up-time', String(WARMUP_S)]);
    if (r.code !== 0) throw new Error(`h2load failed:\n${r.out}`);
    const figures = parse(r.out);
    results.push({ row: row.name, load: row.load.join(' '), ...figures });
    log(
      `${row.name}: ${Math.round(figures.perSecond).toLocaleString('en-US')} req/s, mean ${figures.meanMs.toFixed(2)} ms, ${figures.failed} failed`,
    );
  } finally {
    await stopGroup(proc.pid!);
  }
}

const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
/** Other work on the machine during the run (1-minute load average at the end): the figures are only as quiet as it was. */
const load1 = os.loadavg()[0]!.toFixed(1);
const base = results.find((r) => r.row === 'HTTP/1.1')?.perSecond ?? NaN;
const cpu = os.cpus();
const h2loadVersion = /h2load nghttp2\/(\S+)/.exec(
  spawnSync('h2load', ['--version'], { encoding: 'utf8' }).stdout,
)?.[1];
const lines = [
  `# HTTP/2 and HTTP/1.1 on the node engine — ${date}`,
  '',
  `${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}). Node ${process.version}, h2load ${h2loadVersion ?? '?'}. qilin \`--engine node -w 1\` serving bench/apps/hello.ts, pinned to core ${PIN ? '0' : '(not pinned: no taskset)'}; h2load \`-t 1\` on core ${PIN ? '1' : '(not pinned)'}.`,
  `100 requests in flight in every row: HTTP/1.1 on 100 connections, HTTP/2 on 10 connections of 10 streams. ${DURATION_S} s after a ${WARMUP_S} s warm-up, one run each. Load average at the end: ${load1} (${cpu.length} cores).`,
  '',
  '| protocol | h2load | requests/s | mean time per request | failed | ÷ HTTP/1.1 |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.row} | \`${r.load}\` | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${r.meanMs.toFixed(2)} ms | ${r.failed} | ${(r.perSecond / base).toFixed(2)}× |`,
  ),
  '',
];
const OUT = path.join(ROOT, 'bench/results');
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, `${date}-http2.md`), lines.join('\n'));
writeFileSync(
  path.join(OUT, `${date}-http2.json`),
  JSON.stringify(
    { date, durationS: DURATION_S, warmupS: WARMUP_S, pinned: PIN, loadAverage: Number(load1), results },
    null,
    2,
  ) + '\n',
);
log(`\nwrote bench/results/${date}-http2.md`);
