// A request body read from uWS with backpressure: the socket is paused while more than
// HIGH_WATER bytes wait unread, and resumed as the app reads.
import type { HttpResponse } from '../uws.js';

const HIGH_WATER = 256 * 1024;
const EMPTY = Buffer.alloc(0);

export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'AbortError';
  }
}

export class RequestBody {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private paused = false;
  private done = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  /** Set once the body is being read as a whole or as a stream. */
  used = false;
  /** Set after the response: unread data is dropped, never paused on. */
  private discarding = false;

  constructor(private readonly res: HttpResponse) {
    res.onData((chunk, isLast) => this.push(chunk, isLast));
  }

  private push(chunk: ArrayBuffer, isLast: boolean): void {
    // uWS detaches the ArrayBuffer after this callback: copy what we keep.
    if (chunk.byteLength > 0 && !this.discarding) {
      this.chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      this.buffered += chunk.byteLength;
      if (this.buffered > HIGH_WATER && !this.paused) {
        this.paused = true;
        this.res.pause();
      }
    }
    if (isLast) this.done = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    if (w) { this.wake = null; w(); }
  }

  /** Called when the client goes away. */
  fail(err: Error): void {
    if (this.done) return;
    this.failed = err;
    this.paused = false; // a gone socket is never resumed
    this.notify();
  }

  /** After the response is sent: stop keeping data, let the parser run to the next request. */
  discard(): void {
    this.discarding = true;
    this.chunks = [];
    this.buffered = 0;
    if (this.paused && !this.failed) { this.paused = false; this.res.resume(); }
  }

  /** Next chunk, or null at the end. */
  async read(): Promise<Buffer | null> {
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
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  async readAll(): Promise<Buffer> {
    this.used = true;
    const parts: Buffer[] = [];
    let total = 0;
    for (let c = await this.read(); c; c = await this.read()) { parts.push(c); total += c.length; }
    return parts.length === 1 ? parts[0]! : total === 0 ? EMPTY : Buffer.concat(parts, total);
  }

  stream(): ReadableStream<Uint8Array> {
    this.used = true;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const c = await this.read();
        if (c) controller.enqueue(new Uint8Array(c.buffer, c.byteOffset, c.length));
        else controller.close();
      },
      cancel: () => this.discard(),
    });
  }
}
