// The pool that owns every request of one listener — qilin's take on gevent's pool of greenlets.
// At most `limit` requests run at once; more wait in arrival order; none is dropped.
//
// The pool is an effection resource of its listener: halting it (shutdown past graceful_timeout)
// cancels every request it holds, running or waiting, and their `request.signal`s abort.
// A request is a PoolTask: a fetch app's Exchange, or a Node-style app's call (node engine).
// Requests themselves are the app's promises, so the pool tracks them with plain promise
// callbacks rather than resuming an effection task per request. Measured on the bench's
// async app (wrk, c100, same run): long-lived effection tasks, one `until` + one parked `action`
// per request, cost 19.7 % of throughput against a bare uWS handler; this costs none of that.
import { action, resource, type Operation } from 'effection';
import type { PoolTask } from '../http/contracts.js';

const STOPPING = new Error('worker stopping: request cancelled after graceful_timeout');

export class Pool {
  /**
   * What an arriving request is stamped with (`PoolTask.arrived`), in performance.now() ms: kept by
   * the worker's RequestTimer (request_timeout) at the time its next check is due, so a stamp is not
   * earlier than the arrival and costs a request one field write. 0 without a timer.
   */
  clock = 0;
  /** Requests holding a slot: running now, or awaiting their app's promise. */
  private active = 0;
  /**
   * The tasks holding a slot, each at its `poolSlot`: an array, not a Set, because a Set gives every
   * request object an identity hash on its way in (measured: the pool's start and finish were 5 % of
   * a worker's time on the POST bench with a Set).
   */
  private running: PoolTask[] = [];
  private waiting: PoolTask[] = [];
  private waitingHead = 0;
  private idleWaiter: (() => void) | undefined;
  private halted = false;

  constructor(readonly limit: number) {}

  /** Requests holding a slot (for /metrics). */
  get slotsInUse(): number {
    return this.active;
  }

  /** Requests waiting for a slot (for /metrics). */
  get queued(): number {
    return this.waiting.length - this.waitingHead;
  }

  get inFlight(): number {
    return this.active + this.waiting.length - this.waitingHead;
  }

  submit(ex: PoolTask): void {
    ex.arrived = this.clock;
    if (this.halted) {
      ex.cancel(STOPPING);
      return;
    }
    if (this.active >= this.limit || this.waitingHead < this.waiting.length) this.waiting.push(ex);
    else this.start(ex);
  }

  private start(ex: PoolTask): void {
    this.active++;
    const pending = ex.run();
    if (pending === undefined) {
      this.active--;
      this.notifyIdle();
      return;
    }
    ex.poolSlot = this.running.length;
    this.running.push(ex);
    // run() turns app errors into 500s; should a writer still reject, the slot is freed all the same.
    const finish = () => this.finish(ex);
    void pending.then(finish, finish);
  }

  /**
   * The client left (or the request was answered for it): its slot is free now, whatever its app
   * still does with the promise it returned (a late result is dropped). A waiting task is skipped.
   */
  release(ex: PoolTask): void {
    this.finish(ex);
  }

  /**
   * request_timeout: every request stamped at or before `deadline` (a `clock` value) whose app has not
   * answered yet is timed out (`PoolTask.timeOut`: a 503, the app told) and its slot freed; waiting
   * requests that old get the same 503 and never run. `timedOut` is told of each one answered so.
   * Called by the RequestTimer, every quarter of request_timeout (at most every second).
   */
  expire(deadline: number, reason: (task: PoolTask) => DOMException, timedOut: (task: PoolTask) => void): void {
    let expired: PoolTask[] | null = null;
    for (const ex of this.running) if (ex.arrived <= deadline && !ex.answered) (expired ??= []).push(ex);
    // The queue is in arrival order: the expired ones are at its head.
    while (this.waitingHead < this.waiting.length && this.waiting[this.waitingHead]!.arrived <= deadline) {
      const ex = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as PoolTask;
      if (!ex.aborted) (expired ??= []).push(ex);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    }
    if (expired === null) return;
    for (const ex of expired) if (ex.timeOut(reason(ex))) timedOut(ex);
    for (const ex of expired) this.finish(ex); // frees the slots of the running ones; starts who waits
    this.notifyIdle();
  }

  private finish(ex: PoolTask): void {
    if (!this.drop(ex)) return; // not holding a slot: finished already, or cancelled by a halt
    this.active--;
    while (this.active < this.limit && this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as PoolTask;
      if (this.waitingHead === this.waiting.length) {
        this.waiting = [];
        this.waitingHead = 0;
      }
      if (!next.aborted) this.start(next); // a client that left while waiting is skipped
    }
    this.notifyIdle();
  }

  /** Take `ex` out of `running` (the last one moves into its place); false when it was not in. */
  private drop(ex: PoolTask): boolean {
    const i = ex.poolSlot;
    if (i < 0) return false;
    ex.poolSlot = -1;
    const last = this.running.pop()!;
    if (last !== ex) {
      this.running[i] = last;
      last.poolSlot = i;
    }
    return true;
  }

  private notifyIdle(): void {
    if (this.idleWaiter && this.inFlight === 0) {
      const w = this.idleWaiter;
      this.idleWaiter = undefined;
      w();
    }
  }

  /** Resolves when no request is running or waiting. */
  *drained(): Operation<void> {
    if (this.inFlight === 0) return;
    yield* action<void>((resolve) => {
      this.idleWaiter = () => resolve();
      return () => {
        this.idleWaiter = undefined;
      };
    });
  }

  /** Cancel everything held: close the connections, abort the signals. */
  halt(): void {
    this.halted = true;
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]!.cancel(STOPPING);
    this.waiting = [];
    this.waitingHead = 0;
    // Out of the pool first: a cancel that tells the pool (the client is gone) finds nothing to free.
    const held = this.running;
    this.running = [];
    for (const ex of held) ex.poolSlot = -1;
    for (const ex of held) ex.cancel(STOPPING);
    this.active = 0;
  }
}

/** A pool as an effection resource: leaving the scope that made it halts it. */
export function usePool(limit: number): Operation<Pool> {
  return resource(function* (provide) {
    const pool = new Pool(limit);
    try {
      yield* provide(pool);
    } finally {
      pool.halt();
    }
  });
}
