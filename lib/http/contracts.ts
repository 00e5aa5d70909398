// What the engines, the worker and the exchange agree on, apart from how the exchange does its part:
// the response side of a connection (`Wire`), what a worker serves one bind with (`BindContext`),
// what a pool runs (`PoolTask`), and the async context of Node-style requests. Engines and the
// worker import these where they only need the shapes, not lib/http/exchange.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FetchHandler, NodeApp } from '../app/shapes.js';
import type { RequestLog } from '../ops/log.js';
import type { BodySource } from './body.js';
import type { ForwardedPolicy } from './forwarded.js';
import type { PlainBody } from './response.js';
import type { RequestLimits } from './rules.js';
import type { WebSocketHub } from './websocket.js';

/**
 * A connection as the exchange drives it: the subset of uWS's HttpResponse it uses (so a uWS
 * response is one, with no wrapper on the fast path), the request body's side (BodySource:
 * onData, pause, resume, cork) and the response's.
 */
export interface Wire extends BodySource {
  /** Bytes as given; a string as its UTF-8 (uWS's RecognizedString). */
  writeStatus(line: string | Uint8Array): unknown;
  writeHeader(name: string, value: string | Uint8Array): unknown;
  /** Whole body (framed with Content-Length); `closeConnection` says and does Connection: close. */
  end(body?: PlainBody, closeConnection?: boolean): unknown;
  /** Headers only, no Content-Length of its own. */
  endWithoutBody(): unknown;
  /** A chunk of a streamed body; false when the caller should wait for onWritable. */
  write(chunk: Uint8Array): boolean;
  /**
   * A chunk of a body of `total` bytes, framed by Content-Length: the response ends with its last
   * byte. [ok, done] as uWS says them: not ok, the socket took only part (getWriteOffset grew by
   * that much) and the rest waits for onWritable.
   */
  tryEnd(chunk: Uint8Array, total: number): [boolean, boolean];
  /** Body bytes taken so far. */
  getWriteOffset(): number;
  onWritable(fn: (offset: number) => boolean): unknown;
  onAborted(fn: () => void): unknown;
  /** Cut the connection now. */
  close(): unknown;
  getRemoteAddressAsText(): ArrayBuffer | string;
  /** The peer's port, where the engine knows it (uWS does not say). */
  getRemotePort?(): number;
  /**
   * A 103 Early Hints interim response with these fields, before the final response (which has not
   * begun: the exchange has checked that, and the client's HTTP version). Names are lower case, values
   * checked as response header values are (ByteStrings: one byte a character). Absent where the engine
   * cannot write an interim response (uWS).
   */
  writeEarlyHints?(hints: Record<string, string | readonly string[]>): void;
  /** The peer may be read after the response ended (node: yes; uWS forbids touching it then). */
  readonly peerReadableLate?: boolean;
}

/** What a bind's pool runs: one request, from admission to its response's end. */
export interface PoolTask {
  /** Start the app; a promise while the response is not complete yet. */
  run(): Promise<unknown> | undefined;
  /** The worker gives up on it (pool halted past graceful_timeout): cut the connection. */
  cancel(reason: Error): void;
  /** The client left; a waiting task is skipped. */
  readonly aborted: boolean;
  /** When it arrived, as the pool's clock said (set by Pool.submit; request_timeout counts from it). */
  arrived: number;
  /** The pool's own bookkeeping: where it keeps the task while it holds a slot; -1 when it holds none. */
  poolSlot: number;
  /** The app answered (its status and headers are out): request_timeout no longer applies. */
  readonly answered: boolean;
  /**
   * request_timeout passed before the app answered: 503 with `Connection: close`, the app told
   * (`reason` aborts `request.signal`; a Node-style app's `req` is destroyed with it). Returns false
   * when there was nothing left to answer (the response had begun, or the client left).
   */
  timeOut(reason: DOMException): boolean;
  /** For the error log line of a timeout. */
  readonly method: string;
  readonly target: string;
}

/**
 * What a worker serves one bind with, as the engine's handlers and the exchange see it: the app,
 * the pool that admits its requests, the limits and trust that apply, and where to report. The
 * worker makes one per bind and hands it to the engine with the bind.
 */
export interface BindContext {
  /** The fetch app (for a Node-style app, one that fails: nodeApp is served instead). */
  readonly app: FetchHandler;
  /** A Node-style app, served by the node engine with node:http's own req and res. */
  readonly nodeApp: NodeApp | null;
  /** Access log, metrics, statsd: told of every finished request; null when all are off. */
  readonly requestLog: RequestLog | null;
  /** `host:port` used in request URLs when the client sends no Host header. */
  readonly authority: string;
  /** Whom to believe about the scheme and the client (forwarded_allow_ips); null: nobody. */
  readonly forwarded: ForwardedPolicy | null;
  /** The socket path of a unix bind (a fetch app's `info.remoteAddr` is `{ transport: 'unix', path }`), else null. */
  readonly unixPath: string | null;
  /** The scheme of request URLs: `https` when the bind is served over TLS. */
  readonly scheme: 'http' | 'https';
  /** limit_request_* settings (0 = no limit). */
  readonly limits: RequestLimits;
  /** Set while the worker stops: every response closes its connection. */
  draining: boolean;
  /** Admits a request: runs it now, or queues it until a slot frees. */
  submit(task: PoolTask): void;
  /** The request's client left: its slot is free at once, whatever its app still does. */
  release(task: PoolTask): void;
  /** Called once per finished exchange (max_requests accounting). */
  requestDone(): void;
  /**
   * The largest piece of a streamed body the engine takes in one write (0: any size). See
   * writeInPieces in write.ts for why the uws engine has one.
   */
  readonly writePiece: number;
  /** See ServingEngine.closesAtOnce. */
  readonly closesAtOnce: boolean;
  /** See ServingEngine.writesDate. */
  readonly writesDate: boolean;
  /** See ServingEngine.headInStatus. */
  readonly headInStatus: boolean;
  readonly onError: (msg: string, err: unknown) => void;
  /** A line for the error log that is no error (a client that went away). */
  readonly note: (level: 'debug' | 'info', msg: string) => void;
  /** Its open WebSockets (fetch apps): counted apart from the pool, closed with 1001 at graceful stop. */
  readonly websockets: WebSocketHub;
}

/**
 * The Node-style request whose code runs now (node engine). An error thrown from one of its
 * callbacks reaches process 'uncaughtException' still in its async context: the worker answers
 * that request with a 500 (or cuts it) and serves on.
 */
export const currentTask = new AsyncLocalStorage<PoolTask & { fail(err: unknown): void }>();

/**
 * Whether Node-style requests run inside currentTask. On Node < 24 AsyncLocalStorage is built on
 * async hooks, which cost every promise and tick of every request (~10 % of an Express hello's
 * throughput, measured); there it is turned on only once an app has thrown from a callback, so an
 * app that never does pays nothing. Node 24's AsyncLocalStorage costs next to nothing: always on.
 */
export const requestContext = { tracked: Number(process.versions.node.split('.')[0]) >= 24 };
