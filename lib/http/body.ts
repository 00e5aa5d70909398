// A request body read from uWS with backpressure: the socket is paused while more than
// HIGH_WATER bytes wait unread, and resumed as the app reads.

const HIGH_WATER = 256 * 1024;
/** How long a response waits for the rest of a body nobody read before its connection closes (nginx's lingering_timeout). */
export const DRAIN_MS = 5000;
const EMPTY = Buffer.alloc(0);

/**
 * uWebSockets.js's pace for a request body: it closes the connection when less than 16 KiB a second
 * of its fixed HTTP timeout arrives within that timeout, and restarts the timeout at each such step.
 * The uws engine sets the step of its build (see lib/engines/uws/handler.ts).
 */
export const uwsPace = { stepBytes: 16 * 1024 * 10 };

export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'AbortError';
  }
}

/** The body passed limit_request_body (Gunicorn has no such limit; 413 as nginx's client_max_body_size). */
export class RequestTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body exceeds limit_request_body (${limit} bytes)`);
    this.name = 'RequestTooLargeError';
  }
}

/**
 * The side of a connection a request body arrives on: its chunks, and pausing them. A Wire
 * (lib/http/contracts.ts) is one.
 */
export interface BodySource {
  onData(fn: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  cork(fn: () => void): unknown;
}

export class RequestBody {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private paused = false;
  private done = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  /** Set once bytes are read, as a whole or through the stream (the spec's "disturbed"). */
  used = false;
  /** The one stream `request.body` returns, for the life of the request. */
  private readable: ReadableStream<Uint8Array> | undefined;
  /** Set after the response: unread data is dropped, never paused on. */
  private discarding = false;
  /** A streamed response has begun (see unblock). */
  private responding = false;
  /** The response waits for the socket to take more output (see waitingToWrite). */
  private writerWaiting = false;
  /** Data came in a uWS callback that may still hold the socket corked (Exchange.mayBeCorked). */
  pushed = false;

  /** readAll() is collecting the body: no pause (see readAll). */
  private collecting = false;
  /** readAll()'s wait for the whole body. */
  private whole: ((err: Error | null) => void) | null = null;

  /** drained(): called once the body is whole or failed. */
  private onSettled: (() => void) | null = null;

  /** Bytes received so far (limit_request_body, and what is said of an upload cut short). */
  received = 0;
  /** performance.now() as the body began. */
  readonly since = performance.now();
  /** performance.now() as the body began, then each time another uwsPace.stepBytes arrived. */
  paceMark = this.since;
  private paceBytes = 0;
  /** limit_request_body: the limit, and what to do past it. */
  private maxBytes = 0;
  private onOverflow: (() => void) | null = null;

  constructor(private readonly res: BodySource) {
    res.onData((chunk, isLast) => this.push(chunk, isLast));
  }

  /** The last of the body has arrived. */
  get complete(): boolean {
    return this.done;
  }

  limit(bytes: number, onOverflow: () => void): void {
    this.maxBytes = bytes;
    this.onOverflow = onOverflow;
  }

  private push(chunk: ArrayBuffer | Uint8Array, isLast: boolean): void {
    this.pushed = true;
    this.received += chunk.byteLength;
    if ((this.paceBytes += chunk.byteLength) >= uwsPace.stepBytes) {
      this.paceBytes = 0;
      this.paceMark = performance.now();
    }
    if (this.maxBytes > 0 && this.received > this.maxBytes && !this.failed) {
      this.fail(new RequestTooLargeError(this.maxBytes));
      this.onOverflow?.();
      return;
    }
    if (chunk.byteLength > 0 && !this.discarding) {
      // uWS detaches its ArrayBuffer after this callback: copy what we keep. Node's Buffers are ours.
      this.chunks.push(chunk instanceof ArrayBuffer ? Buffer.copyBytesFrom(new Uint8Array(chunk)) : (chunk as Buffer));
      this.buffered += chunk.byteLength;
      if (this.buffered > HIGH_WATER && !this.paused && !this.writerWaiting && !this.collecting) {
        // uWS's pause holds back writes too: with a response on its way and a body nobody asked
        // for, pausing would stall both. Drop it instead (as Gunicorn drains an unread body).
        if (this.responding && !this.used && this.readable === undefined) this.discard();
        else {
          this.paused = true;
          this.res.pause();
        }
      }
    }
    if (isLast) {
      this.done = true;
      this.settle();
      this.wholeOrFailed(null);
    }
    this.notify();
  }

  private settle(): void {
    const s = this.onSettled;
    if (s) {
      this.onSettled = null;
      s();
    }
  }

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  /** Called when the client goes away. */
  fail(err: Error): void {
    if (this.done) return;
    this.failed = err;
    this.paused = false; // a gone socket is never resumed
    this.settle();
    this.wholeOrFailed(err);
    this.notify();
  }

  /** Drop what is left of the body and wait until the last of it arrives, the client goes, or `ms` pass. */
  drained(ms: number): Promise<void> {
    this.discard();
    if (this.done || this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.onSettled = finish;
    });
  }

  /** After the response is sent: stop keeping data, let the parser run to the next request. */
  discard(): void {
    this.discarding = true;
    this.chunks = [];
    this.buffered = 0;
    if (this.paused && !this.failed) {
      this.paused = false;
      this.res.resume();
    }
  }

  /**
   * A streamed response is going out. uWS pauses both directions, so from now on a body the app
   * never asked for is dropped rather than paused on; one it reads drains as it reads.
   */
  unblock(): void {
    this.responding = true;
    if (this.paused && !this.used && this.readable === undefined) this.discard();
  }

  /**
   * The response waits for uWS to take more output. uWS's pause holds writes back too, so a body
   * paused now (an app echoing it, blocked on its write) would never let the write finish: the
   * socket stays resumed until the write can go on, and the body may buffer past HIGH_WATER meanwhile.
   */
  waitingToWrite(on: boolean): void {
    this.writerWaiting = on;
    if (on && this.paused && !this.failed) {
      this.paused = false;
      this.res.cork(() => this.res.resume());
    }
  }

  /** Next chunk, or null at the end. One reader at a time. */
  async read(): Promise<Buffer | null> {
    if (this.wake !== null) throw new TypeError('Body is unusable: it is being read by another reader');
    for (;;) {
      if (this.chunks.length > 0) {
        const c = this.chunks.shift()!;
        this.buffered -= c.length;
        if (this.paused && this.buffered <= HIGH_WATER / 2) {
          this.paused = false;
          this.res.cork(() => this.res.resume());
        }
        return c;
      }
      if (this.failed) throw this.failed;
      if (this.done) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The whole body; rejects when it was read already or its stream is locked. */
  readAll(): Promise<Buffer> {
    if (this.used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    if (this.readable?.locked) return Promise.reject(new TypeError('Body is unusable: Body is locked to a reader'));
    this.used = true;
    if (this.wake !== null)
      return Promise.reject(new TypeError('Body is unusable: it is being read by another reader'));
    // A small body (a JSON POST) is whole already, or arrives in the same turn the app asks for it
    // (uWS hands it over once the request's handler returns): taken whole, not chunk by chunk, with
    // one promise and no read() per chunk.
    if (this.done) return Promise.resolve(this.takeAll());
    if (this.failed) return Promise.reject(this.failed);
    // All of it is held in the end anyway (as it was when read chunk by chunk; limit_request_body,
    // when set, bounds it): the socket is not paused while this reader waits.
    this.collecting = true;
    if (this.paused) {
      this.paused = false;
      this.res.cork(() => this.res.resume());
    }
    return new Promise((resolve, reject) => {
      this.whole = (err) => (err === null ? resolve(this.takeAll()) : reject(err));
    });
  }

  /** readAll() waits no more: the body is whole (null) or failed. */
  private wholeOrFailed(err: Error | null): void {
    const w = this.whole;
    if (w !== null) {
      this.whole = null;
      w(err);
    }
  }

  /** Every chunk held, as one Buffer; a paused socket resumes (nothing is held any more). */
  private takeAll(): Buffer {
    const parts = this.chunks;
    const total = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    if (this.paused) {
      this.paused = false;
      this.res.cork(() => this.res.resume());
    }
    return parts.length === 1 ? parts[0]! : total === 0 ? EMPTY : Buffer.concat(parts, total);
  }

  /**
   * The body as one stream, made on first use and the same every time after: an app may look at
   * `request.body`, await something, and read it later. It pulls only when read (highWaterMark 0),
   * so making it reads nothing.
   */
  stream(): ReadableStream<Uint8Array> {
    return (this.readable ??= new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          this.used = true;
          const c = await this.read();
          if (c) controller.enqueue(new Uint8Array(c.buffer, c.byteOffset, c.length));
          else controller.close();
        },
        cancel: () => {
          this.used = true;
          this.discard();
        },
      },
      { highWaterMark: 0 },
    ));
  }
}
