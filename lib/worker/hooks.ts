// The config file's server hooks as a worker calls them (lib/config/hooks.ts defines and loads them):
// post_fork and post_worker_init while it boots, pre_request and post_request around each request,
// worker_int or worker_abort on a quick stop, worker_exit as it leaves. With pre_request and
// post_request unset nothing is added to a request's path: the app is called directly.
import { call, race, sleep, type Operation } from 'effection';
import type { NodeApp } from '../app/shapes.js';
import { hookLog, workerHooks, type ServerHooks, type ServerInfo, type WorkerInfo } from '../config/hooks.js';
import { SETTINGS_BY_NAME } from '../config/settings.js';
import type { FetchHandler } from '../app/shapes.js';
import type { AfterRequest } from '../metrics/recorder.js';
import type { Logger } from '../ops/log.js';
import type { WorkerSpec } from './protocol.js';
import type { QuickStop } from './signals.js';

export class WorkerHooks {
  private hooks: ServerHooks = {};
  private readonly server: ServerInfo;
  private readonly worker: WorkerInfo;
  /** worker_exit, once called: a quick stop that comes while it runs waits for the same call. */
  private exitCall: Promise<void> | null = null;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly log: Logger,
  ) {
    const hooksLog = hookLog(log);
    this.server = {
      pid: process.ppid,
      app: spec.app,
      settings: spec.settings,
      numWorkers: spec.settings.workers,
      workers: [],
      log: hooksLog,
    };
    this.worker = { pid: process.pid, age: spec.age ?? 0, app: spec.app, settings: spec.settings, log: hooksLog };
  }

  /**
   * Import the config file's hooks, only when the arbiter found hooks for workers in it: a config
   * file's own code runs in workers only then.
   */
  async load(): Promise<void> {
    if (this.spec.workerHooks)
      this.hooks = await workerHooks(this.spec.settings.config, (k) => SETTINGS_BY_NAME.has(k));
  }

  /** worker_abort is set: only then does the worker handle SIGABRT. */
  get handlesAbort(): boolean {
    return this.hooks.worker_abort !== undefined;
  }

  /** Right after the fork (a throw fails the boot). */
  async postFork(): Promise<void> {
    await this.hooks.post_fork?.(this.server, this.worker);
  }

  /** The app is loaded, before listening (a throw fails the boot). */
  async postWorkerInit(): Promise<void> {
    await this.hooks.post_worker_init?.(this.worker);
  }

  /** post_request, for the request log; null when it is unset. A throw is logged. */
  afterRequest(): AfterRequest | null {
    const after = this.hooks.post_request;
    if (!after) return null;
    const worker = this.worker;
    const log = this.log;
    return (e, ms) => {
      try {
        after(worker, {
          method: e.method,
          target: e.target,
          status: e.status,
          length: e.length,
          durationMs: ms,
          requestHeader: (n) => e.requestHeader(n.toLowerCase()),
          responseHeader: (n) => e.responseHeader(n.toLowerCase()),
        });
      } catch (err) {
        log.exception('Exception in post_request hook', err);
      }
    };
  }

  /** pre_request before a fetch app, when it is set. A throw fails that request: 500. */
  beforeFetch(fetch: FetchHandler): FetchHandler {
    const pre = this.hooks.pre_request;
    if (!pre) return fetch;
    const worker = this.worker;
    return (request, info) => {
      pre(worker, request);
      return fetch(request, info);
    };
  }

  /** pre_request before a Node-style app, when it is set. */
  beforeNode(app: NodeApp): NodeApp {
    const pre = this.hooks.pre_request;
    if (!pre) return app;
    const worker = this.worker;
    const handler = app.handler;
    return {
      ...app,
      handler: (req, res) => {
        pre(worker, req);
        return handler(req, res);
      },
    };
  }

  /** worker_int or worker_abort, within the quick stop's time (a throw is logged). */
  *quickStop(stop: QuickStop): Operation<void> {
    const hook = this.hooks[stop.hook];
    if (!hook) return;
    const worker = this.worker;
    const log = this.log;
    yield* within(
      stop.deadline,
      call(async () => {
        try {
          await hook(worker);
        } catch (err) {
          log.exception(`Exception in ${stop.hook} hook`, err);
        }
      }),
    );
  }

  /** worker_exit, called once; `deadline` (Date.now()) bounds the wait on a quick stop. A throw is a warning, as Gunicorn logs it. */
  *exit(deadline: number | null): Operation<void> {
    const hook = this.hooks.worker_exit;
    if (!hook) return;
    this.exitCall ??= (async () => {
      try {
        await hook(this.server, this.worker);
      } catch (err) {
        this.log.warning(
          `Exception during worker exit:\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    })();
    const called = this.exitCall;
    yield* within(
      deadline,
      call(() => called),
    );
  }

  /** worker_exit has been called (it may still be running). */
  get exiting(): boolean {
    return this.exitCall !== null;
  }
}

/** `op`, given until `deadline` (Date.now()) when there is one. */
function* within(deadline: number | null, op: Operation<void>): Operation<void> {
  if (deadline === null) return yield* op;
  yield* race([op, sleep(Math.max(0, deadline - Date.now()))]);
}
