// USR2: start a new arbiter from the same command line (a new build, a new Node), beside the old
// one, as Gunicorn's reexec; and, in the new one, take over once the old one is gone (Gunicorn's
// maybe_promote_master). Node cannot fork and exec, so the old arbiter spawns the new one with
// the same argv, cwd and environment, plus what Gunicorn passes in GUNICORN_PID / GUNICORN_FD:
//   QILIN_PID    the old arbiter's pid: the new one is "Master.2" until that process is gone;
//   QILIN_FD     the listening sockets (node engine), as {fd, text} in the child: accepted from
//                by both generations' workers at once, so no connection is refused or reset;
//   QILIN_BINDS  the TCP binds with the ports they got (uws engine): the new workers listen beside
//                the old ones with SO_REUSEPORT, on the same ports even when the config says port 0.
import { spawn, type ChildProcess } from 'node:child_process';
import type { BindAddress } from '../config/binds.js';
import type { Logger } from '../ops/log.js';
import type { Listeners } from './listeners.js';
import type { Pidfile } from './pidfile.js';
import { inheritedSockets, type SharedSocket } from './sockets.js';

const PARENT = 'QILIN_PID';
const FDS = 'QILIN_FD';
const BINDS = 'QILIN_BINDS';

/** What a new arbiter got from the one that started it on USR2. */
export interface Inheritance {
  parentPid: number;
  /** Listening sockets, in the parent's bind order (node engine). */
  sockets: SharedSocket[];
  /** TCP binds as the parent served them (uws engine): its bind text → the port it listened on. */
  ports: Map<string, number>;
}

/** Read (and remove from the environment, so workers do not see it) what a parent arbiter passed. */
export function inheritance(env: NodeJS.ProcessEnv): Inheritance | null {
  const parent = Number(env[PARENT]);
  const fds = env[FDS];
  const binds = env[BINDS];
  delete env[PARENT];
  delete env[FDS];
  delete env[BINDS];
  if (!Number.isInteger(parent) || parent <= 0) return null;
  const sockets = fds ? inheritedSockets(JSON.parse(fds) as { fd: number; text: string }[]) : [];
  const ports = new Map<string, number>(binds ? (JSON.parse(binds) as [string, number][]) : []);
  return { parentPid: parent, sockets, ports };
}

export interface NewArbiter {
  /** Arguments after the script (what the CLI was given). */
  argv: readonly string[];
  /** Where the command was started (config paths and the app are relative to it). */
  cwd: string;
  sockets: readonly SharedSocket[];
  binds: readonly BindAddress[];
}

/** Spawn the new arbiter. It shares stdio (a log to `-` goes on) and the process group. */
export function spawnNewArbiter(spec: NewArbiter): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, [PARENT]: String(process.pid) };
  // Sockets go to the child as fds 3, 4, …, each with the bind it serves.
  if (spec.sockets.length > 0)
    env[FDS] = JSON.stringify(spec.sockets.map((s, i) => ({ fd: 3 + i, text: s.bind.text })));
  const tcp = spec.binds.filter((b): b is Extract<BindAddress, { kind: 'tcp' }> => b.kind === 'tcp');
  if (tcp.length > 0) env[BINDS] = JSON.stringify(tcp.map((b) => [b.text, b.port]));
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...spec.argv], {
    cwd: spec.cwd,
    env,
    stdio: ['ignore', 'inherit', 'inherit', ...spec.sockets.map((s) => s.fd)],
  });
  child.unref(); // the old arbiter may exit first: it does not wait for the new one
  return child;
}

/** What USR2's two halves use of the arbiter, read when used (a reload replaces the log). */
export interface Usr2Host {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly log: Logger;
  readonly pidfile: Pidfile;
  readonly listeners: Listeners;
  /** The pid file the settings name: a promoted arbiter moves its `.2` there. */
  readonly wantedPidfile: string | null;
  /** The pre_exec hook. */
  preExec(): Promise<void>;
  /** --reload's watcher: off while the new arbiter runs (it watches then), on again if it exits. */
  watchFiles(on: boolean): void;
  /** Open the control socket and /metrics, which the old arbiter held; throws when one cannot be. */
  openAdmin(): Promise<void>;
}

/** USR2 on both sides: the new arbiter this one started, and the old one that started this one. */
export class Usr2 {
  /** Started by another arbiter's USR2: what it handed over; null once that one is gone (promoted). */
  inherited: Inheritance | null;
  /** The arbiter this one started on USR2, while it runs. */
  private child: ChildProcess | null = null;

  /** Reads (and removes from `env`) what an old arbiter passed. */
  constructor(env: NodeJS.ProcessEnv) {
    this.inherited = inheritance(env);
  }

  /** The arbiter that started this one is gone: this one is to be promoted. */
  get parentGone(): boolean {
    return this.inherited !== null && process.ppid !== this.inherited.parentPid;
  }

  /**
   * Start a new arbiter from the same command line beside this one. This one keeps serving until
   * the operator stops it (TERM, or WINCH then QUIT when daemonized); the new one takes over the
   * pid file, the control socket and /metrics once this one is gone.
   */
  async reexec(host: Usr2Host): Promise<void> {
    if (this.child) {
      host.log.warning('USR2 signal ignored. Child exists.');
      return;
    }
    if (this.inherited) {
      host.log.warning('USR2 signal ignored. Parent exists.');
      return;
    }
    const pidfile = host.pidfile.path;
    const oldbin = `${pidfile}.oldbin`;
    if (pidfile) {
      try {
        host.pidfile.rename(oldbin);
      } catch (err) {
        host.log.warning(`Cannot rename the pid file to ${oldbin}: ${(err as Error).message}`);
      }
    }
    await host.preExec();
    // The new arbiter owns the unix socket files from now on: this one must not remove them as it exits.
    const handed = host.listeners.handOver();
    const child = spawnNewArbiter({ argv: host.argv, cwd: host.cwd, sockets: handed.sockets, binds: handed.binds });
    this.child = child;
    // The new arbiter watches the app's files now (reload): one reload per edit, not one per generation.
    host.watchFiles(false);
    child.on('error', (err) => host.log.errorMsg(`Cannot start a new arbiter: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.child = null;
      host.log.errorMsg(
        `The new arbiter (pid:${child.pid ?? '?'}) exited (${signal ?? `code ${code}`}); this one goes on`,
      );
      // Back to how it was before USR2.
      handed.takeBack();
      host.watchFiles(true);
      if (pidfile && host.pidfile.path === oldbin) {
        try {
          host.pidfile.rename(pidfile);
        } catch {
          /* removed meanwhile */
        }
      }
    });
  }

  /** The old arbiter is gone: this one is the arbiter now, under the pid file and admin sockets it held. */
  async promote(host: Usr2Host): Promise<void> {
    this.inherited = null;
    host.log.info('Master has been promoted.');
    const wanted = host.wantedPidfile;
    if (wanted && host.pidfile.path && host.pidfile.path !== wanted) {
      try {
        host.pidfile.rename(wanted);
      } catch (err) {
        host.log.warning(`Cannot rename the pid file to ${wanted}: ${(err as Error).message}`);
      }
    }
    try {
      await host.openAdmin();
    } catch (err) {
      // Serving goes on without them: an admin socket is not worth stopping the server for.
      host.log.errorMsg(`After promotion: ${(err as Error).message}`);
    }
  }
}
