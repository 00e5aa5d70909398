// What the parts of one worker share: its spec and logs, the config file's hooks, the stops asked of
// it, the binds serving now and the count of requests answered (read by the reports), and the
// IPC channel to the arbiter. Made once, as the worker process starts; worker.ts runs its lifecycle.
import { Logger } from '../ops/log.js';
import type { Settings } from '../config/settings.js';
import { RequestStats } from '../metrics/stats.js';
import { statsdFor, type Statsd } from '../metrics/statsd.js';
import { WorkerHooks } from './hooks.js';
import type { WorkerLoad, WorkerMessage, WorkerSpec } from './protocol.js';
import type { BindHandle } from './serve.js';
import { StopRequests } from './signals.js';
import type { StallWatchdog } from './stall-watchdog.js';

export class WorkerContext {
  readonly settings: Settings;
  readonly log: Logger;
  /** Counts for the arbiter's /metrics (metrics_bind set), and statsd (statsd_host set). */
  readonly stats: RequestStats | null;
  readonly statsd: Statsd | null;
  /** The config file's hooks for workers, once loaded (none until then). */
  readonly hooks: WorkerHooks;
  readonly stops = new StopRequests();
  /** One per bind, while it serves. */
  readonly binds: BindHandle[] = [];
  /** Requests answered since the worker started. */
  requests = 0;
  /** While it runs: told of every message to the arbiter. */
  watchdog: StallWatchdog | null = null;

  constructor(readonly spec: WorkerSpec) {
    this.settings = spec.settings;
    this.log = new Logger(spec.settings);
    this.statsd = statsdFor(spec.settings);
    this.log.statsd = this.statsd;
    this.stats = spec.settings.metrics_bind !== null ? new RequestStats() : null;
    this.hooks = new WorkerHooks(spec, this.log);
  }

  /** Tell the arbiter; resolves once the message is handed to the IPC channel. */
  send(msg: WorkerMessage): Promise<void> {
    // Any message resets the arbiter's timeout clock; the watchdog keeps the same clock.
    this.watchdog?.beat();
    if (!process.connected) return Promise.resolve();
    return new Promise((resolve) => process.send!(msg, undefined, undefined, () => resolve()));
  }

  /** What the worker holds now: read from counters it keeps anyway, so requests pay nothing for it. */
  load(): WorkerLoad {
    let running = 0;
    let queued = 0;
    let websockets = 0;
    for (const l of this.binds) {
      running += l.pool.slotsInUse;
      queued += l.pool.queued;
      websockets += l.context.websockets.size;
    }
    return { requests: this.requests, running, queued, websockets, rss: process.memoryUsage.rss() };
  }
}
