// request_timeout: one interval per worker checks the requests its pools hold; a request pays one
// field write at arrival (Pool.submit stamps it with the pool's clock), never a timer of its own.
//
// The clock a pool stamps arrivals with is the time the timer's next check is due, not earlier than
// the arrival: a request is answered 503 at the first check at least `request_timeout` after that,
// so within [request_timeout, request_timeout + period) of its arrival (a check the event loop runs
// late stamps the arrivals of that delay up to as much early). The period is a quarter of the
// timeout, at most a second: 300 s is checked once a second, 1 s every 250 ms.
//
// The timer is an effection resource of the scope that serves (useRequestTimer): it stops with it.
import { resource, type Operation } from 'effection';
import type { PoolTask } from '../http/contracts.js';
import type { Pool } from './pool.js';

export class RequestTimer {
  private readonly pools: Pool[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly limitMs: number;
  private readonly periodMs: number;
  private readonly reason: (task: PoolTask) => DOMException;
  /** When the next check is due: what arrivals are stamped with until then. */
  private next: number;

  /** `onTimeout(task, ms)`: a request was answered 503 after `ms` (for the log and the counters). */
  constructor(
    seconds: number,
    private readonly onTimeout: (task: PoolTask, ms: number) => void,
  ) {
    this.limitMs = seconds * 1000;
    this.periodMs = Math.max(10, Math.min(1000, this.limitMs / 4));
    const message = `The request was not answered within request_timeout (${seconds} s)`;
    this.reason = () => new DOMException(message, 'TimeoutError');
    this.next = performance.now() + this.periodMs;
    this.timer = setInterval(() => this.check(), this.periodMs);
    this.timer.unref();
  }

  /** Watch a listener's pool from now on. */
  add(pool: Pool): void {
    pool.clock = this.next;
    this.pools.push(pool);
  }

  private check(): void {
    const now = performance.now();
    const deadline = now - this.limitMs;
    this.next = now + this.periodMs;
    for (const pool of this.pools) {
      pool.clock = this.next;
      pool.expire(deadline, this.reason, (task) => this.onTimeout(task, now - task.arrived));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A RequestTimer for as long as the calling scope, or null when `seconds` is 0 (request_timeout off). */
export function useRequestTimer(
  seconds: number,
  onTimeout: (task: PoolTask, ms: number) => void,
): Operation<RequestTimer | null> {
  return resource(function* (provide) {
    if (seconds <= 0) return yield* provide(null);
    const timer = new RequestTimer(seconds, onTimeout);
    try {
      yield* provide(timer);
    } finally {
      timer.stop();
    }
  });
}
