// What every worker does: boot, serve each bound address with its own server (the engine's: a uWS
// app, or a node:http server on the arbiter's socket) inside its own effection pool, prove it is
// alive to the arbiter, and stop on the arbiter's signals.
//
// Lifecycle (effection owns it): worker → one listener resource per bind → that listener's pool.
// TERM: stop listening, finish in-flight requests within graceful_timeout, keep serving idle
// keep-alive connections (with `Connection: close`) for `keepalive` s, then exit.
// INT/QUIT: exit now. Leaving the worker's scope halts the pools, which cancel what is left.
import { action, call, race, resource, run, sleep, type Operation } from 'effection';
import { AppLoadError, loadApp } from '../lib/app.js';
import { bindUrl, formatBind } from '../lib/config.js';
import { servingEngine } from '../lib/engines/index.js';
import { ListenFailed, type EngineListener, type ServedBind, type ServingEngine } from '../lib/engines/types.js';
import type { Exchange, FetchHandler, Listener } from '../lib/http/exchange.js';
import { installLightResponse } from '../lib/http/response.js';
import { requestLimits } from '../lib/http/rules.js';
import { Logger } from '../lib/log.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerMessage, type WorkerSpec } from '../lib/worker-protocol.js';
import { usePool, type Pool } from './pool.js';

export type StopMode = 'graceful' | 'quick';

interface ListenerHandle {
  listener: Listener;
  pool: Pool;
  stopListening(): void;
}

export abstract class Worker {
  protected readonly log: Logger;
  private requests = 0;
  private readonly maxRequests: number;
  private stopRequested: ((mode: StopMode) => void) | undefined;
  private pendingStop: StopMode | undefined;
  private listeners: ListenerHandle[] = [];

  constructor(protected readonly spec: WorkerSpec) {
    this.log = new Logger(spec.settings);
    const { max_requests, max_requests_jitter } = spec.settings;
    this.maxRequests = max_requests > 0 ? max_requests + Math.floor(Math.random() * (max_requests_jitter + 1)) : 0;
  }

  /** Most requests one listener's pool runs at once. */
  protected abstract poolSize(): number;

  private send(msg: WorkerMessage): void {
    if (process.connected) process.send!(msg);
  }

  /** Boot and serve until told to stop; resolves with the exit code. */
  async run(): Promise<number> {
    const { settings } = this.spec;
    process.title = `qilin: worker [${settings.proc_name ?? this.spec.app}]`;
    this.installSignals();

    let engine: ServingEngine;
    try {
      engine = await servingEngine(this.spec.engine);
      this.log.debug(`Worker using ${engine.boot()}`);
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }

    installLightResponse();
    let app: FetchHandler;
    try {
      app = await loadApp(this.spec.app);
    } catch (err) {
      this.log.exception(err instanceof AppLoadError ? err.message : 'Exception in worker process', err instanceof AppLoadError ? err.cause ?? '' : err);
      return APP_LOAD_ERROR;
    }

    const heartbeat = this.startHeartbeat();
    try {
      await run(() => this.serve(engine, app));
      return 0;
    } catch (err) {
      if (err instanceof ListenFailed) {
        this.log.errorMsg(err.message);
        return WORKER_BOOT_ERROR;
      }
      this.log.exception('Exception in worker process', err);
      return 1;
    } finally {
      clearInterval(heartbeat);
      this.log.flush();
    }
  }

  private *serve(engine: ServingEngine, app: FetchHandler): Operation<void> {
    for (const bind of this.spec.binds) this.listeners.push(yield* this.useListener(engine, app, bind));
    this.send({ t: 'ready' });

    const mode = yield* this.untilStop();
    for (const l of this.listeners) l.stopListening();
    if (mode === 'quick') return;

    const { graceful_timeout, keepalive } = this.spec.settings;
    for (const l of this.listeners) l.listener.draining = true;
    yield* race([
      (function* (listeners: ListenerHandle[]): Operation<void> {
        for (const l of listeners) yield* l.pool.drained();
        // Idle keep-alive clients may still send one more request; it is answered with Connection: close.
        if (keepalive > 0) yield* sleep(keepalive * 1000);
      })(this.listeners),
      sleep(graceful_timeout * 1000),
    ]);
  }

  private useListener(engine: ServingEngine, app: FetchHandler, bind: ServedBind): Operation<ListenerHandle> {
    const worker = this;
    const { settings } = this.spec;
    return resource(function* (provide) {
      const pool = yield* usePool(worker.poolSize());
      const listener: Listener = {
        app,
        accessLog: worker.log.access,
        authority: bind.kind === 'tcp' ? formatBind(bind) : 'localhost',
        limits: requestLimits(settings),
        draining: false,
        submit: (ex: Exchange) => pool.submit(ex),
        requestDone: () => worker.requestDone(),
        onError: (msg, err) => worker.log.exception(msg, err),
      };
      const served: EngineListener = yield* call(() => engine.listen(bind, listener, settings));
      worker.log.debug(`Listening at: ${bindUrl(bind)} (${process.pid})`);
      try {
        yield* provide({ listener, pool, stopListening: () => served.stopListening() });
      } finally {
        served.stopListening();
        pool.halt(); // every request it still holds is cancelled before the server closes
        served.close();
      }
    });
  }

  private *untilStop(): Operation<StopMode> {
    if (this.pendingStop) return this.pendingStop;
    return yield* action<StopMode>((resolve) => {
      this.stopRequested = resolve;
      return () => { this.stopRequested = undefined; };
    });
  }

  protected stop(mode: StopMode): void {
    if (this.pendingStop === 'quick' || this.pendingStop === mode) return;
    this.pendingStop = mode;
    if (mode === 'quick') {
      // Quick stop does not wait for the event loop: in-flight requests are dropped, as Gunicorn's QUIT.
      for (const l of this.listeners) l.stopListening();
      this.log.flush();
      process.exit(0);
    }
    this.stopRequested?.(mode);
  }

  private requestDone(): void {
    if (++this.requests === this.maxRequests) {
      this.log.info(`Autorestarting worker after current request.`);
      // The arbiter starts a replacement first and then stops this worker with TERM: with per-worker
      // SO_REUSEPORT listeners that order means there is always someone listening.
      if (process.connected) this.send({ t: 'retire' });
      else this.stop('graceful');
    }
  }

  private installSignals(): void {
    process.on('SIGTERM', () => this.stop('graceful'));
    process.on('SIGINT', () => this.stop('quick'));
    process.on('SIGQUIT', () => this.stop('quick'));
    process.on('SIGUSR1', () => this.log.reopen());
    // An app's stray promise must not take the worker and its other requests down.
    process.on('unhandledRejection', (err) => this.log.exception('Unhandled rejection in the app', err));
    process.on('SIGHUP', () => {}); // the arbiter reloads by replacing workers
    process.on('SIGTTIN', () => {});
    process.on('SIGTTOU', () => {});
    process.on('SIGWINCH', () => {});
    // The arbiter is gone: nobody will replace or stop this worker, so stop now (Gunicorn checks ppid).
    process.on('disconnect', () => {
      this.log.info(`Parent changed, shutting down: ${process.pid}`);
      this.stop('graceful');
    });
  }

  private startHeartbeat(): NodeJS.Timeout {
    const { timeout } = this.spec.settings;
    // The arbiter kills a worker silent for `timeout` s; beat well inside it.
    const every = Math.max(100, Math.min(1000, (timeout * 1000) / 4 || 1000));
    this.send({ t: 'hb' });
    return setInterval(() => this.send({ t: 'hb' }), every);
  }
}
