// A light `Response`: it keeps status, headers and body as the app gave them, and builds the
// platform Response only for bodies it does not serve itself (Blob, FormData, URLSearchParams...).
// It behaves as the platform's class does (the web-platform-tests of test/wpt hold it to that):
// the constructor checks what undici checks, and a body is read once, as the spec's "disturbed"
// and "locked" say.
//
// What real middleware does must stay on the fast path (Hono's cors(), secureHeaders(), etag()):
// - `headers` is a live `Headers`, built once on first read and then the one the writer sends;
// - `body` of a string/bytes body is a stream that remembers its source, so re-wrapping an unread
//   response, `new Response(res.body, res)`, is again a plain string/bytes response;
// - `text()`, `json()`, `clone()`... of a plain body are served here.
// `instanceof Response` holds for light and platform responses alike.
import { Readable } from 'node:stream';
import { formatWithOptions, inspect, type InspectOptions } from 'node:util';
import { checkHeadersInit, checkStatusText } from './fields.js';
import { LightHeaders } from './headers.js';
import { nativeResponse, registerResponseClass } from './platform.js';
import { nodeHttp } from '../ops/node-http.js';

const kBody = Symbol('qilin.body');
const kStatus = Symbol('qilin.status');
const kStatusText = Symbol('qilin.statusText');
const kHeaders = Symbol('qilin.headers');
const kNative = Symbol('qilin.native');
const kStream = Symbol('qilin.stream');
const kUsed = Symbol('qilin.used');
const kHeadLength = Symbol('qilin.headLength');
const kOwnHeaders = Symbol('qilin.ownHeaders');
const kSource = Symbol('qilin.streamSource');

/** Bodies the writer sends as they are. */
export type PlainBody = string | Uint8Array | ArrayBuffer;

export const TEXT_PLAIN = 'text/plain;charset=UTF-8';

/** The plain source behind a stream that `body` handed out, and the platform stream once one was needed. */
interface StreamSource {
  readonly body: PlainBody;
  real: ReadableStream<Uint8Array> | undefined;
}

export function isPlainBody(b: unknown): b is PlainBody {
  return typeof b === 'string' || b instanceof Uint8Array || b instanceof ArrayBuffer;
}

/** A `Headers`, told by its shape: naming the class would load the platform's fetch classes. */
export function isHeaders(h: unknown): h is Headers {
  return typeof (h as Headers | undefined)?.getSetCookie === 'function';
}

/** A ReadableStream, told by its shape (see isHeaders). */
export function isStream(b: unknown): b is ReadableStream<Uint8Array> {
  return typeof (b as ReadableStream | null)?.getReader === 'function';
}

/** The source of a stream `body` handed out (see lazyStream), else undefined. */
function sourceOf(s: unknown): StreamSource | undefined {
  return typeof s === 'object' && s !== null ? (s as Record<symbol, StreamSource | undefined>)[kSource] : undefined;
}

/** Read from or cancelled (the spec's "disturbed"), or locked to a reader: its bytes are not all there to take. */
export function isUnusable(s: ReadableStream): boolean {
  const source = sourceOf(s);
  if (source !== undefined && source.real === undefined) return false; // nobody has touched it
  return s.locked || Readable.isDisturbed(s as never);
}

function bytesOf(b: PlainBody): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b) : b instanceof ArrayBuffer ? new Uint8Array(b) : b;
}

/** The bytes of a plain body in an ArrayBuffer of their own (a byte stream takes the buffer it is given). */
function ownBytes(b: PlainBody): Uint8Array {
  return typeof b === 'string'
    ? new TextEncoder().encode(b)
    : b instanceof ArrayBuffer
      ? new Uint8Array(b.slice(0))
      : b.slice();
}

export function byteLength(b: PlainBody): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength;
}

/** A one-chunk byte stream of a plain body; pulled only when someone reads it. */
function byteStream(body: PlainBody): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: 'bytes',
    pull(controller) {
      const bytes = ownBytes(body);
      if (bytes.byteLength > 0) controller.enqueue(bytes as Uint8Array<ArrayBuffer>);
      controller.close();
    },
  }) as ReadableStream<Uint8Array>;
}

/** The platform stream behind a lazy one, made on first need. */
function realStream(target: object): ReadableStream<Uint8Array> {
  const source = (target as Record<symbol, StreamSource>)[kSource]!;
  return (source.real ??= byteStream(source.body));
}

/**
 * The lazy stream's traps. A stream's methods (from ReadableStream.prototype) are handed out as they
 * are; the first touch of its state (the platform's internal fields, `locked`, any property set)
 * makes the platform stream, and from then on every access goes to it. Methods called on the
 * proxy reach that state through these traps, so Node's own code (Readable.fromWeb, pipeTo,
 * undici's fetch and Response) takes it as a stream. Only a transfer (postMessage,
 * structuredClone's transfer list) refuses it: a native check no proxy passes.
 */
const lazyTraps: ProxyHandler<object> = {
  get(target, key): unknown {
    const source = (target as Record<symbol, StreamSource>)[kSource]!;
    if (key === kSource) return source;
    if (source.real === undefined && typeof STREAM_METHODS![key as string] === 'function')
      return STREAM_METHODS![key as string];
    const real = realStream(target);
    return Reflect.get(real, key, real) as unknown;
  },
  set(target, key, value) {
    const real = realStream(target);
    return Reflect.set(real, key, value, real);
  },
  has(target, key) {
    return key === kSource || Reflect.has(realStream(target), key);
  },
};

/** ReadableStream.prototype's methods by name (and Symbol.asyncIterator), read once the first lazy stream is made. */
let STREAM_METHODS: Record<string | symbol, unknown> | null = null;

/**
 * The stream `body` hands out for a plain body. Most never get read as a stream: Hono's `set res`
 * re-wraps every response as `new Response(res.body, res)`, which takes the plain body back
 * (unwrap). Making the platform's byte stream costs 8–11 µs on Node 24 and 25–40 µs on Node 20
 * (measured), a large part of such a request; this proxy costs well under one until something
 * touches the stream's state (see lazyTraps). `instanceof ReadableStream` holds (its target's
 * prototype is the platform's), and inspecting it shows the platform stream.
 */
function lazyStream(body: PlainBody): ReadableStream<Uint8Array> {
  if (STREAM_METHODS === null) {
    const proto = ReadableStream.prototype as unknown as Record<string | symbol, unknown>;
    STREAM_METHODS = Object.create(null) as Record<string | symbol, unknown>;
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      if (typeof d.value === 'function' && key !== 'constructor') STREAM_METHODS[key] = d.value;
    }
  }
  const target = Object.create(ReadableStream.prototype) as Record<symbol, StreamSource>;
  target[kSource] = { body, real: undefined };
  return new Proxy(target, lazyTraps) as unknown as ReadableStream<Uint8Array>;
}

/** The stream of a body read to its end: disturbed and locked, as after the spec's "fully read". */
function spentStream(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream({
    type: 'bytes',
    start(c) {
      c.close();
    },
  }) as ReadableStream<Uint8Array>;
  void stream.getReader().read();
  return stream;
}

/** The plain body behind one of our streams that nobody has read or locked, else the stream itself. */
function unwrap(body: unknown): unknown {
  const source = sourceOf(body);
  if (source === undefined || isUnusable(body as ReadableStream)) return body;
  return source.body;
}

/** WebIDL `unsigned short`, then the Response constructor's range. */
function checkStatus(value: unknown): number {
  let status = Number(value);
  status = Number.isFinite(status) ? Math.trunc(status) % 65536 : 0;
  if (status < 0) status += 65536;
  if (status < 200 || status > 599) {
    throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${status})`);
  }
  return status;
}

/** Statuses whose responses have no body (the fetch spec's null body status). */
const isNullBodyStatus = (s: number) => s === 101 || s === 103 || s === 204 || s === 205 || s === 304;

const unusable = () => new TypeError('Body is unusable: Body has already been read');

/** Every chunk of a stream, as one buffer; the stream stays locked (as the spec's "fully read"). */
async function readStream(stream: ReadableStream<unknown>): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) throw new TypeError('Received non-Uint8Array chunk');
    parts.push(value);
    total += value.byteLength;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** UTF-8 decode, a leading byte order mark dropped (the Encoding spec's "UTF-8 decode"). */
function utf8(b: PlainBody): string {
  if (typeof b === 'string') return b.charCodeAt(0) === 0xfeff ? b.slice(1) : b;
  const u = bytesOf(b);
  const buf = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf
    ? buf.toString('utf8', 3)
    : buf.toString('utf8');
}

/** A copy in an ArrayBuffer of its own (the app may keep and change what it is given). */
function copyToArrayBuffer(b: PlainBody | null): ArrayBuffer {
  if (b === null) return new ArrayBuffer(0);
  if (typeof b === 'string') return new TextEncoder().encode(b).buffer as ArrayBuffer;
  const u = bytesOf(b);
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/** A Content-Type value as a Blob's type: the MIME type's essence and parameters, or '' when it is none. */
function blobType(contentType: string | null): string {
  if (contentType === null) return '';
  const [essence, ...params] = contentType.split(';');
  if (!/^\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*$/.test(essence!)) return '';
  const kept = params
    .map((p) => p.trim())
    .filter((p) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=/.test(p))
    .map((p) => {
      const i = p.indexOf('=');
      return p.slice(0, i).toLowerCase() + p.slice(i);
    });
  return [essence!.trim().toLowerCase(), ...kept].join(';');
}

export class LightResponse {
  /** null, a plain body, a ReadableStream, or another BodyInit the platform class handles. */
  [kBody]: unknown;
  [kStatus]: number;
  [kStatusText]: string;
  /** As given (checked); our own `Headers` once `headers` was read (then that one object is the truth). */
  [kHeaders]: HeadersInit | undefined;
  /** kHeaders is a `Headers` this response made (not one the app passed in, which may be shared). */
  [kOwnHeaders]: boolean;
  [kNative]: Response | undefined;
  /** The stream `body` handed out for a plain body. */
  [kStream]: ReadableStream<Uint8Array> | undefined;
  /** A plain body was read by text(), json()... (a stream's own state says it for a stream). */
  [kUsed]: boolean;
  /** For a bodiless response made from another one (Hono's HEAD): the length that one's body has. */
  [kHeadLength]: number;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const b: unknown =
      body === undefined || body === null
        ? null
        : typeof body === 'string'
          ? body
          : // WebIDL: any other value is a USVString, a String object too (Hono's html`` gives one).
            typeof body === 'object' && !(body instanceof String)
            ? unwrap(body)
            : String(body);
    if (isStream(b) && isUnusable(b)) throw new TypeError('Response body object should not be disturbed or locked');
    this[kBody] = b;
    this[kStatus] = 200;
    this[kStatusText] = '';
    this[kHeaders] = undefined;
    this[kNative] = undefined;
    this[kStream] = undefined;
    this[kUsed] = false;
    this[kHeadLength] = -1;
    this[kOwnHeaders] = false;
    if (init === undefined || init === null) return;
    if (typeof init !== 'object' && typeof init !== 'function') {
      throw new TypeError('Response constructor: Expected init to be a dictionary.');
    }
    if (init.status !== undefined) this[kStatus] = checkStatus(init.status);
    if (init.statusText !== undefined) this[kStatusText] = checkStatusText(String(init.statusText));
    if (b !== null && isNullBodyStatus(this[kStatus])) {
      throw new TypeError(`Response constructor: Invalid response status code ${this[kStatus]}`);
    }
    const headers = init.headers;
    if (isLight(init) && init[kNative] === undefined) {
      // A Response as init (`new Response(res.body, res)`): its headers are copied, as the spec says,
      // from the source, without building the old response's own Headers first.
      this[kHeaders] = ownHeaders(init[kHeaders], init[kBody]);
      this[kOwnHeaders] = true;
      if (b === null) this[kHeadLength] = lengthOf(init as unknown as Response);
    } else if (isLight(init) || isResponseLike(init)) {
      if (headers !== undefined) {
        this[kHeaders] = new LightHeaders(headers) as unknown as Headers;
        this[kOwnHeaders] = true;
      }
    } else if (headers !== undefined) {
      // Kept as given (a Headers may be shared between responses: copied on first read), while the
      // writer sends it as it is. Checked now, as `new Headers(init)` would: a bad name or value is
      // the app's TypeError here, not a broken response later.
      if (!isHeaders(headers)) checkHeadersInit(headers);
      this[kHeaders] = headers;
    }
  }

  // `x instanceof Response` holds for light and platform responses alike.
  static [Symbol.hasInstance](this: unknown, v: unknown): boolean {
    if (this !== LightResponse) return Function.prototype[Symbol.hasInstance].call(this, v); // a subclass
    return isLight(v) || v instanceof nativeResponse();
  }

  static json(data: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    if (body === undefined) throw new TypeError('Response.json: value is not JSON serializable');
    if (init === undefined || init === null || init.headers === undefined) {
      return new LightResponse(body, {
        status: init?.status,
        statusText: init?.statusText,
        headers: JSON_HEADERS,
      }) as unknown as Response;
    }
    const headers = new LightHeaders(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(body, {
      status: init.status,
      statusText: init.statusText,
      headers,
    }) as unknown as Response;
  }
  static error(): Response {
    return nativeResponse().error();
  }
  static redirect(url: string | URL, status?: number): Response {
    return nativeResponse().redirect(url, status);
  }

  get status(): number {
    return this[kNative]?.status ?? this[kStatus];
  }
  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s < 300;
  }
  get statusText(): string {
    return this[kNative]?.statusText ?? this[kStatusText];
  }
  get type(): ResponseType {
    return this[kNative]?.type ?? 'default';
  }
  get url(): string {
    return this[kNative]?.url ?? '';
  }
  get redirected(): boolean {
    return this[kNative]?.redirected ?? false;
  }

  get headers(): Headers {
    const native = this[kNative];
    if (native) return native.headers;
    if (this[kOwnHeaders]) return this[kHeaders] as Headers;
    const b = this[kBody];
    // Blob, FormData, URLSearchParams bodies set their own Content-Type: the platform object knows it.
    if (b !== null && !isPlainBody(b) && !isStream(b)) return toNative(this).headers;
    this[kOwnHeaders] = true;
    return (this[kHeaders] = ownHeaders(this[kHeaders], b));
  }

  get body(): ReadableStream<Uint8Array> | null {
    const native = this[kNative];
    if (native) return native.body;
    const b = this[kBody];
    if (b === null) return null;
    if (isPlainBody(b)) return (this[kStream] ??= this[kUsed] ? spentStream() : lazyStream(b));
    if (isStream(b)) return b;
    return toNative(this).body;
  }

  get bodyUsed(): boolean {
    const native = this[kNative];
    if (native) return native.bodyUsed;
    if (this[kUsed]) return true;
    const s = this[kStream] ?? this[kBody];
    const source = sourceOf(s);
    if (source !== undefined && source.real === undefined) return false;
    return isStream(s) && Readable.isDisturbed(s as never);
  }

  /**
   * The whole body for the readers below (null for none), or undefined when the platform object
   * must read it (a Blob, FormData... body). Marks it read; throws when it cannot be read.
   */
  private take(): PlainBody | null | Promise<Uint8Array> | undefined {
    if (this[kNative] !== undefined) return undefined;
    const b = this[kBody];
    if (b === null) return null;
    if (this[kUsed]) throw unusable();
    const s = this[kStream] ?? b;
    const source = sourceOf(s);
    if (source !== undefined && source.real === undefined) {
      // The stream handed out was never touched: the plain body is read, and the stream is spent.
      source.real = spentStream();
      this[kUsed] = true;
      return source.body;
    }
    if (isStream(s)) {
      if (isUnusable(s)) throw unusable();
      return readStream(s);
    }
    if (!isPlainBody(b)) return undefined;
    this[kUsed] = true;
    return b;
  }

  async text(): Promise<string> {
    const b = this.take();
    if (b === undefined) return toNative(this).text();
    if (b === null) return '';
    return utf8(isPlainBody(b) ? b : await b);
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.take();
    if (b === undefined) return toNative(this).arrayBuffer();
    return copyToArrayBuffer(b === null || isPlainBody(b) ? b : await b);
  }
  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }
  async blob(): Promise<Blob> {
    const b = this.take();
    if (b === undefined) return toNative(this).blob();
    const type = blobType(this.headers.get('content-type'));
    return new Blob([copyToArrayBuffer(b === null || isPlainBody(b) ? b : await b)], { type });
  }
  async formData(): Promise<FormData> {
    if (this.bodyUsed || (this.body?.locked ?? false)) throw unusable();
    return toNative(this).formData();
  }

  clone(): Response {
    const native = this[kNative];
    if (native !== undefined) return native.clone();
    const b = this[kBody];
    const s = this[kStream] ?? b;
    if (this[kUsed] || (isStream(s) && isUnusable(s)))
      throw new TypeError('Response.clone: Body has already been consumed.');
    if (b !== null && !isPlainBody(b) && !isStream(b)) return toNative(this).clone();
    const copy = new LightResponse(null, undefined);
    if (isStream(b)) {
      const [mine, theirs] = b.tee();
      this[kBody] = mine;
      copy[kBody] = clonedChunks(theirs);
    } else {
      copy[kBody] = b;
    }
    copy[kStatus] = this[kStatus];
    copy[kStatusText] = this[kStatusText];
    copy[kHeaders] = ownHeaders(this[kHeaders], b);
    copy[kOwnHeaders] = true;
    copy[kHeadLength] = this[kHeadLength];
    return copy as unknown as Response;
  }

  /** What Node shows for its own Response. */
  [inspect.custom](depth: number, options: InspectOptions): string {
    const shown = {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
      body: this.body,
      bodyUsed: this.bodyUsed,
      ok: this.ok,
      redirected: this.redirected,
      type: this.type,
      url: this.url,
    };
    return `Response ${formatWithOptions({ ...options, depth: options.depth ?? depth }, shown)}`;
  }
}
Object.defineProperty(LightResponse.prototype, Symbol.toStringTag, { value: 'Response', configurable: true });
Object.defineProperty(LightResponse, 'name', { value: 'Response' });

/**
 * The clone's branch of a teed body: each chunk structured-cloned (the fetch spec tees a body with
 * cloneForBranch2), so that a reader changing its chunks in place cannot change the other's.
 * Pulled only when read, as the branch itself.
 */
function clonedChunks(branch: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = branch.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(structuredClone(value));
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** A `Headers` of our own from what was given, with the default Content-Type of a string body. */
function ownHeaders(source: HeadersInit | undefined, body: unknown): Headers {
  const h = new LightHeaders(source) as unknown as Headers;
  if (typeof body === 'string' && !h.has('content-type')) h.set('content-type', TEXT_PLAIN);
  return h;
}

/** A light response (checked without `instanceof`, which would load the platform classes). */
function isLight(v: unknown): v is LightResponse {
  return typeof v === 'object' && v !== null && kNative in v;
}

/** `new Response(x, res)` with a platform Response as init (a light one is checked by class). */
function isResponseLike(init: object): boolean {
  return typeof (init as Response).clone === 'function' && 'bodyUsed' in init;
}

/** Length of a response's body when it is known without reading it (-1 otherwise). */
function lengthOf(r: Response): number {
  if (isLight(r) && r[kNative] === undefined) {
    const b = r[kStream] === undefined ? r[kBody] : unwrap(r[kStream]);
    if (isPlainBody(b)) return byteLength(b);
    return r[kHeadLength];
  }
  return -1;
}

/** The platform Response behind a light one, built once; from then on it answers for both. */
export function toNative(r: LightResponse): Response {
  let n = r[kNative];
  if (n) return n;
  const b = r[kStream] ?? r[kBody];
  n = new (nativeResponse())(b as BodyInit | null, {
    status: r[kStatus],
    statusText: r[kStatusText],
    headers: r[kHeaders],
  });
  return (r[kNative] = n);
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' }) as Record<string, string>;

registerResponseClass(LightResponse, LightResponse.prototype, toNative as (self: never) => object);

/** What the writer sends, read without building anything. */
export interface ResponseParts {
  status: number;
  statusText: string;
  headers: HeadersInit | undefined;
  /** null, a plain body or a stream. */
  body: PlainBody | ReadableStream<Uint8Array> | null;
  /** For HEAD when the body is null: the length the GET would have, or -1. */
  headLength: number;
}

/**
 * The light response's parts when the writer can send them itself, or null when it must go the
 * general way (the platform object was built, the body is a Blob, FormData..., or it was read).
 */
export function lightParts(r: unknown, out: ResponseParts): ResponseParts | null {
  if (!isLight(r) || r[kNative] !== undefined || r[kUsed]) return null;
  let b = r[kBody];
  if (r[kStream] !== undefined) b = unwrap(r[kStream]);
  if (b !== null && !isPlainBody(b) && !isStream(b)) return null;
  out.status = r[kStatus];
  out.statusText = r[kStatusText];
  out.headers = r[kHeaders];
  out.body = b as ResponseParts['body'];
  out.headLength = r[kHeadLength];
  return out;
}

const STATUS_LINES = new Map<number, string>();
for (const [code, reason] of Object.entries(nodeHttp.STATUS_CODES)) STATUS_LINES.set(Number(code), `${code} ${reason}`);

/** `200 OK`, from a table built once. */
export function statusLine(status: number, statusText?: string): string {
  if (statusText) return `${status} ${statusText}`;
  return STATUS_LINES.get(status) ?? `${status} Unknown`;
}
