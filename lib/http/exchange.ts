// One request and its response, from the server's side, whatever the engine: the app call, the
// one writer every response goes through, the 500 page, the access log entry. Engines hand it a
// `Wire` (the uWS HttpResponse itself, or the node engine's adapter over ServerResponse) and the
// BindContext it came in on (both in lib/http/contracts.ts).
import type { RemoteAddr, ServeInfo } from '../app/shapes.js';
import type { AccessEntry } from '../ops/log.js';
import { formatPeerAddress } from './address.js';
import { ClientGoneError, DRAIN_MS, type RequestBody, RequestTooLargeError } from './body.js';
import type { BindContext, PoolTask, Wire } from './contracts.js';
import type { HintFields } from './early-hints.js';
import type { ForwardedFacts } from './forwarded.js';
import { QilinRequest, setScheme, type RequestOwner } from './request.js';
import {
  TEXT_PLAIN,
  byteLength,
  isStream,
  isUnusable,
  lightParts,
  statusLine,
  type PlainBody,
  type ResponseParts,
} from './response.js';
import { checkStatusText } from './fields.js';
import {
  HAS_CONTENT_TYPE,
  TIMEOUT_BODY,
  TIMEOUT_DETAIL,
  checkChunk,
  declaredLength,
  firstRead,
  headBlock,
  headerValue,
  rejectRequest,
  statusBytes,
  streamBody,
  writeError,
  writeHeaders,
  writePlatform,
} from './write.js';
import { extraHeaders, socketOfResponse, type QilinWebSocket, type Upgrader } from './websocket.js';

const OK = '200 OK';

/** The debug line saying an engine writes no 103 was logged (once a worker, not once a request). */
let saidNoInterim = false;

/** Parts of the response being written; one object reused, the writer is synchronous up to the body. */
const parts: ResponseParts = { status: 200, statusText: '', headers: undefined, body: null, headLength: -1 };

/**
 * A fetch app's second argument: nothing but `remoteAddr`, made by the exchange when first read (the
 * exchange itself is not handed out: apps that duck-type their arguments must not see its methods).
 */
class ConnInfo implements ServeInfo {
  readonly #exchange: Exchange;
  constructor(exchange: Exchange) {
    this.#exchange = exchange;
  }
  get remoteAddr(): RemoteAddr {
    return this.#exchange.remoteAddr;
  }
}

/** One request and its response, from the server's side. */
export class Exchange implements RequestOwner, PoolTask, AccessEntry {
  readonly request: QilinRequest;
  readonly method: string;
  /** Raw request target, as the client sent it. */
  readonly target: string;
  /** Header names (lower case) and values, flat: [name, value, name, value, ...]. */
  readonly rawHeaders: string[];
  readonly body: RequestBody | null;
  aborted = false;
  /** The response has begun (status and headers are out). */
  started = false;
  finished = false;
  /** True during the uWS handler's synchronous part, where writes need no cork. */
  inHandler = true;
  status = 0;
  length = 0;
  /** The response's headers, kept for the access log's `%({name}o)s` when the log is on. */
  responseHeaders: HeadersInit | undefined = undefined;
  /** qilin added `content-type: text/plain;charset=UTF-8` (a string body without one). */
  defaultType = false;
  /** The Content-Length that went on the wire, for the access log (-1: none, or chunked). */
  contentLength = -1;
  /** The request's HTTP version as the access log shows it (the uWS engine serves HTTP/1.1 only). */
  protocol = 'HTTP/1.1';
  /** The reader of a streamed response body, while it is being written. */
  streamReader: ReadableStreamDefaultReader<unknown> | undefined = undefined;
  private controller: AbortController | undefined;
  /** Why `request.signal` aborts, when not because the client left (request_timeout). */
  private abortReason: DOMException | undefined = undefined;
  /** Set by the pool as the request arrives (request_timeout). */
  arrived = 0;
  poolSlot = -1;
  /** How the engine switches this connection to a WebSocket: set on WebSocket upgrade requests only. */
  upgrader: Upgrader | null = null;
  /** The socket upgradeWebSocket() made for this request, until the app's response settles it. */
  websocket: QilinWebSocket | null = null;
  private writableWaiter: (() => void) | undefined;
  /** performance.now() at arrival, when anything measures requests. */
  readonly startMs: number;
  /**
   * The peer, for the access log. uWS forbids touching a response once it ended or was aborted, and
   * reading the peer costs ~2 µs (uWS makes an ArrayBuffer): it is read as the response ends, or, for a
   * response still pending when the handler returns, then (see keepPeer).
   */
  private peer: ArrayBuffer | string | null = null;
  /** The client a trusted front-end named (X-Forwarded-For, Forwarded), null: the peer. */
  private client: string | null = null;
  private clientPort = 0;
  private _remoteAddr: RemoteAddr | undefined = undefined;
  /** The access log is on: it needs the peer, the response headers and the body length. */
  readonly detailed: boolean;

  constructor(
    readonly res: Wire,
    readonly context: BindContext,
    method: string,
    authority: string,
    target: string,
    rawHeaders: string[],
    body: RequestBody | null,
  ) {
    this.method = method;
    this.target = target;
    this.rawHeaders = rawHeaders;
    this.request = new QilinRequest(method, authority, this);
    this.body = body;
    if (body !== null && context.limits.body > 0) body.limit(context.limits.body, () => this.tooLarge());
    const log = context.requestLog;
    this.startMs = log !== null ? performance.now() : 0;
    this.detailed = log !== null && log.detailed;
  }

  /** The handler returns with the response pending: read the peer while uWS still allows it. */
  keepPeer(): void {
    if (
      this.detailed &&
      this.peer === null &&
      this.client === null &&
      !this.finished &&
      !this.aborted &&
      this.context.requestLog!.peer
    ) {
      this.peer = this.res.getRemoteAddressAsText();
    }
  }

  /**
   * A trusted front-end's forwarded headers (lib/http/forwarded.ts) were applied: take the scheme
   * and client it said, and the peer the handler read to judge it.
   */
  forwardedBy(peer: ArrayBuffer | string | null, said: ForwardedFacts): void {
    if (peer !== null) this.peer = peer;
    if (said.scheme !== null) setScheme(this.request, said.scheme);
    this.client = said.client;
    this.clientPort = said.clientPort;
  }

  /**
   * ServeInfo: the client, made on first use. uWS lets the peer be read only until the response
   * ends or the client leaves: read after that, it is the one kept for the access log if any, else
   * unknown (`hostname: ''`). An async handler that reads it before it answers always gets it.
   */
  get remoteAddr(): RemoteAddr {
    if (this._remoteAddr !== undefined) return this._remoteAddr;
    if (this.client !== null)
      return (this._remoteAddr = { transport: 'tcp', hostname: this.client, port: this.clientPort });
    const path = this.context.unixPath;
    if (path !== null) return (this._remoteAddr = { transport: 'unix', path });
    if (this.peer === null && ((!this.finished && !this.aborted) || this.res.peerReadableLate))
      this.peer = this.res.getRemoteAddressAsText();
    const port = this.res.getRemotePort?.() ?? 0;
    return (this._remoteAddr = {
      transport: 'tcp',
      hostname: this.peer === null ? '' : formatPeerAddress(this.peer),
      port,
    });
  }

  /** One request header's value without building `Headers` (several values joined with ", "). */
  header(name: string): string | null {
    const raw = this.rawHeaders;
    let out: string | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === name) out = out === null ? raw[i + 1]! : `${out}, ${raw[i + 1]}`;
    }
    return out;
  }

  // AccessEntry: read by the access log only.
  get remote(): string {
    return this.client ?? (this.peer === null ? '-' : formatPeerAddress(this.peer));
  }
  requestHeader(name: string): string | null {
    return this.header(name);
  }
  responseHeader(name: string): string | null {
    const v = this.responseHeaders === undefined ? null : headerValue(this.responseHeaders, name);
    if (v !== null) return v;
    if (name === 'content-type' && this.defaultType) return TEXT_PLAIN;
    if (name === 'content-length' && this.contentLength >= 0) return String(this.contentLength);
    return null;
  }

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason ?? new ClientGoneError());
    }
    return this.controller.signal;
  }

  /**
   * The connection closed before the response ended: one line (the failure the app then sees is not
   * logged again). A client that left is Gunicorn's "Ignored premature client disconnection", at
   * debug; `cut`: the engine closed it itself, and why (info).
   */
  sayGone(cut: string | null): void {
    const body = this.body;
    const what = `${this.method} ${this.target}`;
    const upload = body !== null && !body.complete;
    const secs = upload ? ((performance.now() - body.since) / 1000).toFixed(1) : '';
    const bytes = upload ? `${body.received} of ${this.header('content-length') ?? "a chunked body's"} bytes` : '';
    if (cut !== null && upload)
      this.context.note('info', `${what}: client upload cut after ${secs} s (${bytes}): ${cut}`);
    else
      this.context.note(
        'debug',
        `Ignored premature client disconnection: ${what}${upload ? ` after ${secs} s (${bytes} of its body)` : ''}`,
      );
  }

  /**
   * A 103 Early Hints with these (checked) fields, while the final response has not begun; see
   * earlyHints() in lib/http/early-hints.ts for when none goes out. Not for an upgrade (its answer is
   * the 101), nor to HTTP/1.0 clients, which know no 1xx (RFC 9110 15.2).
   */
  earlyHints(fields: HintFields): boolean {
    if (this.started || this.finished || this.aborted || this.upgrader !== null || this.protocol === 'HTTP/1.0')
      return false;
    if (this.res.writeEarlyHints === undefined) {
      if (!saidNoInterim) {
        saidNoInterim = true;
        this.context.note(
          'debug',
          'earlyHints(): this engine cannot write a 103 interim response (uWebSockets.js has no way to); nothing is sent, the final response is as usual',
        );
      }
      return false;
    }
    this.res.writeEarlyHints(fields);
    return true;
  }

  /** uWS onAborted: the client went away. The response must not be touched after this. */
  onAborted(): void {
    this.aborted = true;
    this.websocket?.abandon();
    this.body?.fail(new ClientGoneError());
    this.controller?.abort(new ClientGoneError());
    this.stopStream(new ClientGoneError());
    this.wakeWriter();
    // Its slot is free now, even if the app never settles the promise it returned.
    this.context.release(this);
  }

  get answered(): boolean {
    return this.started || this.finished;
  }

  /** request_timeout passed before the app answered: 503, the app's signal aborted; its late answer is dropped. */
  timeOut(reason: DOMException): boolean {
    if (this.started || this.finished || this.aborted) return false;
    this.abortReason = reason;
    this.aborted = true; // from here on, whatever the app answers is dropped
    this.controller?.abort(reason);
    if (this.websocket !== null) {
      this.websocket.abandon();
      this.websocket = null;
    }
    this.body?.fail(reason);
    this.started = true;
    this.status = 503;
    this.length = TIMEOUT_BODY.length;
    this.logRequest();
    this.res.cork(() => rejectRequest(this.res, 503, TIMEOUT_DETAIL, this.method === 'HEAD'));
    this.wakeWriter();
    this.done();
    return true;
  }

  /** A streamed body waiting on the app (a quiet event stream) learns at once that nobody listens. */
  private stopStream(reason: Error): void {
    const reader = this.streamReader;
    if (reader) {
      this.streamReader = undefined;
      void reader.cancel(reason).catch(() => {});
    }
  }

  /**
   * A chunked body grew past limit_request_body: 413 and a closed connection when nothing was sent
   * yet, a cut connection otherwise; the app's read fails, and whatever it answers is dropped.
   */
  private tooLarge(): void {
    if (this.finished || this.aborted) return;
    const reason = new RequestTooLargeError(this.context.limits.body);
    this.controller?.abort(reason);
    if (!this.started) {
      this.started = true;
      this.status = 413;
      this.length = 0;
      this.logRequest();
      const send = () => rejectRequest(this.res, 413, reason.message, this.method === 'HEAD');
      if (this.inHandler) send();
      else this.res.cork(send);
    } else {
      this.res.close();
    }
    this.aborted = true;
    this.stopStream(reason);
    this.wakeWriter();
    this.done();
  }

  /** The worker gives up on this request (pool halted past graceful_timeout). */
  cancel(reason: Error): void {
    if (this.finished) return;
    this.controller?.abort(reason);
    this.websocket?.abandon();
    if (!this.aborted) {
      this.aborted = true;
      this.body?.fail(reason);
      this.res.close();
    }
    this.stopStream(reason);
    this.wakeWriter();
  }

  /** Run the app. Returns a promise when the response is not complete yet. */
  run(): Promise<void> | undefined {
    if (this.aborted) return undefined;
    let result: Response | Promise<Response>;
    try {
      result = this.context.app(this.request as unknown as Request, new ConnInfo(this));
    } catch (err) {
      return this.fail(err);
    }
    if (typeof (result as Promise<Response>)?.then === 'function') {
      return (result as Promise<Response>).then(
        (r) => this.respond(r),
        (err) => this.fail(err),
      );
    }
    return this.respond(result as Response);
  }

  respond(r: Response): Promise<void> | undefined {
    if (this.aborted) {
      cancelBody(r);
      return undefined;
    }
    try {
      if (this.inHandler) return this.send(r);
      let pending: Promise<void> | undefined;
      this.res.cork(() => {
        pending = this.send(r);
      });
      return pending;
    } catch (err) {
      // A header value uWS cannot take, say: never let it escape into uWS (that aborts the process).
      return this.fail(err);
    }
  }

  private send(r: Response): Promise<void> | undefined {
    if (this.websocket !== null) return this.answerUpgrade(r);
    const p = lightParts(r, parts);
    if (p === null) return writePlatform(this, r);
    return this.writeParts(p.status, p.statusText, p.headers, p.body, p.headLength);
  }

  /**
   * The app called upgradeWebSocket: the response it made switches the connection to the socket
   * (the pool slot is freed as for any finished request); any other response is written as usual
   * and the socket never opens.
   */
  private answerUpgrade(r: Response): Promise<void> | undefined {
    const ws = this.websocket!;
    this.websocket = null;
    if (socketOfResponse(ws, r) === null) {
      ws.abandon();
      return this.send(r);
    }
    const headers = extraHeaders(r);
    this.body?.discard();
    this.started = true;
    this.status = 101;
    this.logRequest();
    this.upgrader!.upgrade(ws, headers);
    this.done();
    return undefined;
  }

  /**
   * The one place a response goes out. RFC 9110: 1xx, 204 and 304 have no body (and 204 no
   * Content-Length); HEAD gets the headers GET would, with the length GET would send when it is
   * known (the app's Content-Length, the plain body's size), none otherwise.
   */
  writeParts(
    status: number,
    statusText: string,
    headers: HeadersInit | undefined,
    body: PlainBody | ReadableStream<Uint8Array> | null,
    headLength: number,
  ): Promise<void> | undefined {
    const bodiless = status === 204 || status === 304 || status < 200;
    const head = this.method === 'HEAD';
    const streamed = body !== null && typeof body !== 'string' && isStream(body);
    if (streamed && isUnusable(body)) {
      return this.fail(new TypeError('the response body stream is locked or was read already (Body is unusable)'));
    }
    if (streamed && !bodiless && !head) return this.streamResponse(status, statusText, headers, body);
    this.writeHead(status, statusText, headers, typeof body === 'string' && !bodiless);
    if (!bodiless && !head) {
      if (body === null) {
        this.end('');
        return undefined;
      }
      if (this.drainFirst())
        return this.body!.drained(DRAIN_MS).then(() => {
          if (!this.aborted) this.res.cork(() => this.end(body as PlainBody));
        });
      this.end(body as PlainBody);
      return undefined;
    }
    // No body on the wire.
    let length = -1;
    if (!bodiless) {
      if (headers !== undefined) length = declaredLength(headers);
      if (length < 0) length = body === null ? headLength : streamed ? -1 : byteLength(body as PlainBody);
    }
    if (streamed) void body.cancel().catch(() => {});
    this.endEmpty(length);
    return undefined;
  }

  /** The status line and the app's headers (and the default Content-Type of a string body). */
  private writeHead(status: number, statusText: string, headers: HeadersInit | undefined, stringBody: boolean): void {
    const res = this.res;
    const line = status !== 200 || statusText ? statusBytes(statusLine(status, checkStatusText(statusText))) : null;
    this.started = true;
    this.status = status;
    // The whole head in one write where the engine takes it so (a status line in bytes goes alone).
    const block = this.context.headInStatus && typeof line !== 'object' ? headBlock.start(res, line ?? OK) : null;
    if (block === null && line !== null) res.writeStatus(line);
    const sink = block ?? res;
    try {
      const flags = headers === undefined ? 0 : writeHeaders(sink, headers, this.context.writesDate);
      if (this.detailed) this.responseHeaders = headers;
      if (stringBody && !(flags & HAS_CONTENT_TYPE)) {
        sink.writeHeader('content-type', TEXT_PLAIN);
        this.defaultType = true;
      }
    } finally {
      // Also when a field was refused midway: the fields before it go out as they would one by one.
      block?.flush();
    }
  }

  /**
   * A streamed body. Its first chunk is awaited before the head goes out when the app has it ready
   * (within the turn): a stream that fails at once, or whose first chunk is no bytes, is then a
   * 500 as any failed app, not a cut 200. A first chunk still to come (an event stream) does not
   * hold the head back past the turn.
   */
  private streamResponse(
    status: number,
    statusText: string,
    headers: HeadersInit | undefined,
    body: ReadableStream<Uint8Array>,
  ): Promise<void> {
    const reader = body.getReader() as ReadableStreamDefaultReader<unknown>;
    this.streamReader = reader; // cancelled at once if the client leaves meanwhile
    return firstRead(reader).then((first) => {
      if (this.aborted) {
        // The client left (or request_timeout answered) before the head went out.
        this.streamReader = undefined;
        void reader.cancel().catch(() => {});
        if (!this.finished) {
          this.status = status;
          this.logRequest();
          this.done();
        }
        return undefined;
      }
      // The stream failed within the turn, or its first chunk is no bytes: a 500.
      let failure = first.error;
      if (failure === undefined && first.result !== undefined && !first.result.done) {
        try {
          checkChunk(first.result.value);
        } catch (err) {
          failure = err;
        }
      }
      if (failure !== undefined) {
        this.streamReader = undefined;
        void reader.cancel().catch(() => {});
        return this.fail(failure);
      }
      let pending: Promise<void> | undefined;
      // Outside uWS's handler now: every write is corked.
      this.res.cork(() => {
        try {
          this.writeHead(status, statusText, headers, false);
        } catch (err) {
          pending = this.fail(err);
          return;
        }
        // The app's Content-Length frames a stream (a file, a proxied response): kept, and held to.
        const declared = headers === undefined ? -1 : declaredLength(headers);
        // A close said at the end of a streamed body would land inside it: say it now.
        if (this.context.draining) this.res.writeHeader('connection', 'close');
        pending = streamBody(this, reader, declared, first.read);
      });
      return pending;
    });
  }

  /**
   * The response is about to end while the client still sends a body nobody read, on a connection
   * that closes after it (the client's `Connection: close`, HTTP/1.0, a draining worker). An engine
   * that closes at once (uWS) would close with unread bytes, and the kernel would reset the
   * connection and drop the response's tail. What is left of the body is read and dropped first,
   * for DRAIN_MS at most, as nginx's lingering close and Gunicorn's reading of the rest of a body.
   */
  drainFirst(): boolean {
    if (!this.context.closesAtOnce || this.body === null || this.body.complete) return false;
    if (this.context.draining || this.protocol === 'HTTP/1.0') return true;
    const connection = this.header('connection');
    return connection !== null && /\bclose\b/i.test(connection);
  }

  /** Finish with a whole body. */
  end(body: PlainBody): void {
    this.body?.discard();
    this.status ||= 200;
    // Only the access log needs the length; uWS frames the body itself.
    if (this.detailed) this.contentLength = this.length = byteLength(body);
    this.logRequest();
    this.res.end(body, this.context.draining);
    this.done();
  }

  /** Finish without a body: `Content-Length: length`, or no Content-Length when length < 0. */
  endEmpty(length: number): void {
    this.body?.discard();
    this.length = 0;
    this.contentLength = length;
    this.logRequest();
    // endWithoutBody() with no argument is the only form that writes no Content-Length of its own;
    // uWS 20.30's endWithoutBody(n > 0) then waits for n body bytes and breaks the next request on
    // the connection. So the length goes in as a header, and a close is said, not done.
    if (length >= 0) this.res.writeHeader('content-length', String(length));
    if (this.context.draining) this.res.writeHeader('connection', 'close');
    this.res.endWithoutBody();
    this.done();
  }

  done(): void {
    this.finished = true;
    this.context.requestDone();
  }

  logRequest(): void {
    const log = this.context.requestLog;
    if (log === null) return;
    // Every caller logs before it ends the response (a client that left was read in keepPeer).
    if (this.detailed && this.peer === null && this.client === null && !this.aborted && log.peer)
      this.peer = this.res.getRemoteAddressAsText();
    log.write(this);
  }

  fail(err: unknown): Promise<void> | undefined {
    // The client left (the app's body read or request.signal failed with it): said as it left.
    if (!(err instanceof ClientGoneError && this.aborted))
      this.context.onError(`Error handling request ${this.target}`, err);
    if (this.websocket !== null) {
      this.websocket.abandon();
      this.websocket = null;
    }
    if (!this.aborted && !this.finished) {
      if (this.inHandler) writeError(this);
      else this.res.cork(() => writeError(this));
    }
    return undefined;
  }

  /**
   * Whether a write now could land inside uWS's cork of this socket while it delivers request body
   * data (see writeInPieces). Only while the body is still arriving: once it is whole, uWS may parse
   * a pipelined request next, and uWS 20.x closes a connection whose next request comes while a
   * response is pending, so a response that can finish now must not wait a turn.
   */
  mayBeCorked(): boolean {
    return this.body !== null && this.body.pushed && !this.body.complete;
  }

  /** Wait for a turn of the event loop outside every uWS callback: uWS has uncorked by then. */
  async leaveCork(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.body !== null) this.body.pushed = false;
  }

  /** Resolves when uWS can take more output (or the exchange ended). */
  writable(): Promise<void> {
    this.body?.waitingToWrite(true);
    return new Promise((resolve) => {
      this.writableWaiter = () => {
        this.body?.waitingToWrite(false);
        resolve();
      };
      this.res.onWritable(() => {
        this.wakeWriter();
        return true;
      });
    });
  }

  private wakeWriter(): void {
    const w = this.writableWaiter;
    if (w) {
      this.writableWaiter = undefined;
      w();
    }
  }
}

/** The app answered a client that is gone: let its stream know. */
function cancelBody(r: Response): void {
  try {
    const p = lightParts(r, parts);
    const b = p === null ? (r as Response | null)?.body : p.body;
    if (b !== null && b !== undefined && typeof b !== 'string' && isStream(b) && !b.locked)
      void b.cancel().catch(() => {});
  } catch {
    /* not a Response: nothing to cancel */
  }
}
