// `daemon` (-D): run in the background, detached from the terminal. Node cannot fork(2), so the
// command starts itself again as a new session (setsid) with no terminal, marked by an environment
// variable, and waits until that copy's workers serve: then it exits 0, and `qilin -D ... && curl`
// works. The copy is the arbiter (its pid is the pid file's); it does what Gunicorn's daemonize()
// does after its forks: umask 0o22, stdin, stdout and stderr on /dev/null (stdout and stderr kept
// with enable_stdio_inheritance when they are not a terminal), and the same working directory.
import { spawn, type StdioOptions } from 'node:child_process';
import { isatty } from 'node:tty';
import type { Settings } from '../config/settings.js';

const MARKER = 'QILIN_DAEMONIZED';

/** This process is the background copy and its parent waits to hear that it serves. */
let parentWaiting = false;

/**
 * In the background copy: say so (true), take the marker out of the environment (workers must not
 * see it) and set Gunicorn's daemon umask. Elsewhere: false.
 */
export function enterDaemon(): boolean {
  if (process.env[MARKER] !== '1') return false;
  delete process.env[MARKER];
  process.umask(0o22);
  parentWaiting = process.connected;
  return true;
}

/** The workers serve: the waiting parent may exit 0. Once; nothing outside the background copy. */
export function daemonReady(): void {
  if (!parentWaiting) return;
  parentWaiting = false;
  if (!process.connected) return; // the parent is gone (interrupted): nobody to tell
  process.send!({ t: 'daemon-ready', pid: process.pid }, undefined, undefined, () => {
    if (process.connected) process.disconnect();
  });
}

export interface DaemonStart {
  /** The command line, to start again as is. */
  argv: readonly string[];
  /** Where it was given (before --chdir): the copy resolves the config from the same place. */
  cwd: string;
  settings: Settings;
}

/**
 * Start the background copy and wait until it serves (exit code 0) or stops first (its exit code,
 * with one line saying where to look). Config errors were reported before this is called.
 */
export function daemonize({ argv, cwd, settings }: DaemonStart): Promise<number> {
  const keep = (fd: 1 | 2) => (settings.enable_stdio_inheritance && !isatty(fd) ? 'inherit' : 'ignore');
  const stdio: StdioOptions = ['ignore', keep(1), keep(2)];
  // fd://N binds: the copy inherits those descriptors at the same numbers; the channel goes after them.
  const fds = settings.bind.filter((b) => /^fd:\/\/\d+$/.test(b)).map((b) => Number(b.slice(5)));
  const channel = Math.max(3, ...fds.map((fd) => fd + 1));
  for (let i = 3; i < channel; i++) stdio[i] = fds.includes(i) ? i : 'ignore';
  stdio[channel] = 'ipc';
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    cwd,
    detached: true,
    stdio,
    env: { ...process.env, [MARKER]: '1' },
  });
  return new Promise((settle) => {
    let settled = false;
    const resolve = (code: number) => {
      if (!settled) {
        settled = true;
        settle(code);
      }
    };
    child.on('message', (msg: { t?: string }) => {
      if (msg?.t !== 'daemon-ready') return;
      if (child.connected) child.disconnect();
      child.unref();
      resolve(0);
    });
    child.on('error', (err) => {
      process.stderr.write(`Error: cannot start the daemon: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const where =
        settings.errorlog !== '-'
          ? `the error log (${settings.errorlog})`
          : settings.enable_stdio_inheritance && !isatty(2)
            ? 'its stderr'
            : 'the error log, which is /dev/null in the background: set --error-logfile';
      process.stderr.write(`Error: qilin ${how} before its workers served; see ${where}\n`);
      resolve(code || 1);
    });
  });
}
