// WebSockets for fetch apps, with Deno's contract: `const { socket, response } =
// upgradeWebSocket(request); return response;`. The socket is a WHATWG-style WebSocket object; the
// engines carry its frames (uWS's own WebSockets, or the `ws` package on node:http) behind a
// Transport. An open socket holds no pool slot: the upgrade request holds one while the app runs,
// as any request does, and each bind counts its open sockets apart (WebSocketHub).
import type cryptoModule from 'node:crypto';
import { createRequire } from 'node:module';
import { LightMessageEvent } from './message-event.js';
import { ownerOf, servedRequest, type RequestOwner } from './request.js';

// node:crypto (OpenSSL's set-up, MiBs a process) only once a WebSocket is accepted.
let createHash: typeof cryptoModule.createHash | null = null;
const sha1 = (text: string) =>
  (createHash ??= (createRequire(import.meta.url)('node:crypto') as typeof cryptoModule).createHash)('sha1')
    .update(text)
    .digest('base64');

export interface UpgradeWebSocketOptions {
  /** The subprotocol to answer with: one of those the client offered in Sec-WebSocket-Protocol. */
  protocol?: string;
  /**
   * Seconds without a frame from the client after which the connection is deemed unhealthy: a ping
   * after half of it, and a close (1001) with an `error` event when the other half passes with no
   * answer either. Default 30; 0 turns it off.
   */
  idleTimeout?: number;
}

export interface WebSocketUpgrade {
  socket: QilinWebSocket;
  response: Response;
}

/** What an engine gives a socket once the handshake is done: how to send, close and ping. */
export interface Transport {
  send(data: string | Uint8Array | ArrayBuffer, binary: boolean): void;
  /** Start the closing handshake. */
  close(code: number, reason: string): void;
  /** Cut the connection, no closing handshake. */
  terminate(): void;
  ping(): void;
  /** Bytes the engine holds, not yet written to the socket. */
  bufferedAmount(): number;
}

/**
 * How an engine completes the handshake of one upgrade request (set on such requests only; the
 * engine gives it the connection and what else it needs as it makes it).
 */
export interface Upgrader {
  /** Switch the connection to `socket`; `headers` are the app's extra response headers (name, value, ...). */
  upgrade(socket: QilinWebSocket, headers: string[]): void;
}

/** What upgradeWebSocket needs of the exchange serving a request (the exchange is one). */
interface UpgradeOwner extends RequestOwner {
  header(name: string): string | null;
  /** null: this connection cannot be upgraded. */
  readonly upgrader: Upgrader | null;
  /** The socket upgradeWebSocket made for the request, until the app's response settles it. */
  websocket: QilinWebSocket | null;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 4.1). */
const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;
/** Response headers the engine writes itself during the handshake. */
const HANDSHAKE_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** 'websocket' in `Upgrade: websocket`, 'upgrade' in `Connection: keep-alive, Upgrade`. */
function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** A close code the app may send (RFC 6455 7.4; WHATWG WebSocket close()). */
function checkCloseArgs(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
    throw new DOMException(
      `The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
      'InvalidAccessError',
    );
  }
  if (reason !== undefined && Buffer.byteLength(reason) > 123) {
    throw new DOMException('The close reason must not be greater than 123 UTF-8 bytes.', 'SyntaxError');
  }
}

// Node 20 has no CloseEvent nor ErrorEvent of its own (Node 22 and later have CloseEvent). Each is
// looked up when a socket first needs one, not at import: on Node 22+ reading the global loads
// undici, and the public entry (upgradeWebSocket) must not load it in an app's own process.
function platformOr<T>(name: 'CloseEvent' | 'ErrorEvent', fallback: () => T): () => T {
  let found: T | undefined;
  return () => (found ??= ((globalThis as Record<string, unknown>)[name] as T | undefined) ?? fallback());
}

const closeEventClass = platformOr<typeof CloseEvent>(
  'CloseEvent',
  () =>
    class CloseEvent extends Event {
      readonly code: number;
      readonly reason: string;
      readonly wasClean: boolean;
      constructor(type: string, init: CloseEventInit = {}) {
        super(type, init);
        this.code = init.code ?? 0;
        this.reason = init.reason ?? '';
        this.wasClean = init.wasClean ?? false;
      }
    } as unknown as typeof CloseEvent,
);

const errorEventClass = platformOr<typeof ErrorEvent>(
  'ErrorEvent',
  () =>
    class ErrorEvent extends Event {
      readonly message: string;
      readonly error: unknown;
      readonly filename = '';
      readonly lineno = 0;
      readonly colno = 0;
      constructor(type: string, init: ErrorEventInit = {}) {
        super(type, init);
        this.message = init.message ?? '';
        this.error = init.error;
      }
    } as unknown as typeof ErrorEvent,
);

type Handler = ((this: QilinWebSocket, ev: Event) => unknown) | null;
type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

const kResponse = Symbol('qilin.websocketResponse');

/**
 * The server's end of one WebSocket, as Deno's upgradeWebSocket gives it: events `open`, `message`,
 * `close`, `error` (and the `on…` properties), `send()`, `close()`, `readyState`, `binaryType`,
 * `bufferedAmount`, `protocol`, `url`.
 */
export class QilinWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly url: string;
  readonly protocol: string;
  readonly extensions = '';
  readyState = 0;
  /** How binary messages arrive: a Blob (the default, as in Deno and browsers) or an ArrayBuffer. */
  binaryType: 'blob' | 'arraybuffer' = 'blob';

  private transport: Transport | null = null;
  private hub: WebSocketHub | null = null;
  /** Sends waiting behind a Blob being read, in order, and their bytes (counted in bufferedAmount). */
  private queue: SendData[] | null = null;
  private queuedBytes = 0;
  /** The close asked for before the handshake completed. */
  private closeAsked: [number, string] | null = null;
  private closeEventSent = false;
  /** Idle timeout: ms, 0 off; heard since the last sweep; when the ping went out (0: none). */
  readonly idleMs: number;
  heard = false;
  quietSince = 0;
  pingedAt = 0;
  private readonly handlers: Record<string, Handler> = { open: null, message: null, close: null, error: null };
  /**
   * The app added a `message` listener of its own (addEventListener): messages then go through
   * EventTarget dispatch with the platform's MessageEvent. Until then, onmessage is called directly
   * with a LightMessageEvent (lib/http/message-event.ts).
   */
  private messageListened = false;
  [kResponse]: Response | null = null;

  /** @internal Made by upgradeWebSocket(). */
  constructor(url: string, protocol: string, idleTimeout: number) {
    super();
    this.url = url.replace(/^http/, 'ws');
    this.protocol = protocol;
    this.idleMs = idleTimeout * 1000;
  }

  get onopen(): Handler {
    return this.handlers.open!;
  }
  set onopen(fn: Handler) {
    this.setHandler('open', fn);
  }
  get onmessage(): Handler {
    return this.handlers.message!;
  }
  set onmessage(fn: Handler) {
    this.setHandler('message', fn);
  }
  get onclose(): Handler {
    return this.handlers.close!;
  }
  set onclose(fn: Handler) {
    this.setHandler('close', fn);
  }
  get onerror(): Handler {
    return this.handlers.error!;
  }
  set onerror(fn: Handler) {
    this.setHandler('error', fn);
  }

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void {
    if (String(type) === 'message') this.messageListened = true;
    super.addEventListener(type, listener, options);
  }

  private setHandler(type: string, fn: Handler): void {
    // An event handler property is one listener, registered when first set (HTML's rule).
    if (this.handlers[type] === null && typeof fn === 'function') {
      super.addEventListener(type, (ev) => {
        const h = this.handlers[type];
        if (typeof h === 'function') h.call(this, ev);
      });
    }
    this.handlers[type] = typeof fn === 'function' ? fn : null;
  }

  /** Bytes sent and not yet written to the connection. */
  get bufferedAmount(): number {
    return (this.transport?.bufferedAmount() ?? 0) + this.queuedBytes;
  }

  send(data: SendData): void {
    if (this.readyState === 0)
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    if (this.readyState !== 1) return; // closing or closed: dropped, as browsers do
    if (this.queue !== null || data instanceof Blob) {
      this.enqueue(data);
      return;
    }
    this.write(data);
  }

  private write(data: SendData): void {
    const t = this.transport;
    if (t === null || this.readyState !== 1) return;
    if (typeof data === 'string') t.send(data, false);
    else if (data instanceof ArrayBuffer) t.send(data, true);
    else if (ArrayBuffer.isView(data)) t.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), true);
    else if (data instanceof SharedArrayBuffer) t.send(new Uint8Array(data).slice(), true);
    // Blobs were read before they got here (flushQueue): this is a value outside SendData from a
    // JavaScript app (a number, say), sent as its string as browsers do.
    else t.send(String(data as unknown), false);
  }

  /** A Blob is read before it goes out; whatever is sent after it waits its turn. */
  private enqueue(data: SendData): void {
    const size =
      typeof data === 'string'
        ? Buffer.byteLength(data)
        : data instanceof Blob
          ? data.size
          : (data as ArrayBuffer).byteLength;
    this.queuedBytes += size;
    if (this.queue !== null) {
      this.queue.push(data);
      return;
    }
    this.queue = [data];
    void this.flushQueue();
  }

  private async flushQueue(): Promise<void> {
    const q = this.queue!;
    while (q.length > 0) {
      const next = q.shift()!;
      const data = next instanceof Blob ? await next.arrayBuffer() : next;
      this.queuedBytes -= typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBuffer).byteLength;
      this.write(data);
    }
    this.queue = null;
    this.queuedBytes = 0;
  }

  close(code?: number, reason?: string): void {
    if (code !== undefined) code = Number(code);
    checkCloseArgs(code, reason);
    this.closeWith(code ?? 1000, reason ?? '');
  }

  /** Start the closing handshake (any code: the server's own 1001, 1009...). */
  closeWith(code: number, reason: string): void {
    if (this.readyState >= 2) return;
    if (this.readyState === 0) {
      this.closeAsked = [code, reason];
      return;
    }
    this.readyState = 2;
    this.transport?.close(code, reason);
  }

  // --- What the engines call. ---

  /** @internal The handshake is done. */
  opened(transport: Transport, hub: WebSocketHub): void {
    if (this.readyState !== 0) {
      transport.terminate();
      return;
    }
    this.transport = transport;
    this.hub = hub;
    this.readyState = 1;
    hub.add(this);
    this.dispatchEvent(new Event('open'));
    const asked = this.closeAsked ?? (hub.goingAway ? GOING_AWAY : null);
    if (asked !== null && this.readyState === 1) this.closeWith(asked[0], asked[1]);
  }

  /** @internal A message from the client: text, or the bytes of a binary message (the caller's copy). */
  received(data: string | Uint8Array): void {
    this.heard = true;
    if (this.readyState === 3) return;
    let value: string | ArrayBuffer | Blob;
    if (typeof data === 'string') value = data;
    else if (this.binaryType === 'blob') value = new Blob([data as Uint8Array<ArrayBuffer>]);
    else
      value =
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    if (this.messageListened) this.dispatchEvent(new MessageEvent('message', { data: value }));
    else {
      // onmessage is the only listener, if any: called as dispatch would call it, without dispatch.
      const h = this.handlers.message;
      if (h !== null) new LightMessageEvent(this, value).deliver(h as (this: EventTarget, ev: Event) => unknown);
    }
  }

  /** @internal Any frame from the client (a pong, say) shows it is alive. */
  alive(): void {
    this.heard = true;
  }

  /** @internal The engine failed the connection (a protocol error, a message too big). */
  failed(message: string, error?: unknown): void {
    if (this.readyState === 3) return;
    this.dispatchEvent(new (errorEventClass())('error', { message, error }));
  }

  /** @internal The connection is closed; `wasClean`: after a closing handshake. */
  closed(code: number, reason: string, wasClean: boolean): void {
    if (this.closeEventSent) return;
    this.closeEventSent = true;
    this.readyState = 3;
    this.transport = null;
    this.queue = null;
    this.queuedBytes = 0;
    this.hub?.remove(this);
    // Never from inside the app's own close() (uWS reports the close from there): a turn later, as Deno does.
    queueMicrotask(() => this.dispatchEvent(new (closeEventClass())('close', { code, reason, wasClean })));
  }

  /** @internal Idle timeout passed with no answer to the ping: close 1001, and say why. */
  timedOut(): void {
    const reason = 'No response from ping frame.';
    if (this.readyState !== 1) return;
    this.failed(reason);
    this.closeWith(1001, reason);
  }

  /** @internal Cut now (graceful_timeout passed). */
  terminate(): void {
    const t = this.transport;
    if (t !== null) t.terminate();
    this.closed(1006, '', false);
  }

  /** @internal The app answered the upgrade request with another response: the socket never opens. */
  abandon(): void {
    if (this.readyState === 0) this.closed(1006, '', false);
  }

  /** @internal A ping goes out. */
  ping(): void {
    this.transport?.ping();
  }
}

const GOING_AWAY: [number, string] = [1001, 'Server is shutting down'];

/** The open WebSockets of one bind: counted, pinged when idle, closed with 1001 at graceful stop. */
export class WebSocketHub {
  private readonly open = new Set<QilinWebSocket>();
  private idleTimer: NodeJS.Timeout | null = null;
  private emptyWaiter: (() => void) | null = null;
  goingAway = false;

  /** @param maxMessageSize websocket_max_message_size: the largest message a client may send, in bytes. */
  constructor(readonly maxMessageSize: number) {}

  get size(): number {
    return this.open.size;
  }

  add(ws: QilinWebSocket): void {
    this.open.add(ws);
    if (ws.idleMs > 0) {
      ws.quietSince = Date.now();
      this.idleTimer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    }
  }

  remove(ws: QilinWebSocket): void {
    if (!this.open.delete(ws)) return;
    if (this.open.size === 0) {
      if (this.idleTimer !== null) {
        clearInterval(this.idleTimer);
        this.idleTimer = null;
      }
      const w = this.emptyWaiter;
      if (w !== null) {
        this.emptyWaiter = null;
        w();
      }
    }
  }

  /**
   * Idle timeouts, Deno's way, checked every SWEEP_MS: quiet for half the timeout → a ping; quiet
   * for the other half too → closed. A frame from the client only sets a flag (no timer per message).
   */
  private sweep(): void {
    const now = Date.now();
    for (const ws of this.open) {
      if (ws.idleMs === 0 || ws.readyState !== 1) continue;
      if (ws.heard) {
        ws.heard = false;
        ws.quietSince = now;
        ws.pingedAt = 0;
        continue;
      }
      const half = ws.idleMs / 2;
      if (ws.pingedAt === 0) {
        if (now - ws.quietSince >= half) {
          ws.pingedAt = now;
          ws.ping();
        }
      } else if (now - ws.pingedAt >= half) {
        ws.timedOut();
      }
    }
  }

  /** Graceful stop: every open socket, and each one that opens from now on, gets a close frame with 1001. */
  goAway(): void {
    this.goingAway = true;
    for (const ws of [...this.open]) ws.closeWith(GOING_AWAY[0], GOING_AWAY[1]);
  }

  /** Resolves when no socket is open. */
  whenEmpty(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.emptyWaiter;
      this.emptyWaiter = () => {
        prev?.();
        resolve();
      };
    });
  }

  /** Cut every socket left. */
  terminate(): void {
    for (const ws of [...this.open]) ws.terminate();
    if (this.idleTimer !== null) {
      clearInterval(this.idleTimer);
      this.idleTimer = null;
    }
  }
}

const SWEEP_MS = 500;

/** The socket an upgrade response stands for, when `r` is one. */
export function socketOfResponse(ws: QilinWebSocket, r: unknown): QilinWebSocket | null {
  return ws[kResponse] === r ? ws : null;
}

/** The app's own headers on an upgrade response, beside the handshake's: [name, value, ...]. */
export function extraHeaders(r: Response): string[] {
  const out: string[] = [];
  r.headers.forEach((value, name) => {
    if (!HANDSHAKE_HEADERS.has(name) && name !== 'set-cookie') out.push(name, value);
  });
  for (const c of r.headers.getSetCookie()) out.push('set-cookie', c); // each its own field
  return out;
}

/**
 * Deno.upgradeWebSocket: check that `request` asks for a WebSocket, and give the socket and the
 * 101 response the app must return for the upgrade to happen. Throws a TypeError when the request
 * is not a valid WebSocket upgrade (or not one qilin is serving).
 */
export function upgradeWebSocket(request: Request, options: UpgradeWebSocketOptions = {}): WebSocketUpgrade {
  const r = servedRequest(request);
  if (r === null) throw new TypeError('upgradeWebSocket: the request must be the one qilin gave the app');
  const ex = ownerOf(r) as UpgradeOwner;
  if (r.method !== 'GET') throw new TypeError(`Invalid method: a WebSocket upgrade is a GET request, not ${r.method}`);
  if (!hasToken(ex.header('upgrade'), 'websocket'))
    throw new TypeError("Invalid Header: 'upgrade' header must contain 'websocket'");
  if (!hasToken(ex.header('connection'), 'upgrade'))
    throw new TypeError("Invalid Header: 'connection' header must contain 'Upgrade'");
  const key = ex.header('sec-websocket-key');
  if (key === null) throw new TypeError("Invalid Header: 'sec-websocket-key' header must be set");
  if (!KEY.test(key)) throw new TypeError("Invalid Header: 'sec-websocket-key' header must be 16 bytes in base64");
  if (ex.header('sec-websocket-version') !== '13')
    throw new TypeError("Invalid Header: 'sec-websocket-version' header must be '13'");
  const protocol = options.protocol ?? '';
  if (protocol !== '') {
    const offered = (ex.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(protocol)) {
      throw new TypeError(`Protocol '${protocol}' not in the request's protocol list (non negotiable)`);
    }
  }
  const idleTimeout = options.idleTimeout ?? 30;
  if (typeof idleTimeout !== 'number' || !(idleTimeout >= 0))
    throw new TypeError(`idleTimeout must be a number of seconds >= 0, not ${String(idleTimeout)}`);
  if (ex.upgrader === null) throw new TypeError('Invalid request: this connection cannot be upgraded to a WebSocket');
  if (ex.websocket !== null) throw new TypeError('upgradeWebSocket was called already for this request');

  const socket = new QilinWebSocket(r.url, protocol, idleTimeout);
  const headers: [string, string][] = [
    ['upgrade', 'websocket'],
    ['connection', 'Upgrade'],
    ['sec-websocket-accept', sha1(key + GUID)],
  ];
  if (protocol !== '') headers.push(['sec-websocket-protocol', protocol]);
  const response = new Response(null, { headers });
  // The fetch API allows no 101 in a Response it makes; Deno's upgrade response is one all the same.
  Object.defineProperties(response, {
    status: { value: 101 },
    statusText: { value: 'Switching Protocols' },
    ok: { value: false },
  });
  socket[kResponse] = response;
  ex.websocket = socket;
  return { socket, response };
}
