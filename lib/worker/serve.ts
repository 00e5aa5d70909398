// Serving: each bound address with its own server (the engine's: a uWS app, or a node:http server on
// the arbiter's socket) and its own pool, the request timer over those pools, and the graceful stop.
//
// serve() is one effection scope: a server resource per bind, holding its pool; leaving the scope
// (when serve returns, or when the worker's scope is halted by a quick stop) closes each server and
// halts each pool, which cancels every request it still holds.
// TERM: stop listening, close open WebSockets with 1001 (Going Away), finish in-flight requests and
// those closing handshakes within graceful_timeout (a request on a kept-alive connection gets
// `Connection: close`), let the responses go out, close the idle keep-alive connections, then return.
import { call, race, resource, scoped, sleep, type Operation } from 'effection';
import { interfaceHint, type LoadedApp } from '../app/shapes.js';
import { bindUrl, formatBind } from '../config/binds.js';
import type { EngineServer, ServedBind, ServingEngine } from '../engines/types.js';
import type { BindContext, PoolTask } from '../http/contracts.js';
import { forwardedPolicy } from '../http/forwarded.js';
import { requestLimits } from '../http/rules.js';
import { WebSocketHub } from '../http/websocket.js';
import { requestLog } from '../metrics/recorder.js';
import type { RequestLog } from '../ops/log.js';
import { schemeOf, withScheme } from '../ops/tls.js';
import type { WorkerContext } from './context.js';
import { usePool, type Pool } from './pool.js';
import { useRequestTimer, type RequestTimer } from './request-timer.js';

/**
 * A stopping worker closes its idle keep-alive connections once they have been quiet this long (ms):
 * no request, and no response bytes waiting to go out. A request a client had already sent on one is
 * then answered (with `Connection: close`), not reset. No connection open at all ends the wait at once.
 */
const STOP_QUIET_MS = 500;

/** A Node-style bind's fetch handler: never called (its engine serves the Node-style app). */
const notFetch = (): never => {
  throw new Error('a Node-style app is not called with a Request');
};

/** One bind being served: what the reports and a quick stop see of it. */
export interface BindHandle {
  context: BindContext;
  pool: Pool;
  stopListening(): void;
  connections(): { open: number; sending: boolean } | null;
}

/** What every bind of the worker shares. */
interface Serving {
  ctx: WorkerContext;
  engine: ServingEngine;
  app: LoadedApp;
  poolSize: number;
  timer: RequestTimer | null;
  requestLog: RequestLog | null;
  requestDone(): void;
}

/** Listen on every bind, tell the arbiter, serve until a graceful stop is asked and done. */
export function serve(ctx: WorkerContext, engine: ServingEngine, app: LoadedApp, poolSize: number): Operation<void> {
  return scoped(function* () {
    const { settings } = ctx;
    const timer = yield* useRequestTimer(settings.request_timeout, (task, ms) => timedOut(ctx, task, ms));
    const serving: Serving = {
      ctx,
      engine,
      app,
      poolSize,
      timer,
      requestLog: requestLog(ctx.log.access, ctx.stats, ctx.statsd, ctx.hooks.afterRequest()),
      requestDone: countRequests(ctx),
    };
    for (const bind of ctx.spec.binds) yield* useBind(serving, bind);
    void ctx.send({ t: 'ready' });

    yield* ctx.stops.untilGraceful();
    for (const l of ctx.binds) l.stopListening();
    const deadline = Date.now() + settings.graceful_timeout * 1000;
    for (const l of ctx.binds) {
      l.context.draining = true;
      l.context.websockets.goAway();
    }
    yield* race([
      (function* (binds: BindHandle[]): Operation<void> {
        for (const l of binds) yield* l.pool.drained();
        for (const l of binds) yield* call(() => l.context.websockets.whenEmpty());
        yield* untilConnectionsIdle(ctx);
      })(ctx.binds),
      sleep(settings.graceful_timeout * 1000),
    ]);
    // Fastify's and Nest's close(): their onClose / shutdown hooks (DB pools) run, within the time left.
    const close = app.close;
    if (close) {
      const log = ctx.log;
      yield* race([
        (function* (): Operation<void> {
          try {
            yield* call(close);
          } catch (err) {
            log.exception(`Error closing the app (${app.what})`, err);
          }
        })(),
        sleep(Math.max(0, deadline - Date.now())),
      ]);
    }
  });
}

/**
 * max_requests: after this many, the worker asks to be replaced (with jitter, so that workers started
 * together do not all go at once).
 */
function countRequests(ctx: WorkerContext): () => void {
  const { max_requests, max_requests_jitter } = ctx.settings;
  const maxRequests = max_requests > 0 ? max_requests + Math.floor(Math.random() * (max_requests_jitter + 1)) : 0;
  return () => {
    if (++ctx.requests === maxRequests) {
      ctx.log.info(`Autorestarting worker after current request.`);
      // The arbiter starts a replacement first and then stops this worker with TERM: with per-worker
      // SO_REUSEPORT listeners that order means there is always someone listening.
      if (process.connected) void ctx.send({ t: 'retire' });
      else ctx.stops.graceful();
    }
  };
}

/** request_timeout answered a request 503: one error line, and the counters. */
function timedOut(ctx: WorkerContext, task: PoolTask, ms: number): void {
  const q = task.target.indexOf('?');
  const path = q < 0 ? task.target : task.target.slice(0, q);
  ctx.log.errorMsg(
    `Request timeout: ${task.method} ${path} not answered after ${(ms / 1000).toFixed(1)} s ` +
      `(request_timeout ${ctx.settings.request_timeout} s): 503`,
  );
  ctx.stats?.timedOut();
  ctx.statsd?.increment('request.timeouts');
}

/**
 * Graceful stop, once requests and WebSockets are done: wait until no connection is open, or until
 * for STOP_QUIET_MS none has carried a request or had response bytes to send (an engine may see
 * those only now and then: uWS's own buffer refills the kernel's). What is left then is idle and is
 * closed as the worker ends, as Gunicorn closes idle keep-alive connections when it stops.
 */
function* untilConnectionsIdle(ctx: WorkerContext): Operation<void> {
  let answered = ctx.requests;
  let activeAt = Date.now();
  let sendingAt = Date.now();
  for (;;) {
    let busy = false;
    let open = 0;
    let sending = false;
    let known = true;
    for (const l of ctx.binds) {
      busy ||= l.pool.slotsInUse + l.pool.queued > 0 || l.context.websockets.size > 0;
      const c = l.connections();
      if (c === null) known = false;
      else {
        open += c.open;
        sending ||= c.sending;
      }
    }
    const now = Date.now();
    if (busy || ctx.requests !== answered) {
      answered = ctx.requests;
      activeAt = now;
    }
    if (sending) sendingAt = now;
    if (!busy && known && open === 0) return;
    if (now - activeAt >= STOP_QUIET_MS && now - sendingAt >= STOP_QUIET_MS) return;
    yield* sleep(50);
  }
}

/** One bind's server and pool, listed in `ctx.binds` while they serve. */
function useBind(
  { ctx, engine, app, poolSize, timer, requestLog, requestDone }: Serving,
  bind: ServedBind,
): Operation<BindHandle> {
  const { settings, log, hooks } = ctx;
  return resource(function* (provide) {
    const pool = yield* usePool(poolSize);
    timer?.add(pool);
    const context: BindContext = {
      app: app.style === 'fetch' ? hooks.beforeFetch(app.fetch) : notFetch,
      nodeApp: app.style === 'node' ? hooks.beforeNode(app) : null,
      requestLog,
      authority: bind.kind === 'tcp' ? formatBind(bind) : 'localhost',
      forwarded: forwardedPolicy(settings),
      unixPath: bind.kind === 'unix' ? bind.path : null,
      scheme: schemeOf(settings),
      limits: requestLimits(settings),
      draining: false,
      submit: (task: PoolTask) => pool.submit(task),
      release: (task: PoolTask) => pool.release(task),
      requestDone,
      writePiece: engine.writePiece,
      closesAtOnce: engine.closesAtOnce,
      writesDate: engine.writesDate,
      headInStatus: engine.headInStatus,
      onError: (msg, err) => {
        // A bare function called the wrong way fails with a TypeError: say which app_interface fits.
        const hint = app.bare ? interfaceHint(app, err) : null;
        log.exception(hint ? `${msg} (${hint})` : msg, err);
      },
      note: (level, msg) => log.log(level, msg),
      websockets: new WebSocketHub(settings.websocket_max_message_size),
    };
    const served: EngineServer = yield* call(() => engine.listen(bind, context, settings));
    log.debug(`Listening at: ${withScheme(bindUrl(bind), settings)} (${process.pid})`);
    const handle: BindHandle = {
      context,
      pool,
      stopListening: () => served.stopListening(),
      connections: () => served.connections(),
    };
    ctx.binds.push(handle);
    try {
      yield* provide(handle);
    } finally {
      const at = ctx.binds.indexOf(handle);
      if (at >= 0) ctx.binds.splice(at, 1);
      served.stopListening();
      pool.halt(); // every request it still holds is cancelled before the server closes
      context.websockets.terminate(); // and every WebSocket still open past graceful_timeout is cut
      served.close();
    }
  });
}
