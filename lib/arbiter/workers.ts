// The arbiter's worker table (Gunicorn's `WORKERS`): one record per forked worker with the state
// the loop keeps it by (booting, ready, retiring, stopping; aborted and killed after a timeout),
// why it is replaced, what it last reported, and the rows `qilin ctl status` and /metrics show.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { WorkerStatus } from '../ctl/protocol.js';
import type { RestartReason } from '../metrics/prometheus.js';
import type { WorkerLoad } from '../worker/protocol.js';

export interface WorkerRecord {
  pid: number;
  proc: ChildProcess;
  /** Its place in the order the arbiter forked workers (1, 2, …): the oldest go first. */
  age: number;
  lastBeat: number;
  /** Listening on every bind. */
  ready: boolean;
  /** To be replaced (reload, max_requests): stopped once its replacements are ready. */
  retiring: boolean;
  /** TERM sent: finishing its requests. */
  stopping: boolean;
  /** SIGABRT sent after a timeout; SIGKILL next. */
  aborted: boolean;
  /** When that SIGABRT was sent (ms). */
  abortedAt: number;
  /** SIGKILL sent after that SIGABRT did not end it within a second. */
  killed: boolean;
  /** Why it is being replaced, for /metrics. */
  retiredFor: 'max_requests' | 'memory' | 'reload' | null;
  /** When it was forked (ms), for the control socket's status. */
  forkedAt: number;
  /** Its latest report (control socket or metrics_bind on), null before the first. */
  load: WorkerLoad | null;
}

/** A worker just forked: booting, heard from now. */
export function newWorkerRecord(proc: ChildProcess, age: number): WorkerRecord {
  const now = Date.now();
  return {
    pid: proc.pid!,
    proc,
    age,
    lastBeat: now,
    ready: false,
    retiring: false,
    stopping: false,
    aborted: false,
    abortedAt: 0,
    killed: false,
    retiredFor: null,
    forkedAt: now,
    load: null,
  };
}

export class WorkerTable {
  private readonly byPid = new Map<number, WorkerRecord>();

  add(w: WorkerRecord): void {
    this.byPid.set(w.pid, w);
  }

  remove(w: WorkerRecord): void {
    this.byPid.delete(w.pid);
  }

  get size(): number {
    return this.byPid.size;
  }

  pids(): number[] {
    return [...this.byPid.keys()];
  }

  [Symbol.iterator](): IterableIterator<WorkerRecord> {
    return this.byPid.values();
  }

  oldestFirst(): WorkerRecord[] {
    return [...this.byPid.values()].sort((a, b) => a.age - b.age);
  }

  /** The generation the worker count is kept with: neither retiring nor stopping, oldest first. */
  current(): WorkerRecord[] {
    return this.oldestFirst().filter((w) => !w.retiring && !w.stopping);
  }

  /** Listening and not stopping: who answers requests now (retiring ones too, until replaced). */
  listening(): WorkerRecord[] {
    return [...this.byPid.values()].filter((w) => w.ready && !w.stopping);
  }

  /** `qilin ctl status`'s rows, oldest first. */
  statusRows(now = Date.now()): WorkerStatus[] {
    const secs = (ms: number) => Math.round(ms / 100) / 10;
    return this.oldestFirst().map((w) => ({
      pid: w.pid,
      state: workerState(w),
      age: secs(now - w.forkedAt),
      requests: w.load?.requests ?? null,
      in_flight: w.load ? w.load.running + w.load.queued : null,
      queued: w.load?.queued ?? null,
      last_heartbeat: secs(now - w.lastBeat),
      rss: w.load?.rss ?? null,
    }));
  }

  /** How long since each worker was heard from, for /metrics. */
  heartbeatAges(now = Date.now()): { pid: number; heartbeatAgeMs: number }[] {
    return [...this.byPid.values()].map((w) => ({ pid: w.pid, heartbeatAgeMs: now - w.lastBeat }));
  }
}

export function workerState(w: WorkerRecord): WorkerStatus['state'] {
  return w.stopping ? 'stopping' : w.retiring ? 'retiring' : w.ready ? 'ready' : 'booting';
}

export const MIB = 1024 * 1024;

/** A process's resident set size in bytes (VmRSS of /proc/PID/status), null when it cannot be read. */
export function residentBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null; // gone, or not Linux
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** Why a worker that ended was replaced (for /metrics); null when it was not (shutdown, TTOU). */
export function restartReason(w: WorkerRecord, signal: NodeJS.Signals | null): RestartReason | null {
  if (w.aborted) return 'timeout';
  if (w.retiredFor !== null) return w.retiredFor;
  if (w.stopping) return null;
  if (signal !== null) return 'signal';
  return 'exit';
}
