// What a worker tells the arbiter besides its app and its readiness: that it is alive (a heartbeat
// well inside `timeout`, and the stall watchdog that says where it is stuck when it cannot beat), and
// what it holds (every second: its load for `qilin ctl status`, or with metrics_bind its request
// counts and event-loop delay for /metrics). Each is an effection resource of the worker's scope:
// its timer, histogram or thread ends as the scope does. Nothing here runs per request.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { call, race, resource, sleep, spawn, type Operation } from 'effection';
import type { WorkerContext } from './context.js';
import { startStallWatchdog, type StallWatchdog } from './stall-watchdog.js';

/** Event-loop delay sampling interval (ms) for /metrics. */
const LAG_RESOLUTION_MS = 10;

/** How often the load or the stats are reported (ms). */
const REPORT_EVERY_MS = 1000;

/** How long a stopping worker waits for the watchdog thread to end (it takes ~15 ms). */
const WATCHDOG_STOP_WAIT_MS = 1000;

/** A message to the arbiter every quarter of `timeout`, but at least once a second and at most every 100 ms. */
export function useHeartbeat(ctx: WorkerContext): Operation<void> {
  const { timeout } = ctx.settings;
  // The arbiter kills a worker silent for `timeout` s; beat well inside it.
  const every = Math.max(100, Math.min(1000, (timeout * 1000) / 4 || 1000));
  return resource(function* (provide) {
    // The task is a child of this resource: its failure fails the worker's scope, and its promise
    // is only made if someone asks for it, so there is nothing to await or catch here.
    void (yield* spawn(function* () {
      for (;;) {
        void ctx.send({ t: 'hb' });
        yield* sleep(every);
      }
    }));
    yield* provide();
  });
}

/**
 * With metrics_bind set: stats to the arbiter every second, and a last report as the worker ends.
 * Otherwise, with a control socket: only the load, every second, for its status.
 */
export function useReports(ctx: WorkerContext): Operation<void> {
  return resource(function* (provide) {
    if (ctx.stats === null) {
      // Spawned tasks are children of this resource, not promises to await (see useHeartbeat).
      if (ctx.spec.reportLoad)
        void (yield* spawn(
          every(REPORT_EVERY_MS, () => {
            void ctx.send({ t: 'load', ...ctx.load() });
          }),
        ));
      return yield* provide();
    }
    const lag = yield* useLagHistogram();
    void (yield* spawn(
      every(REPORT_EVERY_MS, () => {
        void report(ctx, lag);
      }),
    ));
    try {
      yield* provide();
    } finally {
      yield* call(() => report(ctx, lag));
    }
  });
}

function every(ms: number, fn: () => void): () => Operation<void> {
  return function* () {
    for (;;) {
      yield* sleep(ms);
      fn();
    }
  };
}

function report(ctx: WorkerContext, lag: IntervalHistogram): Promise<void> {
  // The histogram holds whole timer intervals: the lag is what exceeds the sampling interval.
  const over = (ns: number) => Math.max(0, ns / 1e9 - LAG_RESOLUTION_MS / 1e3);
  const p99 = lag.count > 0 ? over(lag.percentile(99)) : 0;
  const max = lag.count > 0 ? over(lag.max) : 0;
  lag.reset();
  return ctx.send({ t: 'stats', ...ctx.load(), totals: ctx.stats!.totals(), lagP99: p99, lagMax: max });
}

/** The event loop's delay, sampled while the calling scope lasts. */
function useLagHistogram(): Operation<IntervalHistogram> {
  return resource(function* (provide) {
    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    try {
      yield* provide(lag);
    } finally {
      lag.disable();
    }
  });
}

/**
 * The stall watchdog thread (stall-watchdog.ts), told of every message to the arbiter while the
 * calling scope lasts; the scope ends once the thread has. None with `timeout` 0 or `--no-stuck-stack`.
 */
export function useStallWatchdog(ctx: WorkerContext): Operation<StallWatchdog | null> {
  return resource(function* (provide) {
    const watchdog = startStallWatchdog(ctx.settings, (err) =>
      ctx.log.warning(`Cannot report where this worker is stuck: ${err.message}`),
    );
    if (!watchdog) return yield* provide(null);
    ctx.watchdog = watchdog;
    try {
      yield* provide(watchdog);
    } finally {
      ctx.watchdog = null;
      yield* race([call(() => watchdog.stop()), sleep(WATCHDOG_STOP_WAIT_MS)]);
    }
  });
}
