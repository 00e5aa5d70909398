// A worker stuck in a handler: before the arbiter kills it for its timeout, the error log says where
// it is stuck (function, file, line), and a new worker serves. Real servers, real busy loops.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { ENGINES, fixture, request, startQilin, type Qilin } from '../helpers.js';

// Each case waits out a 2 s timeout and a new worker's boot on a busy 2-core machine.
t.setTimeout(240_000);

const APP = fixture('stuck-app.ts');
const SOURCE = readFileSync(APP, 'utf8').split('\n');
/** 1-based line of the first source line containing `text`. */
const lineOf = (text: string) => SOURCE.findIndex((l) => l.includes(text)) + 1;

/** The error log entries of `pid` that report it stuck (each with its frames). */
function stuckReports(q: Qilin, pid: number): string[] {
  const head = `[${pid}] [ERROR] Worker (pid:${pid}) stuck for `;
  const out: string[] = [];
  const lines = q.output.split('\n');
  lines.forEach((line, i) => {
    if (!line.includes(head)) return;
    let entry = line;
    for (let j = i + 1; j < lines.length && lines[j]!.startsWith('    '); j++) entry += '\n' + lines[j];
    out.push(entry);
  });
  return out;
}

/** Hit `path` on a 1-worker server with `--timeout 2`; resolve once the stuck worker is replaced. */
async function stallAndReplace(
  t: Test,
  engine: (typeof ENGINES)[number],
  path: string,
  extra: string[] = [],
): Promise<{ q: Qilin; stuck: number; threads: number }> {
  const q = await startQilin(t, ['--timeout', '2', ...extra, APP], { engine });
  const [stuck] = q.workerPids();
  t.ok(stuck, 'a worker is running');
  const threads = threadsOf(stuck!);
  // Never answered: the worker serving it is killed.
  request(q.url + path).catch(() => {});
  await q.waitFor(new RegExp(`\\[CRITICAL\\] WORKER TIMEOUT \\(pid:${stuck}\\)`), { timeout: 30000 });
  await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2, timeout: 30000 });
  return { q, stuck: stuck!, threads };
}

/** OS threads of a process (the watchdog is one of them). */
const threadsOf = (pid: number) => Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

for (const engine of ENGINES) {
  t.test(`${engine}: a handler spinning for ever is logged with its stack before the worker is killed`, async (t) => {
    const { q, stuck } = await stallAndReplace(t, engine, '/spin');
    const reports = stuckReports(q, stuck).filter((r) => r.includes('spinForever'));
    t.equal(reports.length, 1, 'one report for the stall', { output: q.output });
    const report = reports[0] ?? '';
    t.match(report, /stuck for \d+\.\ds in:\n {4}at /, 'an ERROR entry followed by its frames');
    const top = report.split('\n')[1] ?? '';
    t.match(
      top,
      new RegExp(`^ {4}at spinForever \\(.*stuck-app\\.ts:${lineOf('for (;;)')}:\\d+\\)$`),
      'the top frame is the busy loop, at its line in the TypeScript source',
    );
    t.match(report, new RegExp(`at app \\(.*stuck-app\\.ts:${lineOf('spinForever();')}:\\d+\\)`), 'and its caller');
    t.ok(
      q.output.indexOf(report) < q.output.indexOf(`WORKER TIMEOUT (pid:${stuck})`),
      'logged before the arbiter kills it',
    );

    const r = await request(q.url + '/');
    t.equal(r.status, 200, 'the new worker serves');
    t.not(r.body, `ok ${stuck}`, 'from another process');
  });
}

t.test(`${ENGINES[0]}: a long loop two calls deep is logged with every frame`, async (t) => {
  let { q, stuck } = await stallAndReplace(t, ENGINES[0]!, '/crunch');
  let report = stuckReports(q, stuck).find((r) => r.includes('sumOfRoots'));
  if (report === undefined) {
    // The watchdog waits a bounded time for the main thread to pause; on a machine loaded past that
    // (another test file's servers and builds beside this one) it says "no stack". Once more.
    t.comment(`no frames on the first stall (${stuckReports(q, stuck).join(' | ') || 'no report'}): again`);
    ({ q, stuck } = await stallAndReplace(t, ENGINES[0]!, '/crunch'));
    report = stuckReports(q, stuck).find((r) => r.includes('sumOfRoots'));
  }
  const frames = (report ?? '').split('\n').slice(1, 4);
  t.match(
    frames[0],
    new RegExp(`at sumOfRoots \\(.*stuck-app\\.ts:${lineOf('total += Math.sqrt(i)')}:\\d+\\)`),
    'the loop',
  );
  t.match(
    frames[1],
    new RegExp(`at summarise \\(.*stuck-app\\.ts:${lineOf('return sumOfRoots(n)')}:\\d+\\)`),
    'its caller',
  );
  t.match(frames[2], new RegExp(`at app \\(.*stuck-app\\.ts:${lineOf("'/crunch'")}:\\d+\\)`), 'the handler');
  t.equal((await request(q.url + '/')).status, 200, 'the new worker serves');
});

t.test(`${ENGINES[0]}: --no-stuck-stack: no watchdog thread, no report, the timeout still kills`, async (t) => {
  const on = await stallAndReplace(t, ENGINES[0]!, '/spin');
  const off = await stallAndReplace(t, ENGINES[0]!, '/spin', ['--no-stuck-stack']);
  t.equal(stuckReports(off.q, off.stuck).length, 0, 'nothing reported', { output: off.q.output });
  t.equal(stuckReports(on.q, on.stuck).length, 1, 'reported with the watchdog on');
  t.ok(off.threads < on.threads, `one thread fewer per worker (${off.threads} < ${on.threads})`);
  t.equal((await request(off.q.url + '/')).status, 200, 'the new worker serves');
});
