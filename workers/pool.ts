// A pool of reusable effection tasks — qilin's "greenlets" — that owns every request of one
// listener. At most `limit` requests run at once; more wait in arrival order.
//
// A request whose app answers synchronously runs and finishes inside the uWS handler: it held a
// slot for that long and needs no task. A request that returns a promise is adopted by a parked
// pool task (or a new one, up to `limit`), which awaits it inside the pool's scope, so halting
// the pool cancels it. Tasks are long-lived: spawning one per request costs ~35 µs (effection),
// handing a request to a parked task costs ~1-3 µs.
import { action, until, type Operation, type Scope } from 'effection';
import type { Exchange } from '../lib/http/handler.js';

interface Job {
  ex: Exchange;
  pending: Promise<void>;
}

interface Parked {
  resolve: (job: Job) => void;
  parked: boolean;
}

const STOPPING = new Error('worker stopping: request cancelled after graceful_timeout');

export class Pool {
  /** Requests holding a slot (running synchronously, or awaited by a task). */
  private active = 0;
  private waiting: Exchange[] = [];
  private waitingHead = 0;
  private readonly parked: Parked[] = [];
  private idleWaiter: (() => void) | undefined;
  /** Tasks created so far (they are reused, never more than `limit`). */
  tasks = 0;

  constructor(private readonly scope: Scope, readonly limit: number) {}

  get inFlight(): number {
    return this.active + this.waiting.length - this.waitingHead;
  }

  submit(ex: Exchange): void {
    if (this.active >= this.limit || this.waitingHead < this.waiting.length) {
      this.waiting.push(ex);
      return;
    }
    this.active++;
    const pending = ex.run();
    if (pending === undefined) this.release();
    else this.adopt({ ex, pending });
  }

  private release(): void {
    this.active--;
    if (this.active === 0 && this.idleWaiter && this.inFlight === 0) {
      const w = this.idleWaiter;
      this.idleWaiter = undefined;
      w();
    }
  }

  /** Start waiting requests while slots are free; returns the first one that needs a task. */
  private next(): Job | undefined {
    while (this.active < this.limit && this.waitingHead < this.waiting.length) {
      const ex = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as Exchange;
      if (this.waitingHead === this.waiting.length) { this.waiting = []; this.waitingHead = 0; }
      if (ex.aborted) continue; // the client left while it waited
      this.active++;
      const pending = ex.run();
      if (pending === undefined) { this.release(); continue; }
      return { ex, pending };
    }
    return undefined;
  }

  private adopt(job: Job): void {
    const p = this.parked.pop();
    if (p) {
      p.parked = false;
      p.resolve(job);
      return;
    }
    this.tasks++;
    this.scope.run(() => this.task(job));
  }

  private *task(first: Job): Operation<void> {
    let job: Job | undefined = first;
    try {
      for (;;) {
        yield* until(job.pending);
        job = undefined;
        this.release();
        job = this.next() ?? (yield* this.park());
      }
    } finally {
      job?.ex.cancel(STOPPING);
    }
  }

  private park(): Operation<Job> {
    return action<Job>((resolve) => {
      const entry: Parked = { resolve, parked: true };
      this.parked.push(entry);
      return () => {
        if (entry.parked) this.parked.splice(this.parked.indexOf(entry), 1);
      };
    });
  }

  /** Resolves when no request is running or waiting. */
  *drained(): Operation<void> {
    if (this.inFlight === 0) return;
    yield* action<void>((resolve) => {
      this.idleWaiter = () => resolve();
      return () => { this.idleWaiter = undefined; };
    });
  }

  /** Requests still waiting when the pool is halted never ran: close their connections. */
  cancelWaiting(): void {
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]!.cancel(STOPPING);
    this.waiting = [];
    this.waitingHead = 0;
  }
}
