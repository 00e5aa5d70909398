// Server hooks: Gunicorn's, as functions in the config file, called in the process and order
// Gunicorn calls them. Workers are separate Node processes, so a worker imports the config file
// itself for the hooks that run in it (post_fork, post_worker_init, worker_int, worker_abort,
// pre_request, post_request, worker_exit).
import { importModule } from './loader.js';
import { ConfigError, type Settings } from './settings.js';

/** What a hook can log with: the server's error log, as Gunicorn's `server.log` / `worker.log`. */
export interface HookLog {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  critical(msg: string): void;
}

/** The arbiter, as hooks see it (Gunicorn passes its Arbiter as `server`). */
export interface ServerInfo {
  /** The arbiter's pid. */
  readonly pid: number;
  /** The app module, as given on the command line. */
  readonly app: string;
  readonly settings: Readonly<Settings>;
  /** The number of workers the arbiter keeps. */
  readonly numWorkers: number;
  /** The live workers' pids. */
  readonly workers: readonly number[];
  readonly log: HookLog;
}

/** A worker, as hooks see it (Gunicorn's `worker`). */
export interface WorkerInfo {
  /** 0 in pre_fork: not forked yet. */
  readonly pid: number;
  /** Its place in the order the arbiter forked workers (1, 2, …). */
  readonly age: number;
  readonly app: string;
  readonly settings: Readonly<Settings>;
  readonly log: HookLog;
}

/** A request as pre_request sees it: the app's own request object (a fetch Request, or node's IncomingMessage). */
export type HookRequest = Request | import('node:http').IncomingMessage;

/** A finished request as post_request sees it. */
export interface FinishedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly target: string;
  readonly status: number;
  /** Body bytes sent. */
  readonly length: number;
  /** From arrival to the end of the response. */
  readonly durationMs: number;
  requestHeader(name: string): string | null;
  responseHeader(name: string): string | null;
}

type MaybeAsync = void | Promise<void>;

/** The hooks a config file may define; every one is optional. */
export interface ServerHooks {
  /** Arbiter, before it binds or forks anything. */
  on_starting?(server: ServerInfo): MaybeAsync;
  /** Arbiter, on HUP, once the new config is read and before the new workers are forked. */
  on_reload?(server: ServerInfo): MaybeAsync;
  /** Arbiter, once it listens, before the first workers are forked. */
  when_ready?(server: ServerInfo): MaybeAsync;
  /** Arbiter, just before each worker is forked (synchronous). */
  pre_fork?(server: ServerInfo, worker: WorkerInfo): void;
  /** Worker, first thing after it starts, before the app is loaded. A throw fails the boot (exit 3). */
  post_fork?(server: ServerInfo, worker: WorkerInfo): MaybeAsync;
  /** Worker, once the app is loaded, before it listens. A throw fails the boot (exit 3). */
  post_worker_init?(worker: WorkerInfo): MaybeAsync;
  /** Worker, on INT or QUIT, before it exits. */
  worker_int?(worker: WorkerInfo): MaybeAsync;
  /** Worker, on SIGABRT (sent after `timeout`), before it exits 1, if its event loop is free to run it. */
  worker_abort?(worker: WorkerInfo): MaybeAsync;
  /** Arbiter, on USR2, before the new arbiter is started. */
  pre_exec?(server: ServerInfo): MaybeAsync;
  /** Worker, before the app is called (synchronous). A throw answers that request 500. */
  pre_request?(worker: WorkerInfo, request: HookRequest): void;
  /** Worker, once a response has ended (synchronous). A throw is logged. */
  post_request?(worker: WorkerInfo, request: FinishedRequest): void;
  /** Arbiter, after a worker exited. */
  child_exit?(server: ServerInfo, worker: WorkerInfo): void;
  /** Worker, as it exits. A throw is logged as a warning. */
  worker_exit?(server: ServerInfo, worker: WorkerInfo): MaybeAsync;
  /** Arbiter, when the number of workers changes (start: old is null; TTIN, TTOU, reload). */
  nworkers_changed?(server: ServerInfo, newValue: number, oldValue: number | null): void;
  /** Arbiter, just before it exits. */
  on_exit?(server: ServerInfo): MaybeAsync;
}

export type HookName = keyof ServerHooks;

/** In the order Gunicorn documents them, with where each runs (for the docs and errors). */
export const HOOKS: readonly { name: HookName; where: 'arbiter' | 'worker' }[] = [
  { name: 'on_starting', where: 'arbiter' },
  { name: 'on_reload', where: 'arbiter' },
  { name: 'when_ready', where: 'arbiter' },
  { name: 'pre_fork', where: 'arbiter' },
  { name: 'post_fork', where: 'worker' },
  { name: 'post_worker_init', where: 'worker' },
  { name: 'worker_int', where: 'worker' },
  { name: 'worker_abort', where: 'worker' },
  { name: 'pre_exec', where: 'arbiter' },
  { name: 'pre_request', where: 'worker' },
  { name: 'post_request', where: 'worker' },
  { name: 'child_exit', where: 'arbiter' },
  { name: 'worker_exit', where: 'worker' },
  { name: 'nworkers_changed', where: 'arbiter' },
  { name: 'on_exit', where: 'arbiter' },
];
const HOOK_NAMES = new Set<string>(HOOKS.map((h) => h.name));

export const isHookName = (key: string): key is HookName => HOOK_NAMES.has(key);

/** The hooks among a config module's exports; a hook name bound to anything but a function is a config error. */
export function pickHooks(source: Record<string, unknown>): ServerHooks {
  const hooks: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (!isHookName(key) || value === undefined || value === null) continue;
    if (typeof value !== 'function') {
      throw new ConfigError(key, `Invalid value for ${key}: ${typeof value} (a function is needed)`);
    }
    hooks[key] = value;
  }
  return hooks as ServerHooks;
}

/** The config module's exports, whichever way it was written (default export, CJS, TS as CJS). */
export function configExports(
  mod: Record<string, unknown>,
  isSetting: (key: string) => boolean,
): Record<string, unknown> {
  let source = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<string, unknown>;
  if (
    source.default &&
    typeof source.default === 'object' &&
    !Object.keys(source).some((k) => isSetting(k) || isHookName(k))
  ) {
    source = source.default as Record<string, unknown>;
  }
  return source;
}

/** In a worker: the hooks of the config file the arbiter read (none without one). */
export async function workerHooks(
  configFile: string | null,
  isSetting: (key: string) => boolean,
): Promise<ServerHooks> {
  if (!configFile) return {};
  const mod = await importModule(configFile, process.cwd());
  return pickHooks(configExports(mod, isSetting));
}

/** A HookLog over a logger with Gunicorn's level names. */
export function hookLog(log: {
  debug(m: string): void;
  info(m: string): void;
  warning(m: string): void;
  errorMsg(m: string): void;
  critical(m: string): void;
}): HookLog {
  return {
    debug: (m) => log.debug(m),
    info: (m) => log.info(m),
    warning: (m) => log.warning(m),
    error: (m) => log.errorMsg(m),
    critical: (m) => log.critical(m),
  };
}
