// What an operator meets first: the command line's output in a pipe, a config file that does not
// load, how fast a stop is, the warnings at start, --help, the start-up log under systemd, and qilin
// run through npm.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import t from 'tap';
import { QILIN, ROOT } from './helpers.js';

type T = { teardown(fn: () => void | Promise<void>): void };

/** Process groups this file started outside startQilin: killed even if teardown never runs. */
const groups = new Set<number>();
const killGroup = (pid: number) => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } };
process.on('exit', () => { for (const pid of groups) killGroup(pid); });
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    for (const pid of groups) killGroup(pid);
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/** Start `cmd args` in a process group of its own, killed (with all it started) at teardown. */
function own(t: T, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(proc.pid!);
  t.teardown(() => { killGroup(proc.pid!); groups.delete(proc.pid!); });
  return proc;
}

interface Ended { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Everything a process wrote, once it and every process holding its output are done. */
function ended(proc: ChildProcess): Promise<Ended> {
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d) => { stdout += d; });
  proc.stderr!.on('data', (d) => { stderr += d; });
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  return Promise.all([exit, closed]).then(([[code, signal]]) => ({ code, signal, stdout, stderr }));
}

const BASH = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim() || null;

// 1. Output into a closed pipe ----------------------------------------------------------------------

t.test('--print-config | head -1: the first line, no EPIPE stack, exit 0', { skip: BASH ? false : 'bash is not installed' }, async (t) => {
  for (let i = 0; i < 3; i++) {
    const q = JSON.stringify(QILIN);
    const r = await ended(own(t, BASH!, ['-c', `${JSON.stringify(process.execPath)} ${q} --print-config | head -1; exit \${PIPESTATUS[0]}`]));
    t.match(r.stdout, /^\w+\s+= .*\n$/, 'one line of the config');
    t.equal(r.stderr, '', 'nothing on stderr');
    t.equal(r.code, 0, 'qilin exits 0');
  }
});

t.test('--help, --version, --print-config into a pipe closed before they write: quiet, exit 0', async (t) => {
  for (const args of [['--help'], ['--version'], ['-v'], ['--print-config'], ['--print-config', '-w', '3', 'app.ts']]) {
    const proc = own(t, process.execPath, [QILIN, ...args]);
    proc.stdout!.destroy(); // the reader is gone: every write qilin makes fails with EPIPE
    const r = await ended(proc);
    t.notMatch(r.stderr, /EPIPE|Error|\n\s+at /, `${args.join(' ')}: no stack on stderr`);
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`);
  }
});
