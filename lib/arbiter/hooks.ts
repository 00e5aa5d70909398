// The arbiter's side of the server hooks (their types, and the workers' side: lib/config/hooks.ts):
// calling the config file's arbiter hooks as Gunicorn does (on_starting and when_ready stop the start
// when they throw; any other hook's throw is logged and the arbiter goes on), and the `server` and
// `worker` objects they are given.
import { HOOKS, hookLog, type ServerHooks, type ServerInfo, type WorkerInfo } from '../config/hooks.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../ops/log.js';

/** What hooks read of the arbiter, read when they read it (a reload changes the settings). */
export interface ArbiterView {
  settings(): Settings;
  numWorkers(): number;
  workerPids(): number[];
}

export class ArbiterHooks {
  /** The arbiter as hooks see it (Gunicorn's `server`, the Arbiter itself there). */
  readonly server: ServerInfo;

  constructor(
    private hooks: ServerHooks,
    private readonly app: string,
    /** The arbiter's log now: a reload replaces it. */
    private readonly currentLog: () => Logger,
    private readonly view: ArbiterView,
  ) {
    const log = hookLog({
      debug: (m) => this.currentLog().debug(m),
      info: (m) => this.currentLog().info(m),
      warning: (m) => this.currentLog().warning(m),
      errorMsg: (m) => this.currentLog().errorMsg(m),
      critical: (m) => this.currentLog().critical(m),
    });
    this.server = {
      pid: process.pid,
      app,
      log,
      get settings() {
        return view.settings();
      },
      get numWorkers() {
        return view.numWorkers();
      },
      get workers() {
        return view.workerPids();
      },
    };
  }

  /** A reload read the config file again. */
  replace(hooks: ServerHooks): void {
    this.hooks = hooks;
  }

  /** The config file defines hooks that run in workers: only then does a worker import it. */
  get forWorkers(): boolean {
    return HOOKS.some((h) => h.where === 'worker' && this.hooks[h.name] !== undefined);
  }

  /** A worker as arbiter-side hooks see it (pid 0 in pre_fork: not forked yet). */
  worker(pid: number, age: number): WorkerInfo {
    return { pid, age, app: this.app, settings: this.view.settings(), log: this.server.log };
  }

  /**
   * Call a hook and wait for it. A throw is logged and the arbiter goes on, except with `rethrow`
   * (on_starting, when_ready), whose throw stops the start, as in Gunicorn.
   */
  async call<K extends keyof ServerHooks>(
    name: K,
    call: (h: NonNullable<ServerHooks[K]>) => unknown,
    rethrow = false,
  ): Promise<void> {
    const h = this.hooks[name];
    if (!h) return;
    try {
      await call(h as NonNullable<ServerHooks[K]>);
    } catch (err) {
      if (rethrow) throw err;
      this.currentLog().exception(`Exception in ${name} hook`, err);
    }
  }

  /** A synchronous hook (pre_fork, child_exit, nworkers_changed): a promise it returns is not awaited. */
  callSync<K extends keyof ServerHooks>(name: K, call: (h: NonNullable<ServerHooks[K]>) => unknown): void {
    const h = this.hooks[name];
    if (!h) return;
    try {
      const r = call(h as NonNullable<ServerHooks[K]>);
      if (r instanceof Promise)
        r.catch((err: unknown) => this.currentLog().exception(`Exception in ${name} hook`, err));
    } catch (err) {
      this.currentLog().exception(`Exception in ${name} hook`, err);
    }
  }
}
