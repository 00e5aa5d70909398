// Runs the vendored WPT fetch/api directories under plain Node (the baseline: undici's classes) and in
// qilin workers on both engines (qilin's `Response` and request), and compares them test by test.
// Used by test/wpt.test.ts and by `npm run wpt` (test/wpt/report.ts).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ENGINES, fixture, request, ROOT, sleep, startQilin, type Engine } from '../helpers.js';
import { DIRECTORIES, listFiles, type FileResult } from './runner.mjs';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Results of one server, by directory. */
export type Run = Record<string, FileResult[]>;
export type Column = 'undici' | `qilin ${Engine}`;
export const COLUMNS: readonly Column[] = ['undici', ...ENGINES.map((e) => `qilin ${e}` as const)];

export const REPORT = path.join(ROOT, 'test/.wpt.json');
const BASELINE = path.join(ROOT, 'test/wpt/node.mjs');

/** Plain Node in a child process: the same runner and fixture app, no qilin. */
export function runBaseline(t: Teardown, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BASELINE, ...DIRECTORIES], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const kill = () => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    process.once('exit', kill);
    t.teardown(kill);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(kill, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', kill);
      try {
        resolve(JSON.parse(out) as Run);
      } catch {
        reject(new Error(`the plain-Node run ended (${code ?? signal}) without results:\n${err || out}`));
      }
    });
  });
}

/** One qilin worker serving the fixture app; each file run by its own request. */
export async function runInQilin(t: Teardown, engine: Engine): Promise<Run> {
  // One worker, so that the tests' own fetches reach the worker running them; room for them beside
  // the request that runs the file.
  const q = await startQilin(t, ['-w', '1', '--worker-connections', '50', fixture('wpt-app.mjs')], { engine });
  const run: Run = {};
  for (const dir of DIRECTORIES) {
    run[dir] = [];
    for (const file of listFiles(dir)) {
      const ready = q.output.match(/Worker \(pid:\d+\) ready/g)?.length ?? 0;
      try {
        const r = await request(`${q.url}/wpt/run?file=${encodeURIComponent(file)}`);
        const body = JSON.parse(r.body) as FileResult | { error: string };
        if ('error' in body) throw new Error(body.error);
        run[dir]!.push(body);
      } catch (err) {
        // A worker that died running the file: the file counts as run with no test passed.
        run[dir]!.push({
          file,
          results: [],
          harness: { status: 'ERROR', message: null },
          errors: [`${(err as Error).message}\n${q.output.slice(-2000)}`],
          timedOut: false,
          ms: 0,
        });
        // Its replacement serves the next file.
        await q.waitFor(/Worker \(pid:\d+\) ready/, { count: ready + 1 }).catch(() => sleep(1000));
      }
    }
  }
  return run;
}

/** Every column, run side by side (they mostly wait on the tests' timers). */
export async function runAll(t: Teardown): Promise<Record<Column, Run>> {
  const [undici, ...qilin] = await Promise.all([runBaseline(t), ...ENGINES.map((e) => runInQilin(t, e))]);
  const out = { undici } as Record<Column, Run>;
  ENGINES.forEach((e, i) => {
    out[`qilin ${e}`] = qilin[i]!;
  });
  return out;
}

export interface Count {
  passed: number;
  total: number;
}
export function count(files: FileResult[]): Count {
  let passed = 0;
  let total = 0;
  for (const f of files) {
    total += f.results.length;
    passed += f.results.filter((r) => r.status === 'PASS').length;
  }
  return { passed, total };
}

const key = (file: string, name: string) => `${file} › ${name}`;
/** Every test of a run as `file › name` → status. */
function statuses(files: FileResult[]): Map<string, string> {
  return new Map(files.flatMap((f) => f.results.map((r) => [key(f.file, r.name), r.status] as const)));
}

export interface Difference {
  /** Passed by undici, run by qilin under the same name and not passed. */
  failed: string[];
  /** Passed by undici, and no test of that name ran in qilin (a file that died, or a name built from a class's `name`). */
  missing: string[];
  /** Run in qilin under a name undici's run does not have. */
  onlyInQilin: string[];
  /** Failed by undici, passed by qilin. */
  gained: string[];
}

/** A name on one line: control characters (some test names hold a newline) escaped as in JSON. */
export const show = (name: string): string =>
  name.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));

/** `file › name` of the tests undici passes and qilin does not: failed or missing. */
export const regressions = (d: Difference): string[] => [...d.failed, ...d.missing];

export function difference(base: FileResult[], other: FileResult[]): Difference {
  const b = statuses(base);
  const o = statuses(other);
  const d: Difference = { failed: [], missing: [], onlyInQilin: [], gained: [] };
  for (const [k, s] of b) {
    const q = o.get(k);
    if (s === 'PASS' && q === undefined) d.missing.push(k);
    else if (s === 'PASS' && q !== 'PASS') d.failed.push(k);
    else if (s !== 'PASS' && q === 'PASS') d.gained.push(k);
  }
  for (const k of o.keys()) if (!b.has(k)) d.onlyInQilin.push(k);
  return d;
}

/** Per qilin engine and directory, how its results differ from undici's. */
export function compare(runs: Record<Column, Run>): Record<string, Record<string, Difference>> {
  const out: Record<string, Record<string, Difference>> = {};
  for (const e of ENGINES) {
    const col = `qilin ${e}` as const;
    out[col] = {};
    for (const dir of DIRECTORIES) out[col][dir] = difference(runs.undici[dir]!, runs[col][dir]!);
  }
  return out;
}

export function table(runs: Record<Column, Run>): string {
  const rows = [['directory', ...COLUMNS]];
  for (const dir of DIRECTORIES) {
    rows.push([
      dir,
      ...COLUMNS.map((c) => {
        const n = count(runs[c][dir]!);
        return `${n.passed}/${n.total}`;
      }),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Errors no test caught (top-level throws, uncaught exceptions), per column, as `file: first line`. */
export function fileErrors(runs: Record<Column, Run>): string[] {
  const out: string[] = [];
  for (const c of COLUMNS) {
    for (const dir of DIRECTORIES) {
      for (const f of runs[c][dir]!) {
        if (f.timedOut) out.push(`${c}: ${f.file}: timed out`);
        for (const e of f.errors) out.push(`${c}: ${f.file}: ${e.split('\n')[0]}`);
      }
    }
  }
  return out;
}

/** test/.wpt.json: the counts, the differences by name, and every result. */
export function writeReport(runs: Record<Column, Run>): void {
  const counts: Record<string, Record<string, Count>> = {};
  for (const dir of DIRECTORIES) counts[dir] = Object.fromEntries(COLUMNS.map((c) => [c, count(runs[c][dir]!)]));
  writeFileSync(
    REPORT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        undici: process.versions.undici,
        counts,
        differences: compare(runs),
        errors: fileErrors(runs),
        results: runs,
      },
      null,
      1,
    ) + '\n',
  );
}

/** The differences as text: per qilin engine and directory, the tests undici passes and qilin does not first. */
export function describe(runs: Record<Column, Run>): string {
  const out: string[] = [];
  const list = (title: string, names: string[]) => {
    if (names.length) out.push(title, ...names.map((n) => `  ${show(n)}`));
  };
  for (const [col, dirs] of Object.entries(compare(runs))) {
    for (const [dir, d] of Object.entries(dirs)) {
      list(`${col}, ${dir}: ${d.failed.length} passed by undici, failed by qilin:`, d.failed);
      list(`${col}, ${dir}: ${d.missing.length} passed by undici, not run under that name by qilin:`, d.missing);
      list(
        `${col}, ${dir}: ${d.onlyInQilin.length} run by qilin only (names undici's run does not have):`,
        d.onlyInQilin,
      );
      list(`${col}, ${dir}: ${d.gained.length} failed by undici, passed by qilin:`, d.gained);
    }
  }
  return out.join('\n');
}
