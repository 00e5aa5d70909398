// What every worker does: boot, serve each bound address with its own server (the engine's: a uWS
// app, or a node:http server on the arbiter's socket) inside its own effection pool, prove it is
// alive to the arbiter, and stop on the arbiter's signals.
//
// Lifecycle (effection owns it): worker → one listener resource per bind → that listener's pool.
// TERM: stop listening, close open WebSockets with 1001 (Going Away), finish in-flight requests and
// those closing handshakes within graceful_timeout (a request on a kept-alive connection gets
// `Connection: close`), let the responses go out, close the idle keep-alive connections, then exit.
// INT/QUIT: exit now. Leaving the worker's scope halts the pools, which cancel what is left.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { action, call, race, resource, run, sleep, type Operation } from 'effection';
import { AppLoadError, loadApp } from '../app/load.js';
import { interfaceHint, servingLine, uwsAdvice, type LoadedApp, type NodeApp } from '../app/shapes.js';
import { bindUrl, formatBind } from '../config/binds.js';
import { servingEngine } from '../engines/index.js';
import { ListenFailed, type EngineListener, type ServedBind, type ServingEngine } from '../engines/types.js';
import { currentTask, requestContext, type FetchHandler, type Listener, type PoolTask } from '../http/exchange.js';
import { installLightResponse } from '../http/response.js';
import { forwardedPolicy } from '../http/forwarded.js';
import { requestLimits } from '../http/rules.js';
import { WebSocketHub } from '../http/websocket.js';
import { hookLog, workerHooks, type ServerHooks, type ServerInfo, type WorkerInfo } from '../config/hooks.js';
import { Logger } from '../ops/log.js';
import { SETTINGS_BY_NAME } from '../config/settings.js';
import { schemeOf, withScheme } from '../ops/tls.js';
import { becomeWorkerUser } from '../ops/privileges.js';
import { requestLog, type RequestLog } from '../metrics/recorder.js';
import { RequestStats } from '../metrics/stats.js';
import { statsdFor, type Statsd } from '../metrics/statsd.js';
import { trackModuleFiles } from './module-files.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerLoad, type WorkerMessage, type WorkerSpec } from './protocol.js';
import { usePool, type Pool } from './pool.js';
import { RequestTimer } from './request-timer.js';
import { startStallWatchdog, type StallWatchdog } from './stall-watchdog.js';

export type StopMode = 'graceful' | 'quick';

/**
 * A stopping worker closes its idle keep-alive connections once they have been quiet this long (ms):
 * no request, and no response bytes waiting to go out. A request a client had already sent on one is
 * then answered (with `Connection: close`), not reset. No connection open at all ends the wait at once.
 */
const STOP_QUIET_MS = 500;

/** Event-loop delay sampling interval (ms) for /metrics. */
const LAG_RESOLUTION_MS = 10;

/** A Node-style listener's fetch handler: never called (its engine serves the Node-style app). */
const notFetch = (): never => { throw new Error('a Node-style app is not called with a Request'); };

interface ListenerHandle {
  listener: Listener;
  pool: Pool;
  stopListening(): void;
  connections(): { open: number; sending: boolean } | null;
}

export abstract class Worker {
  protected readonly log: Logger;
  private requests = 0;
  private readonly maxRequests: number;
  private stopRequested: ((mode: StopMode) => void) | undefined;
  private pendingStop: StopMode | undefined;
  private listeners: ListenerHandle[] = [];
  /** The app is Node-style (an uncaught exception may then belong to one of its requests). */
  private servesNodeApp = false;

  /** Counts for the arbiter's /metrics (metrics_bind set), and statsd (statsd_host set). */
  private readonly stats: RequestStats | null;
  private readonly statsd: Statsd | null;
  private requestLog: RequestLog | null;
  /** Server hooks the config file defines for workers (lib/config/hooks.ts), and what they are given. */
  private hooks: ServerHooks = {};
  private readonly hookServer: ServerInfo;
  private readonly hookWorker: WorkerInfo;
  /** Answers requests not answered within request_timeout (null when it is 0). */
  private requestTimer: RequestTimer | null = null;
  /** Logs where the main thread is stuck before the arbiter kills it for its timeout (timeout > 0). */
  private stallWatchdog: StallWatchdog | null = null;

  constructor(protected readonly spec: WorkerSpec) {
    this.log = new Logger(spec.settings);
    this.statsd = statsdFor(spec.settings);
    this.log.statsd = this.statsd;
    this.stats = spec.settings.metrics_bind !== null ? new RequestStats() : null;
    this.requestLog = requestLog(this.log.access, this.stats, this.statsd);
    const log = hookLog(this.log);
    this.hookServer = {
      pid: process.ppid, app: spec.app, settings: spec.settings, numWorkers: spec.settings.workers, workers: [], log,
    };
    this.hookWorker = { pid: process.pid, age: spec.age ?? 0, app: spec.app, settings: spec.settings, log };
    const { max_requests, max_requests_jitter } = spec.settings;
    this.maxRequests = max_requests > 0 ? max_requests + Math.floor(Math.random() * (max_requests_jitter + 1)) : 0;
  }

  /** Most requests one listener's pool runs at once. */
  protected abstract poolSize(): number;

  /** Tell the arbiter; resolves once the message is handed to the IPC channel. */
  private send(msg: WorkerMessage): Promise<void> {
    // Any message resets the arbiter's timeout clock; the watchdog keeps the same clock.
    this.stallWatchdog?.beat();
    if (!process.connected) return Promise.resolve();
    return new Promise((resolve) => process.send!(msg, undefined, undefined, () => resolve()));
  }

  /** Boot and serve until told to stop; resolves with the exit code. */
  async run(): Promise<number> {
    const { settings } = this.spec;
    process.title = `qilin: worker [${settings.proc_name ?? this.spec.app}]`;
    this.installSignals();
    try {
      becomeWorkerUser(this.spec); // user/group: first, so that no code of the app ever runs as root
    } catch (err) {
      this.log.errorMsg((err as Error).message);
      return WORKER_BOOT_ERROR;
    }
    // From boot: an app stuck in its own top-level code is killed for its timeout too.
    this.stallWatchdog = startStallWatchdog(settings, (err) => this.log.warning(`Cannot report where this worker is stuck: ${err.message}`));

    try {
      // The config file's hooks for workers; post_fork first, as Gunicorn calls it right after the fork.
      // Only when the arbiter found worker hooks: a config file's own code runs in workers only then.
      if (this.spec.workerHooks) this.hooks = await workerHooks(settings.config, (k) => SETTINGS_BY_NAME.has(k));
      this.useHooks();
      await this.hooks.post_fork?.(this.hookServer, this.hookWorker);
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }

    let engine: ServingEngine;
    try {
      engine = await servingEngine(this.spec.engine, this.spec.uwsMain);
      this.log.debug(`Worker using ${engine.boot()}`);
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }

    installLightResponse();
    const moduleFiles = settings.reload ? trackModuleFiles() : null;
    let app: LoadedApp;
    try {
      app = await loadApp(this.spec.app, { appInterface: settings.app_interface });
    } catch (err) {
      this.log.exception(err instanceof AppLoadError ? err.message : 'Exception in worker process', err instanceof AppLoadError ? err.cause ?? '' : err);
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
      this.log.errorMsg(`${this.spec.app} is ${app.what}, a Node-style app: the uws engine cannot serve it (use --engine node, or leave engine unset${uwsAdvice(app.bare !== null)})`);
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
      await this.hooks.post_worker_init?.(this.hookWorker);
    } catch (err) {
      this.log.exception('Exception in worker process', err);
      return WORKER_BOOT_ERROR;
    }

    const heartbeat = this.startHeartbeat();
    const reporting = this.startReports();
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
      await this.workerExit();
      clearInterval(heartbeat);
      this.stallWatchdog?.stop();
      if (reporting) { clearInterval(reporting.timer); if (reporting.lag) await this.report(reporting.lag); }
      this.statsd?.close();
      this.log.flush();
    }
  }

  /**
   * With metrics_bind set: a report to the arbiter every second (and a last one as the worker ends).
   * Otherwise, with a control socket: only the load, every second, for its status.
   */
  private startReports(): { timer: NodeJS.Timeout; lag: IntervalHistogram | null } | null {
    if (this.stats === null) {
      if (!this.spec.reportLoad) return null;
      const timer = setInterval(() => { void this.send({ t: 'load', ...this.load() }); }, 1000);
      timer.unref();
      return { timer, lag: null };
    }
    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    const timer = setInterval(() => { void this.report(lag); }, 1000);
    timer.unref();
    return { timer, lag };
  }

  /** What the worker holds now: read from counters it keeps anyway, so requests pay nothing for it. */
  private load(): WorkerLoad {
    let running = 0;
    let queued = 0;
    let websockets = 0;
    for (const l of this.listeners) { running += l.pool.slotsInUse; queued += l.pool.queued; websockets += l.listener.websockets.size; }
    return { requests: this.requests, running, queued, websockets, rss: process.memoryUsage.rss() };
  }

  private report(lag: IntervalHistogram): Promise<void> {
    // The histogram holds whole timer intervals: the lag is what exceeds the sampling interval.
    const over = (ns: number) => Math.max(0, ns / 1e9 - LAG_RESOLUTION_MS / 1e3);
    const p99 = lag.count > 0 ? over(lag.percentile(99)) : 0;
    const max = lag.count > 0 ? over(lag.max) : 0;
    lag.reset();
    return this.send({
      t: 'stats', ...this.load(), totals: this.stats!.totals(), lagP99: p99, lagMax: max,
    });
  }

  private *serve(engine: ServingEngine, app: LoadedApp): Operation<void> {
    const { request_timeout } = this.spec.settings;
    this.requestTimer = request_timeout > 0 ? new RequestTimer(request_timeout, (task, ms) => this.timedOut(task, ms)) : null;
    try {
      yield* this.serveUntilStopped(engine, app);
    } finally {
      this.requestTimer?.stop();
    }
  }

  /** request_timeout answered a request 503: one error line, and the counters. */
  private timedOut(task: PoolTask, ms: number): void {
    const q = task.target.indexOf('?');
    const path = q < 0 ? task.target : task.target.slice(0, q);
    this.log.errorMsg(
      `Request timeout: ${task.method} ${path} not answered after ${(ms / 1000).toFixed(1)} s ` +
      `(request_timeout ${this.spec.settings.request_timeout} s): 503`,
    );
    this.stats?.timedOut();
    this.statsd?.increment('request.timeouts');
  }

  private *serveUntilStopped(engine: ServingEngine, app: LoadedApp): Operation<void> {
    for (const bind of this.spec.binds) this.listeners.push(yield* this.useListener(engine, app, bind));
    void this.send({ t: 'ready' });

    const mode = yield* this.untilStop();
    for (const l of this.listeners) l.stopListening();
    if (mode === 'quick') return;

    const { graceful_timeout } = this.spec.settings;
    const deadline = Date.now() + graceful_timeout * 1000;
    for (const l of this.listeners) { l.listener.draining = true; l.listener.websockets.goAway(); }
    const worker = this;
    yield* race([
      (function* (listeners: ListenerHandle[]): Operation<void> {
        for (const l of listeners) yield* l.pool.drained();
        for (const l of listeners) yield* call(() => l.listener.websockets.whenEmpty());
        yield* worker.untilConnectionsIdle();
      })(this.listeners),
      sleep(graceful_timeout * 1000),
    ]);
    // Fastify's and Nest's close(): their onClose / shutdown hooks (DB pools) run, within the time left.
    const close = app.close;
    if (close) {
      const log = this.log;
      yield* race([
        (function* (): Operation<void> {
          try { yield* call(close); } catch (err) { log.exception(`Error closing the app (${app.what})`, err); }
        })(),
        sleep(Math.max(0, deadline - Date.now())),
      ]);
    }
  }

  /**
   * Graceful stop, once requests and WebSockets are done: wait until no connection is open, or until
   * for STOP_QUIET_MS none has carried a request or had response bytes to send (an engine may see
   * those only now and then: uWS's own buffer refills the kernel's). What is left then is idle and is
   * closed as the worker ends, as Gunicorn closes idle keep-alive connections when it stops.
   */
  private *untilConnectionsIdle(): Operation<void> {
    let answered = this.requests;
    let activeAt = Date.now();
    let sendingAt = Date.now();
    for (;;) {
      let busy = false;
      let open = 0;
      let sending = false;
      let known = true;
      for (const l of this.listeners) {
        busy ||= l.pool.slotsInUse + l.pool.queued > 0 || l.listener.websockets.size > 0;
        const c = l.connections();
        if (c === null) known = false;
        else { open += c.open; sending ||= c.sending; }
      }
      const now = Date.now();
      if (busy || this.requests !== answered) { answered = this.requests; activeAt = now; }
      if (sending) sendingAt = now;
      if (!busy && known && open === 0) return;
      if (now - activeAt >= STOP_QUIET_MS && now - sendingAt >= STOP_QUIET_MS) return;
      yield* sleep(50);
    }
  }

  private useListener(engine: ServingEngine, app: LoadedApp, bind: ServedBind): Operation<ListenerHandle> {
    const worker = this;
    const { settings } = this.spec;
    return resource(function* (provide) {
      const pool = yield* usePool(worker.poolSize());
      worker.requestTimer?.add(pool);
      const listener: Listener = {
        app: app.style === 'fetch' ? worker.beforeFetch(app.fetch) : notFetch,
        nodeApp: app.style === 'node' ? worker.beforeNode(app) : null,
        requestLog: worker.requestLog,
        authority: bind.kind === 'tcp' ? formatBind(bind) : 'localhost',
        forwarded: forwardedPolicy(settings),
        unixPath: bind.kind === 'unix' ? bind.path : null,
        scheme: schemeOf(settings),
        limits: requestLimits(settings),
        draining: false,
        submit: (task: PoolTask) => pool.submit(task),
        release: (task: PoolTask) => pool.release(task),
        requestDone: () => worker.requestDone(),
        writePiece: engine.writePiece,
        closesAtOnce: engine.closesAtOnce,
        writesDate: engine.writesDate,
        onError: (msg, err) => {
          // A bare function called the wrong way fails with a TypeError: say which app_interface fits.
          const hint = app.bare ? interfaceHint(app, err) : null;
          worker.log.exception(hint ? `${msg} (${hint})` : msg, err);
        },
        note: (level, msg) => worker.log.log(level, msg),
        websockets: new WebSocketHub(settings.websocket_max_message_size),
      };
      const served: EngineListener = yield* call(() => engine.listen(bind, listener, settings));
      worker.log.debug(`Listening at: ${withScheme(bindUrl(bind), settings)} (${process.pid})`);
      try {
        yield* provide({ listener, pool, stopListening: () => served.stopListening(), connections: () => served.connections() });
      } finally {
        served.stopListening();
        pool.halt(); // every request it still holds is cancelled before the server closes
        listener.websockets.terminate(); // and every WebSocket still open past graceful_timeout is cut
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
      this.exitNow(0, 'worker_int');
      return;
    }
    this.stopRequested?.(mode);
  }

  /** After loading the hooks: the ones that change how the worker runs. */
  private useHooks(): void {
    const after = this.hooks.post_request;
    if (after) {
      const worker = this.hookWorker;
      const log = this.log;
      this.requestLog = requestLog(this.log.access, this.stats, this.statsd, (e, ms) => {
        try {
          after(worker, {
            method: e.method, target: e.target, status: e.status, length: e.length, durationMs: ms,
            requestHeader: (n) => e.requestHeader(n.toLowerCase()), responseHeader: (n) => e.responseHeader(n.toLowerCase()),
          });
        } catch (err) {
          log.exception('Exception in post_request hook', err);
        }
      });
    }
    // Only with the hook: otherwise SIGABRT keeps its default (the arbiter then sees the worker die of it).
    if (this.hooks.worker_abort) process.on('SIGABRT', () => this.exitNow(1, 'worker_abort'));
  }

  /** pre_request before a fetch app, when it is set (nothing in between otherwise). A throw fails that request: 500. */
  private beforeFetch(fetch: FetchHandler): FetchHandler {
    const pre = this.hooks.pre_request;
    if (!pre) return fetch;
    const worker = this.hookWorker;
    return (request, info) => {
      pre(worker, request);
      return fetch(request, info);
    };
  }

  /** pre_request before a Node-style app, when it is set. */
  private beforeNode(app: NodeApp): NodeApp {
    const pre = this.hooks.pre_request;
    if (!pre) return app;
    const worker = this.hookWorker;
    const handler = app.handler;
    return {
      ...app,
      handler: (req, res) => {
        pre(worker, req);
        return handler(req, res);
      },
    };
  }

  /** worker_exit, as the worker ends (a throw is logged as a warning, as Gunicorn does). */
  private async workerExit(): Promise<void> {
    const h = this.hooks.worker_exit;
    if (!h) return;
    try {
      await h(this.hookServer, this.hookWorker);
    } catch (err) {
      this.log.warning(`Exception during worker exit:\n${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  }

  /** Exit now (INT, QUIT; ABRT with worker_abort set), after `hook` and worker_exit, given at most a second. */
  private exitNow(code: number, hook: 'worker_int' | 'worker_abort'): void {
    const finish = () => {
      this.log.flush();
      process.exit(code);
    };
    const h = this.hooks[hook];
    if (!h && !this.hooks.worker_exit) finish();
    setTimeout(finish, 1000).unref();
    void (async () => {
      try {
        await h?.(this.hookWorker);
      } catch (err) {
        this.log.exception(`Exception in ${hook} hook`, err);
      }
      await this.workerExit();
      finish();
    })();
  }

  private requestDone(): void {
    if (++this.requests === this.maxRequests) {
      this.log.info(`Autorestarting worker after current request.`);
      // The arbiter starts a replacement first and then stops this worker with TERM: with per-worker
      // SO_REUSEPORT listeners that order means there is always someone listening.
      if (process.connected) void this.send({ t: 'retire' });
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
    // Nor may an error thrown from one of its callbacks. Thrown in a Node-style request's async
    // context (a timer, a stream's unheard 'error'), it fails that request only: 500 or a cut.
    process.on('uncaughtException', (err) => {
      const task = currentTask.getStore();
      if (task) { task.fail(err); return; }
      this.log.exception('Uncaught exception in the app', err);
      if (this.servesNodeApp && !requestContext.tracked) {
        requestContext.tracked = true;
        this.log.warning(
          'The request that error came from is not known: from now on this worker runs each request in its ' +
          'async context, so that such an error answers its own request with a 500',
        );
      }
    });
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
    void this.send({ t: 'hb' });
    return setInterval(() => { void this.send({ t: 'hb' }); }, every);
  }
}
