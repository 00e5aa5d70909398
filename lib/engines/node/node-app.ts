// The node engine's hot path for Node-style apps (Express, Fastify, Koa, Nest, `(req, res)`):
// node:http request in → qilin's request rules → the bind's pool → the app's own handler with
// node's own req and res. The response is the app's; qilin watches it end (res 'close') to free the
// pool slot, count the request and write the access log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeApp } from '../../app/shapes.js';
import type { AccessEntry } from '../../ops/log.js';
import { formatPeerAddress } from '../../http/address.js';
import { currentTask, requestContext, type BindContext, type PoolTask } from '../../http/contracts.js';
import { ERROR_BODY, TIMEOUT_BODY } from '../../http/write.js';
import { Found, refusal } from './handler.js';
import { NodeWire, refusedBefore } from './wire.js';

/** One request of a Node-style app, as the pool runs it. */
export class NodeCall implements PoolTask, AccessEntry {
  aborted = false;
  private started = false;
  private finished = false;
  private settle: (() => void) | undefined = undefined;
  /** The client a trusted front-end named (X-Forwarded-For), for the access log; null: the peer. */
  client: string | null = null;
  /** Body bytes the app wrote (counted only when the access log is on). */
  length = 0;
  /** performance.now() at arrival, when anything measures requests. */
  readonly startMs: number;
  /** Set by the pool as the request arrives (request_timeout). */
  arrived = 0;
  poolSlot = -1;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly context: BindContext,
    readonly app: NodeApp,
  ) {
    // 'close' comes once: after the response finished, or when the connection went first.
    res.once('close', () => this.closed());
    // node:http writes a 103 to any client; an HTTP/1.0 one knows no 1xx (RFC 9110 15.2).
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) res.writeEarlyHints = noEarlyHints;
    const log = context.requestLog;
    this.startMs = log !== null ? performance.now() : 0;
    if (log !== null && log.detailed) countBody(res, this);
  }

  run(): Promise<void> | undefined {
    if (this.aborted || this.finished) return undefined;
    this.started = true;
    // A stopping worker (or keepalive 0): this response closes its connection.
    if (this.context.draining) this.res.shouldKeepAlive = false;
    const done = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
    if (requestContext.tracked) currentTask.run(this, callApp, this);
    else callApp(this);
    return done;
  }

  /** The app failed before or while answering: Gunicorn's 500 if nothing went out, else a cut connection. */
  fail(err: unknown): void {
    this.context.onError(`Error handling request ${this.req.url}`, err);
    if (this.finished) return; // a callback that failed after the response: only logged
    const res = this.res;
    if (res.headersSent || res.destroyed || res.writableEnded) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.shouldKeepAlive = false;
    res.writeHead(500, { 'content-type': 'text/html', 'content-length': ERROR_BODY.length });
    res.end(ERROR_BODY);
  }

  get answered(): boolean {
    return this.finished || this.res.headersSent;
  }

  /**
   * request_timeout passed and the app sent no response head: Gunicorn's page with 503 through its
   * own `res`, then its `req` destroyed with `reason` ('aborted', 'close', an 'error' it listens for,
   * `req.destroyed`), so the app can stop; what it writes later goes nowhere.
   */
  timeOut(reason: DOMException): boolean {
    const res = this.res;
    if (this.finished || res.headersSent || res.destroyed || res.writableEnded) return false;
    this.aborted = true; // a call still waiting for a slot never runs
    this.started = true; // closed() logs and counts the 503
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.shouldKeepAlive = false;
    res.writeHead(503, { 'content-type': 'text/html', 'content-length': TIMEOUT_BODY.length });
    // Once the page is out: destroying req first would cut the connection before it is sent.
    res.once('finish', () => this.req.destroy(reason));
    res.end(TIMEOUT_BODY);
    return true;
  }

  cancel(reason: Error): void {
    if (this.finished) return;
    this.aborted = true;
    this.req.destroy(reason);
    this.res.destroy();
  }

  private closed(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.started) {
      this.aborted = true;
      return;
    } // left while waiting: the pool skips it
    if (this.context.requestLog !== null) this.context.requestLog.write(this);
    this.context.requestDone();
    this.settle?.();
  }

  // AccessEntry: read only when the access log is on.
  get remote(): string {
    return this.client ?? formatPeerAddress(this.req.socket.remoteAddress ?? '-');
  }
  get method(): string {
    return this.req.method!;
  }
  get target(): string {
    return this.req.url!;
  }
  get protocol(): string {
    return `HTTP/${this.req.httpVersion}`;
  }
  get status(): number {
    return this.res.statusCode;
  }
  requestHeader(name: string): string | null {
    const v = this.req.headers[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
  responseHeader(name: string): string | null {
    const v = this.res.getHeader(name);
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v);
  }
}

/** res.writeEarlyHints for an HTTP/1.0 client: nothing is written; the callback still runs, as after a write. */
function noEarlyHints(_hints: Record<string, string | string[]>, cb?: () => void): void {
  if (typeof cb === 'function') process.nextTick(cb);
}

function callApp(call: NodeCall): void {
  let result: unknown;
  try {
    result = call.app.handler(call.req, call.res);
  } catch (err) {
    call.fail(err);
    return;
  }
  if (result === undefined || result === null) return;
  if (typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as Promise<unknown>).then(
      (r) => returned(call, r),
      (err) => call.fail(err),
    );
  } else {
    returned(call, result);
  }
}

/** A `(req, res)` call that returned a Response is a fetch handler taken for Node-style. */
function returned(call: NodeCall, r: unknown): void {
  if (
    typeof r === 'object' &&
    r !== null &&
    typeof (r as Response).status === 'number' &&
    typeof (r as Response).headers?.get === 'function' &&
    !call.res.headersSent
  ) {
    call.fail(
      new Error(
        `the app was called as (req, res) and returned a Response: it is a fetch handler; set app_interface = fetch (--app-interface fetch)`,
      ),
    );
  }
}

/** Count the body bytes the app writes, for the access log's %(b)s. */
function countBody(res: ServerResponse, call: NodeCall): void {
  const write = res.write;
  const end = res.end;
  const size = (chunk: unknown, enc: unknown) =>
    typeof chunk === 'string'
      ? Buffer.byteLength(chunk, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8')
      : ((chunk as Uint8Array | null | undefined)?.byteLength ?? 0);
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    call.length += size(chunk, rest[0]);
    return (write as (this: ServerResponse, ...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function' && !this.writableEnded) call.length += size(chunk, rest[0]);
    return (end as (this: ServerResponse, ...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

export function createNodeAppHandler(
  context: BindContext,
  app: NodeApp,
): (req: IncomingMessage, res: ServerResponse) => void {
  const found = new Found();
  return (req, res) => {
    if (refusedBefore(req)) return;
    const refused = refusal(req, req.rawHeaders, context, true, found);
    if (refused !== null) {
      new NodeWire(req, res).refuse(refused[0], refused[1]);
      return;
    }
    const call = new NodeCall(req, res, context, app);
    // The app's own req.socket.remoteAddress stays the peer (Express's `trust proxy` reads X-Forwarded-For itself).
    if (found.head.watched) call.client = found.said.client;
    context.submit(call);
  };
}
