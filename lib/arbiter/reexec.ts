// USR2: start a new arbiter from the same command line (a new build, a new Node), beside the old
// one, as Gunicorn's reexec. Node cannot fork and exec, so the old arbiter spawns the new one with
// the same argv, cwd and environment, plus what Gunicorn passes in GUNICORN_PID / GUNICORN_FD:
//   QILIN_PID    the old arbiter's pid: the new one is "Master.2" until that process is gone;
//   QILIN_FD     the listening sockets (node engine), as {fd, text} in the child: accepted from
//                by both generations' workers at once, so no connection is refused or reset;
//   QILIN_BINDS  the TCP binds with the ports they got (uws engine): the new workers listen beside
//                the old ones with SO_REUSEPORT, on the same ports even when the config says port 0.
import { spawn, type ChildProcess } from 'node:child_process';
import type { BindAddress } from '../config/binds.js';
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
  if (spec.sockets.length > 0) env[FDS] = JSON.stringify(spec.sockets.map((s, i) => ({ fd: 3 + i, text: s.bind.text })));
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
