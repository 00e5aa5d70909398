// The arbiter's /metrics: totals of every worker, past and present, in Prometheus's text format
// (the server that answers `GET /metrics` is the arbiter's: lib/arbiter/metrics-server.ts).
// Workers report cumulative counts once a second over the IPC channel; the arbiter keeps the last
// report of each live worker and adds a worker's last report to the retired totals when it exits,
// so no counter goes down when a worker is replaced, recycled or killed.
//
// The text format is written here rather than with prom-client: what is exposed are totals the
// arbiter sums from reports, not instruments updated in this process (prom-client's cluster
// aggregation assumes node:cluster's IPC, which qilin does not use), and the exposition format
// (0.0.4) is a few lines of stable text.
import {
  DURATION_BUCKETS,
  METHODS,
  STATUS_CLASSES,
  addTotals,
  emptyTotals,
  subtractTotals,
  type RequestTotals,
} from './stats.js';

/** Why a worker was replaced. */
export const RESTART_REASONS = ['timeout', 'max_requests', 'memory', 'reload', 'exit', 'signal'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/**
 * What /metrics shows of a live worker from its last report (the worker's `stats` message carries
 * this and more): cumulative totals, what it holds now, its event-loop delay and memory.
 */
export interface WorkerReport {
  readonly totals: RequestTotals;
  /** Requests holding a pool slot, and waiting for one. */
  readonly running: number;
  readonly queued: number;
  /** WebSockets open (they hold no pool slot). */
  readonly websockets: number;
  /** Event-loop delay since the last report: its 99th percentile and its maximum, in seconds. */
  readonly lagP99: number;
  readonly lagMax: number;
  readonly rss: number;
}

/** What the arbiter knows of a live worker beside its reports. */
export interface WorkerView {
  pid: number;
  /** ms since its last message (heartbeat or report). */
  heartbeatAgeMs: number;
}

export class MetricsHub {
  private readonly live = new Map<number, WorkerReport>();
  private readonly retired: RequestTotals = emptyTotals();
  private readonly restarts = new Map<RestartReason, number>(RESTART_REASONS.map((r) => [r, 0]));
  private readonly startTime = Math.floor(Date.now() / 1000);

  /**
   * Workers that ended, with the totals counted for them: a report can still come in after the
   * exit (the IPC channel is read after the process is reaped), and only what it adds is counted.
   */
  private readonly gone = new Map<number, { totals: RequestTotals; at: number }>();

  report(pid: number, stats: WorkerReport): void {
    const ended = this.gone.get(pid);
    if (ended === undefined) {
      this.live.set(pid, stats);
      return;
    }
    const more = stats.totals;
    addTotals(this.retired, subtractTotals(more, ended.totals));
    ended.totals = more;
  }

  /** A worker is gone: its last totals stay counted; `reason` when it was a restart. */
  exited(pid: number, reason: RestartReason | null): void {
    const last = this.live.get(pid)?.totals ?? emptyTotals();
    addTotals(this.retired, last);
    this.live.delete(pid);
    const now = Date.now();
    for (const [p, g] of this.gone) if (now - g.at > 60_000) this.gone.delete(p);
    this.gone.set(pid, { totals: last, at: now });
    if (reason !== null) this.restarts.set(reason, this.restarts.get(reason)! + 1);
  }

  /** Every request counted so far: the ended workers' and the live ones' last reports. */
  totals(): RequestTotals {
    const sum = emptyTotals();
    addTotals(sum, this.retired);
    for (const s of this.live.values()) addTotals(sum, s.totals);
    return sum;
  }

  render(workers: readonly WorkerView[]): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    const t = this.totals();

    family('qilin_requests_total', 'counter', 'Requests answered, by method and status class.');
    for (let m = 0; m < METHODS.length; m++) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        const n = t.requests[m * STATUS_CLASSES.length + c]!;
        if (n > 0) out.push(`qilin_requests_total{method="${METHODS[m]}",status="${STATUS_CLASSES[c]}"} ${n}`);
      }
    }

    family('qilin_request_duration_seconds', 'histogram', "Time from a request's arrival to the end of its response.");
    let cumulative = 0;
    for (let b = 0; b < DURATION_BUCKETS.length; b++) {
      cumulative += t.buckets[b]!;
      out.push(`qilin_request_duration_seconds_bucket{le="${DURATION_BUCKETS[b]}"} ${cumulative}`);
    }
    cumulative += t.buckets[DURATION_BUCKETS.length]!;
    out.push(`qilin_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`);
    out.push(`qilin_request_duration_seconds_sum ${t.durationSum}`);
    out.push(`qilin_request_duration_seconds_count ${cumulative}`);

    family(
      'qilin_request_timeouts_total',
      'counter',
      'Requests answered 503 because the app did not answer within request_timeout.',
    );
    out.push(`qilin_request_timeouts_total ${t.timeouts}`);

    family('qilin_workers', 'gauge', 'Worker processes alive.');
    out.push(`qilin_workers ${workers.length}`);

    family('qilin_worker_restarts_total', 'counter', 'Workers replaced, by reason.');
    for (const [reason, n] of this.restarts) out.push(`qilin_worker_restarts_total{reason="${reason}"} ${n}`);

    const perWorker = (name: string, help: string, value: (s: WorkerReport, w: WorkerView) => number) => {
      family(name, 'gauge', help);
      for (const w of workers) {
        const s = this.live.get(w.pid);
        if (s) out.push(`${name}{pid="${w.pid}"} ${value(s, w)}`);
      }
    };
    perWorker('qilin_worker_requests_in_flight', "Requests holding a slot of the worker's pools.", (s) => s.running);
    perWorker(
      'qilin_worker_requests_queued',
      'Requests waiting for a pool slot (worker_connections reached).',
      (s) => s.queued,
    );
    perWorker(
      'qilin_worker_websockets_open',
      'WebSockets open in the worker (counted apart: they hold no pool slot).',
      (s) => s.websockets ?? 0,
    );
    perWorker(
      'qilin_worker_heartbeat_age_seconds',
      'Seconds since the worker was last heard from.',
      (_s, w) => w.heartbeatAgeMs / 1000,
    );
    perWorker(
      'qilin_worker_event_loop_lag_seconds',
      'Event-loop delay over the last second, 99th percentile.',
      (s) => s.lagP99,
    );
    perWorker(
      'qilin_worker_event_loop_lag_max_seconds',
      'Event-loop delay over the last second, maximum.',
      (s) => s.lagMax,
    );
    perWorker('qilin_worker_resident_memory_bytes', 'Resident set size of the worker process.', (s) => s.rss);

    family('process_start_time_seconds', 'gauge', 'Start time of the arbiter since the Unix epoch, in seconds.');
    out.push(`process_start_time_seconds ${this.startTime}`);
    return out.join('\n') + '\n';
  }
}
