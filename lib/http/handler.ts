// The hot path: uWS request in → pool → app → response out.
//
// Fast path: the pool has a free slot, the app returns a light Response synchronously with a
// string/bytes body → written inside the uWS handler, no promise, no task, no stream.
// Everything else (async apps, queued requests, streams, platform Responses, errors) is correct
// but slower, and lives in write.ts and the pool.
import type { AccessLog } from '../log.js';
import type { HttpRequest, HttpResponse } from '../uws.js';
import { ClientGoneError, RequestBody } from './body.js';
import { QilinRequest, type RequestOwner } from './request.js';
import { asPlain, plainBody, plainInit, statusLine, type LightResponse } from './response.js';
import { writeError, writeHeaders, writePlatform } from './write.js';

/** A fetch-style app, after loading: `(request) => Response | Promise<Response>`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** What the handler needs of the listener it serves. */
export interface Listener {
  readonly app: FetchHandler;
  readonly accessLog: AccessLog | null;
  /** `host:port` used in request URLs when the client sends no Host header. */
  readonly authority: string;
  /** Set while the worker stops: every response closes its connection. */
  draining: boolean;
  /** Admits an exchange: runs it now, or queues it until a slot frees. */
  submit(ex: Exchange): void;
  /** Called once per finished exchange (max_requests accounting). */
  requestDone(): void;
  readonly onError: (msg: string, err: unknown) => void;
}

const METHODS: Record<string, string> = {
  get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', head: 'HEAD', options: 'OPTIONS', patch: 'PATCH',
};

/** One request and its response, from the server's side. */
export class Exchange implements RequestOwner {
  readonly request: QilinRequest;
  readonly body: RequestBody | null;
  aborted = false;
  /** The response has begun (status and headers are out). */
  started = false;
  finished = false;
  /** True during the uWS handler's synchronous part, where writes need no cork. */
  inHandler = true;
  status = 0;
  length = 0;
  private controller: AbortController | undefined;
  private writableWaiter: (() => void) | undefined;
  readonly startNs: bigint;

  constructor(
    readonly res: HttpResponse, readonly listener: Listener,
    method: string, authority: string, target: string, rawHeaders: string[], body: RequestBody | null,
  ) {
    this.request = new QilinRequest(method, authority, target, rawHeaders, this);
    this.body = body;
    this.startNs = listener.accessLog ? process.hrtime.bigint() : 0n;
  }

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(new ClientGoneError());
    }
    return this.controller.signal;
  }

  /** uWS onAborted: the client went away. The response must not be touched after this. */
  onAborted(): void {
    this.aborted = true;
    this.body?.fail(new ClientGoneError());
    this.controller?.abort(new ClientGoneError());
    this.wakeWriter();
  }

  /** The worker gives up on this request (pool halted past graceful_timeout). */
  cancel(reason: Error): void {
    if (this.finished) return;
    this.controller?.abort(reason);
    if (!this.aborted) {
      this.aborted = true;
      this.body?.fail(reason);
      this.res.close();
    }
    this.wakeWriter();
  }

  /** Run the app. Returns a promise when the response is not complete yet. */
  run(): Promise<void> | undefined {
    if (this.aborted) return undefined;
    let result: Response | Promise<Response>;
    try {
      result = this.listener.app(this.request as unknown as Request);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    if (typeof (result as Promise<Response>)?.then === 'function') {
      return (result as Promise<Response>).then((r) => this.respond(r), (err) => this.fail(err));
    }
    return this.respond(result as Response);
  }

  respond(r: Response): Promise<void> | undefined {
    if (this.aborted) return undefined;
    const lr = asPlain(r);
    if (lr === null) return writePlatform(this, r);
    if (this.inHandler) this.writePlain(lr);
    else this.res.cork(() => this.writePlain(lr));
    return undefined;
  }

  private writePlain(lr: LightResponse): void {
    const res = this.res;
    const init = plainInit(lr);
    const body = plainBody(lr);
    const status = init?.status ?? 200;
    this.started = true;
    this.status = status;
    if (status !== 200 || init?.statusText) res.writeStatus(statusLine(status, init?.statusText));
    const sent = init?.headers === undefined ? 0 : writeHeaders(res, init.headers);
    if (typeof body === 'string' && !(sent & HAS_CONTENT_TYPE)) res.writeHeader('content-type', 'text/plain;charset=UTF-8');
    this.end(body ?? '');
  }

  /** Finish with a whole body (or none for HEAD: then `declaredLength` or the body's length is reported). */
  end(body: string | Uint8Array | ArrayBuffer, declaredLength?: number): void {
    this.body?.discard();
    this.status ||= 200;
    const head = this.request.method === 'HEAD';
    // Only HEAD and the access log need the length; uWS frames the body itself.
    if (head || this.listener.accessLog) {
      this.length = declaredLength ?? (typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    }
    this.accessLog();
    if (head) this.res.endWithoutBody(this.length, this.listener.draining);
    else this.res.end(body, this.listener.draining);
    this.done();
  }

  done(): void {
    this.finished = true;
    this.listener.requestDone();
  }

  accessLog(): void {
    const log = this.listener.accessLog;
    if (log) log.write(accessEntry(this));
  }

  fail(err: unknown): Promise<void> | undefined {
    this.listener.onError(`Error handling request ${this.request.target}`, err);
    if (!this.aborted) {
      if (this.inHandler) writeError(this);
      else this.res.cork(() => writeError(this));
    }
    return undefined;
  }

  /** Resolves when uWS can take more output (or the exchange ended). */
  writable(): Promise<void> {
    return new Promise((resolve) => {
      this.writableWaiter = resolve;
      this.res.onWritable(() => { this.wakeWriter(); return true; });
    });
  }

  private wakeWriter(): void {
    const w = this.writableWaiter;
    if (w) { this.writableWaiter = undefined; w(); }
  }
}

/** writeHeaders() result bit: the app set a Content-Type. */
export const HAS_CONTENT_TYPE = 1;

/** The uWS route handler for one listener. */
export function createHandler(listener: Listener): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    // uWS's req lives only during this call: copy what the app may read later.
    const raw: string[] = [];
    let authority = listener.authority;
    let hasBody = false;
    req.forEach((name, value) => {
      raw.push(name, value);
      if (name === 'host') authority = value;
      else if ((name === 'content-length' && value !== '0') || name === 'transfer-encoding') hasBody = true;
    });
    const m = req.getMethod();
    const method = METHODS[m] ?? m.toUpperCase();
    const query = req.getQuery();
    const target = query ? `${req.getUrl()}?${query}` : req.getUrl();
    const body = hasBody ? new RequestBody(res) : null;
    const ex = new Exchange(res, listener, method, authority, target, raw, body);
    res.onAborted(() => ex.onAborted());
    listener.submit(ex);
    ex.inHandler = false;
  };
}

function accessEntry(ex: Exchange) {
  const req = ex.request;
  return {
    remote: Buffer.from(ex.res.getRemoteAddressAsText()).toString(),
    method: req.method,
    target: req.target,
    protocol: 'HTTP/1.1',
    status: ex.status,
    length: ex.length,
    requestHeader: (name: string) => req.header(name),
    responseHeader: () => null,
    startNs: ex.startNs,
  };
}
