// What the arbiter and its workers agree on: the spec a worker is forked with, the messages it
// sends back over the IPC channel (the app check's child sends one of them too), and the exit codes
// that stop the arbiter (Gunicorn's).
import type { LoadedApp } from '../app/shapes.js';
import type { EngineName } from '../engines/index.js';
import type { ServedBind } from '../engines/types.js';
import type { RequestTotals } from '../metrics/stats.js';
import type { Settings } from '../config/settings.js';

type AppStyle = LoadedApp['style'];

export const WORKER_BOOT_ERROR = 3;
export const APP_LOAD_ERROR = 4;

export interface WorkerSpec {
  settings: Settings;
  app: string;
  engine: EngineName;
  /** uws: the uWebSockets.js package main the arbiter found loads here (workers load no other). */
  uwsMain: string | null;
  binds: ServedBind[];
  /** Its place in the order the arbiter forked workers (1, 2, …), for hooks. */
  age?: number;
  /** The config file defines hooks that run in workers: only then does a worker import it. */
  workerHooks?: boolean;
  /** The arbiter has a control socket: send a WorkerLoad every second (when no WorkerStats is sent). */
  reportLoad: boolean;
}

/**
 * The app loaded, and what it is: sent by a worker before it listens, and by the child that loads
 * the app before any worker is forked (workers/check-app.ts), from which the arbiter settles an
 * unset engine. `what`: what it was recognised as (`an Express app`); `bare`: a bare function,
 * which app_interface may call the other way.
 */
export interface AppReport {
  t: 'app';
  style: AppStyle;
  what: string;
  bare: boolean;
}

/**
 * app: the app loaded (before listening); ready: listening on every bind; hb: alive; retire: served
 * max_requests, replace me; stats (metrics_bind) or else load (control socket): every second.
 */
export type WorkerMessage =
  | AppReport
  | { t: 'ready' }
  | { t: 'hb' }
  | { t: 'retire' }
  /**
   * With reload on, after loading the app (or failing to): the files it is made of, outside
   * node_modules (null: not known); the arbiter watches them.
   */
  | { t: 'files'; files: string[] | null; loaded: boolean }
  | ({ t: 'stats' } & WorkerStats)
  | ({ t: 'load' } & WorkerLoad);

/** What a worker reports for the control socket's status: once a second, counted without per-request cost. */
export interface WorkerLoad {
  /** Requests answered since the worker started. */
  requests: number;
  /** Requests holding a pool slot, and waiting for one, over all its listeners. */
  running: number;
  queued: number;
  /** WebSockets open, over all its listeners (they hold no pool slot). */
  websockets: number;
  rss: number;
}

/** What a worker reports for /metrics (with metrics_bind set): once a second, and as it stops. */
export interface WorkerStats extends WorkerLoad {
  /** Cumulative since the worker started. */
  totals: RequestTotals;
  /** Event-loop delay since the last report: its 99th percentile and its maximum, in seconds. */
  lagP99: number;
  lagMax: number;
}
