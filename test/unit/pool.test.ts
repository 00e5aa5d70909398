// The pool of one listener (lib/worker/pool.ts), driven with stand-in requests: how many run at
// once (worker_connections), who waits and in which order, what frees a slot, what request_timeout
// and a halt (graceful_timeout passed) do to running and waiting requests. No sockets, no processes.
import t from 'tap';
import { run, sleep, spawn, type Operation } from 'effection';
import { Pool, usePool } from '../../lib/worker/pool.js';
import type { PoolTask } from '../../lib/http/contracts.js';

/** A request as the pool sees it; its app answers when the test says so. */
class Task implements PoolTask {
  arrived = -1;
  poolSlot = -1;
  aborted = false;
  answered = false;
  readonly method = 'GET';
  readonly target: string;
  runs = 0;
  cancelledWith: Error | null = null;
  timedOutWith: DOMException | null = null;
  private settle: { resolve(): void; reject(err: Error): void } | null = null;

  constructor(
    readonly name: string,
    private readonly log: string[],
    private readonly sync = false,
  ) {
    this.target = `/${name}`;
  }

  run(): Promise<unknown> | undefined {
    this.runs++;
    this.log.push(this.name);
    if (this.sync) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  /** The app's promise settles (the response has ended). */
  finish(): void {
    this.settle!.resolve();
  }
  fail(): void {
    this.settle!.reject(new Error('writer failed'));
  }
  get running(): boolean {
    return this.settle !== null;
  }

  cancel(reason: Error): void {
    this.cancelledWith = reason;
    this.aborted = true;
  }

  timeOut(reason: DOMException): boolean {
    if (this.answered || this.aborted) return false;
    this.timedOutWith = reason;
    this.aborted = true;
    return true;
  }
}

/** Promise callbacks (where the pool learns a request ended) have run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function tasks(names: string, log: string[]): Task[] {
  return names.split('').map((n) => new Task(n, log));
}

t.test('at most `limit` requests run; the rest wait, counted as queued', async (t) => {
  const log: string[] = [];
  const pool = new Pool(2);
  const [a, b, c, d] = tasks('abcd', log);
  for (const x of [a, b, c, d]) pool.submit(x!);
  t.same(log, ['a', 'b'], 'two run at once');
  t.equal(pool.slotsInUse, 2);
  t.equal(pool.queued, 2);
  t.equal(pool.inFlight, 4);
  a!.finish();
  await settled();
  t.same(log, ['a', 'b', 'c'], 'a slot freed starts the first waiting');
  t.equal(pool.slotsInUse, 2);
  t.equal(pool.queued, 1);
  b!.finish();
  c!.finish();
  await settled();
  t.same(log, ['a', 'b', 'c', 'd']);
  d!.finish();
  await settled();
  t.equal(pool.inFlight, 0, 'nothing held once all ended');
  t.equal(pool.slotsInUse, 0);
});

t.test('waiting requests start in arrival order, whatever order the running ones end in', async (t) => {
  const log: string[] = [];
  const pool = new Pool(3);
  const all = tasks('abcdefghij', log);
  for (const x of all) pool.submit(x);
  let most = 0;
  // End the running ones newest first, one at a time.
  for (let round = 0; round < 20 && log.length < all.length + 10; round++) {
    const running = all.filter((x) => x.running && !x.aborted);
    most = Math.max(most, pool.slotsInUse);
    t.ok(pool.slotsInUse <= 3, `never more than the limit (${pool.slotsInUse})`);
    const last = running.pop();
    if (!last) break;
    last.aborted = true; // ended: not picked again
    last.finish();
    await settled();
  }
  t.same(log, 'abcdefghij'.split(''), 'started in arrival order');
  t.equal(most, 3, 'the limit was reached');
  t.ok(
    all.every((x) => x.runs === 1),
    'each ran once',
  );
  t.equal(pool.inFlight, 0);
});

t.test('a limit of 1 (worker_class sync) runs one request at a time', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const [a, b] = tasks('ab', log);
  pool.submit(a!);
  pool.submit(b!);
  t.same(log, ['a']);
  a!.finish();
  await settled();
  t.same(log, ['a', 'b']);
  b!.finish();
  await settled();
  t.equal(pool.inFlight, 0);
});

t.test('a request answered at once (run returns no promise) frees its slot at once', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const quick = new Task('q', log, true);
  const b = new Task('b', log);
  pool.submit(quick);
  t.equal(pool.slotsInUse, 0, 'no slot held');
  pool.submit(b);
  t.same(log, ['q', 'b'], 'the next runs without waiting');
  b.finish();
  await settled();
});

t.test('a rejected promise frees its slot all the same', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const [a, b] = tasks('ab', log);
  pool.submit(a!);
  pool.submit(b!);
  a!.fail();
  await settled();
  t.same(log, ['a', 'b'], 'the waiting one ran');
  t.equal(pool.slotsInUse, 1);
  b!.finish();
  await settled();
  t.equal(pool.inFlight, 0);
});

t.test('a client that leaves frees its slot at once; its late answer changes nothing', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const [a, b, c] = tasks('abc', log);
  pool.submit(a!);
  pool.submit(b!);
  pool.submit(c!);
  a!.aborted = true;
  pool.release(a!);
  t.same(log, ['a', 'b'], 'released: the next starts now, not when its app settles');
  t.equal(pool.slotsInUse, 1);
  a!.finish(); // the app answers a client that is gone
  await settled();
  t.equal(pool.slotsInUse, 1, 'the late answer frees no second slot');
  t.same(log, ['a', 'b'], 'and starts nobody else');
  t.equal(pool.queued, 1);
  pool.release(a!);
  t.equal(pool.slotsInUse, 1, 'releasing twice frees nothing more');
  b!.finish();
  await settled();
  c!.finish();
  await settled();
  t.equal(pool.inFlight, 0);
});

t.test('a client that left while waiting is skipped', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const [a, b, c] = tasks('abc', log);
  pool.submit(a!);
  pool.submit(b!);
  pool.submit(c!);
  b!.aborted = true;
  pool.release(b!); // what the exchange does as its client leaves: nothing to free for a waiting one
  t.equal(pool.slotsInUse, 1);
  a!.finish();
  await settled();
  t.same(log, ['a', 'c'], 'b never ran');
  t.equal(b!.runs, 0);
  c!.finish();
  await settled();
  t.equal(pool.inFlight, 0);
});

t.test('request_timeout: overdue running and waiting requests are answered and their slots freed', async (t) => {
  const log: string[] = [];
  const pool = new Pool(2);
  pool.clock = 100;
  const [a, b, c] = tasks('abc', log);
  pool.submit(a!);
  pool.submit(b!);
  pool.submit(c!); // waits, stamped 100 too
  pool.clock = 200;
  const [d, e] = tasks('de', log);
  pool.submit(d!); // waits, stamped 200
  pool.submit(e!);
  t.same(
    [a, b, c, d, e].map((x) => x!.arrived),
    [100, 100, 100, 200, 200],
    'stamped with the pool clock',
  );
  b!.answered = true; // b's app has answered: only its body is still going out
  const timedOut: string[] = [];
  const reason = (x: PoolTask) => new DOMException(`${x.target} too slow`, 'TimeoutError');
  pool.expire(150, reason, (x) => timedOut.push((x as Task).name));
  t.same(timedOut.sort(), ['a', 'c'], 'the running unanswered one and the waiting one of that age');
  t.equal(a!.timedOutWith?.message, '/a too slow', 'told why');
  t.equal(a!.timedOutWith?.name, 'TimeoutError');
  t.equal(b!.timedOutWith, null, 'an answered request is left to finish');
  t.equal(c!.runs, 0, 'a waiting request that timed out never runs');
  t.same(log, ['a', 'b', 'd'], 'the freed slot went to the next one in time');
  t.equal(pool.slotsInUse, 2, 'b and d');
  t.equal(pool.queued, 1, 'e');
  a!.finish(); // its app answers late: its slot was freed already
  await settled();
  t.equal(pool.slotsInUse, 2, 'no slot freed twice');
  pool.expire(150, reason, () => t.fail('nothing left that old'));
  for (const x of [b, d]) x!.finish();
  await settled();
  e!.finish();
  await settled();
  t.equal(pool.inFlight, 0);
});

t.test('halt: every running and waiting request is cancelled, and later ones too', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  const [a, b] = tasks('ab', log);
  pool.submit(a!);
  pool.submit(b!);
  pool.halt();
  t.match(a!.cancelledWith?.message, /graceful_timeout/, 'the running one, with the reason');
  t.match(b!.cancelledWith?.message, /graceful_timeout/, 'the waiting one');
  t.equal(pool.inFlight, 0);
  t.equal(pool.slotsInUse, 0);
  const late = new Task('late', log);
  pool.submit(late);
  t.ok(late.cancelledWith, 'a request arriving after the halt is cancelled at once');
  t.equal(late.runs, 0);
  a!.finish();
  await settled();
  t.equal(pool.slotsInUse, 0, 'a cancelled request ending later frees nothing');
  t.same(log, ['a'], 'b never ran');
});

t.test('drained() waits for running and waiting requests, inside effection', async (t) => {
  const log: string[] = [];
  const pool = new Pool(1);
  await run(function* (): Operation<void> {
    yield* pool.drained(); // empty: returns at once
  });
  const [a, b] = tasks('ab', log);
  pool.submit(a!);
  pool.submit(b!);
  let drained = false;
  const waiting = run(function* (): Operation<void> {
    yield* pool.drained();
    drained = true;
  });
  await settled();
  a!.finish();
  await settled();
  t.notOk(drained, 'not while b still runs');
  b!.finish();
  await waiting;
  t.ok(drained, 'once nothing is held');
});

t.test('usePool: leaving the scope that made the pool halts it', async (t) => {
  const log: string[] = [];
  const [a, b] = tasks('ab', log);
  let held: Pool | null = null;
  await run(function* (): Operation<void> {
    const task = yield* spawn(function* (): Operation<void> {
      const pool = yield* usePool(1);
      held = pool;
      pool.submit(a!);
      pool.submit(b!);
      yield* sleep(60_000);
    });
    yield* sleep(5);
    yield* task.halt();
  });
  t.ok(held, 'the pool was made');
  t.ok(a!.cancelledWith, 'its running request was cancelled');
  t.ok(b!.cancelledWith, 'its waiting request was cancelled');
  t.equal(held!.inFlight, 0);
});
