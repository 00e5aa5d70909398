// A worker's life, from the fork to its exit code, as one effection scope; the worker classes
// (workers/pool-worker.ts, workers/sync-worker.ts) say only how many requests a pool runs at once.
//
// In order: the signal handlers (signals.ts) and the app-error handlers (app-errors.ts); the switch
// to the worker's user; the stall watchdog (reports.ts), from boot on, so that an app stuck in its
// own top-level code is reported too; boot, in Gunicorn's order (the config file's hooks and
// post_fork, the engine, the app, post_worker_init); the heartbeat and the reports; then serving
// (serve.ts) until a graceful stop is done. A quick stop (INT, QUIT; SIGABRT with worker_abort set)
// races all of it: worker_int or worker_abort runs, and the scope is left at once.
// Leaving the scope, however it is left, tears everything down in reverse: the listeners close and
// their pools cancel what they still hold, worker_exit runs (unless the worker failed to boot), the
// last report goes out, the timers stop, the watchdog thread ends, the handlers are removed. Only
// then does the process exit (workers/main.ts), with the code Gunicorn's worker gives: 0 stopped
// (TERM, INT, QUIT), 1 on SIGABRT or an unexpected error, 3 a failed boot, 4 an app that did not load.
import { call, ensure, race, run, type Operation } from 'effection';
import { AppLoadError, loadApp } from '../app/load.js';
import { servingLine, uwsAdvice, type LoadedApp } from '../app/shapes.js';
import { servingEngine } from '../engines/index.js';
import { ListenFailed, type ServingEngine } from '../engines/types.js';
import { installLightGlobals } from '../http/globals.js';
import type { Logger } from '../ops/log.js';
import { becomeWorkerUser } from '../ops/privileges.js';
import { useAppErrorHandlers } from './app-errors.js';
import { WorkerContext } from './context.js';
import { trackModuleFiles } from './module-files.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerMessage, type WorkerSpec } from './protocol.js';
import { useHeartbeat, useReports, useStallWatchdog } from './reports.js';
import { serve } from './serve.js';
import { useWorkerSignals, type WorkerSignals } from './signals.js';

/** What boot gives serve. */
interface Booted {
  engine: ServingEngine;
  app: LoadedApp;
}

export abstract class Worker {
  protected readonly log: Logger;
  private readonly ctx: WorkerContext;
  /** The app is Node-style (an uncaught exception may then belong to one of its requests). */
  private servesNodeApp = false;

  constructor(protected readonly spec: WorkerSpec) {
    this.ctx = new WorkerContext(spec);
    this.log = this.ctx.log;
  }

  /** Most requests one listener's pool runs at once. */
  protected abstract poolSize(): number;

  /** Boot and serve until told to stop; resolves with the exit code once the worker's scope is left. */
  async run(): Promise<number> {
    const { settings } = this.spec;
    process.title = `qilin: worker [${settings.proc_name ?? this.spec.app}]`;
    return await run(() => this.live());
  }

  private *live(): Operation<number> {
    const { ctx } = this;
    yield* ensure(() => {
      ctx.statsd?.close();
      ctx.log.flush();
    });
    const signals = yield* useWorkerSignals(ctx.stops, ctx.log);
    yield* useAppErrorHandlers(ctx.log, () => this.servesNodeApp);
    try {
      becomeWorkerUser(this.spec); // user/group: first, so that no code of the app ever runs as root
    } catch (err) {
      this.log.errorMsg((err as Error).message);
      return WORKER_BOOT_ERROR;
    }
    yield* useStallWatchdog(ctx);
    return yield* race([this.bootAndServe(signals), this.quickStop()]);
  }

  /** Boot, then serve until a graceful stop is done. worker_exit as it ends, unless the boot failed. */
  private *bootAndServe(signals: WorkerSignals): Operation<number> {
    const { ctx } = this;
    let booted = false;
    try {
      const failed = yield* call(() => this.loadHooks());
      if (failed !== null) return failed;
      // Only with the hook: otherwise SIGABRT keeps its default (the arbiter then sees the worker die of it).
      if (ctx.hooks.handlesAbort) signals.handleAbort();
      const ready = yield* call(() => this.boot());
      if (typeof ready === 'number') return ready;
      booted = true;
      yield* useHeartbeat(ctx);
      yield* useReports(ctx);
      try {
        yield* serve(ctx, ready.engine, ready.app, this.poolSize());
        return 0;
      } catch (err) {
        if (err instanceof ListenFailed) {
          this.log.errorMsg(err.message);
          return WORKER_BOOT_ERROR;
        }
        this.log.exception('Exception in worker process', err);
        return 1;
      }
    } finally {
      // Halted by a quick stop, at any point of the boot: worker_exit too, within the quick stop's second.
      const quick = ctx.stops.quick;
      if (booted || quick) yield* ctx.hooks.exit(quick?.deadline ?? null);
    }
  }

  /** INT, QUIT (exit 0), or SIGABRT with worker_abort set (exit 1): its hook, then the scope is left. */
  private *quickStop(): Operation<number> {
    const { ctx } = this;
    const stop = yield* ctx.stops.untilQuick();
    // New connections go to the other workers from now on; those open here are cut as the scope ends.
    for (const l of ctx.binds) l.stopListening();
    yield* ctx.hooks.quickStop(stop);
    // Asked while worker_exit runs (a graceful stop ending): it gets what is left of the same second.
    if (ctx.hooks.exiting) yield* ctx.hooks.exit(stop.deadline);
    return stop.code;
  }

  /** Tell the arbiter; resolves once the message is handed to the IPC channel. */
  private send(msg: WorkerMessage): Promise<void> {
    return this.ctx.send(msg);
  }

  /** The config file's hooks for workers; post_fork first, as Gunicorn calls it right after the fork. */
  private async loadHooks(): Promise<number | null> {
    try {
      await this.ctx.hooks.load();
      await this.ctx.hooks.postFork();
      return null;
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }
  }

  /** The engine, the app (and with reload the files it is made of), post_worker_init; or the exit code. */
  private async boot(): Promise<Booted | number> {
    const { settings } = this.spec;
    let engine: ServingEngine;
    try {
      engine = await servingEngine(this.spec.engine, this.spec.uwsMain);
      this.log.debug(`Worker using ${engine.boot()}`);
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }

    installLightGlobals();
    const moduleFiles = settings.reload ? trackModuleFiles() : null;
    let app: LoadedApp;
    try {
      app = await loadApp(this.spec.app, { appInterface: settings.app_interface });
    } catch (err) {
      this.log.exception(
        err instanceof AppLoadError ? err.message : 'Exception in worker process',
        err instanceof AppLoadError ? (err.cause ?? '') : err,
      );
      if (moduleFiles) await this.send({ t: 'files', files: await moduleFiles.list(), loaded: false });
      return APP_LOAD_ERROR;
    }
    // reload: the arbiter watches the files the app is made of.
    if (moduleFiles) await this.send({ t: 'files', files: await moduleFiles.list(), loaded: true });
    // A guess is worth seeing without debug logs: it is what to change when it is wrong.
    if (app.bare?.guessed) this.log.info(servingLine(app));
    else this.log.debug(servingLine(app));
    await this.send({ t: 'app', style: app.style, what: app.what, bare: app.bare !== null });
    if (app.style === 'node' && this.spec.engine === 'uws') {
      this.log.errorMsg(
        `${this.spec.app} is ${app.what}, a Node-style app: the uws engine cannot serve it (use --engine node, or leave engine unset${uwsAdvice(app.bare !== null)})`,
      );
      return APP_LOAD_ERROR;
    }
    this.servesNodeApp = app.style === 'node';
    if (app.style === 'node' && app.start) {
      try {
        await app.start();
      } catch (err) {
        this.log.exception(`${this.spec.app} (${app.what}) failed to start`, err);
        return APP_LOAD_ERROR;
      }
    }

    try {
      await this.ctx.hooks.postWorkerInit();
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }
    return { engine, app };
  }
}
