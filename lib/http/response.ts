// A light `Response`: it keeps status, headers and body as the app gave them, and builds the
// platform Response only for what it does not serve itself (FormData, Blob bodies, ...).
//
// What real middleware does must stay on the fast path (Hono's cors(), secureHeaders(), etag()):
// - `headers` is a live `Headers`, built once on first read and then the one the writer sends;
// - `body` of a string/bytes body is a stream that remembers its source, so re-wrapping an unread
//   response, `new Response(res.body, res)`, is again a plain string/bytes response;
// - `text()`, `json()`, `clone()`... of a plain body are served here.
// `instanceof Response` holds for light and platform responses alike.
import { STATUS_CODES } from 'node:http';
import { forwardMembers } from './delegate.js';
import { nativeResponse, registerResponseClass } from './platform.js';

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

/** The plain source behind a stream that `body` handed out. */
interface StreamSource {
  readonly body: PlainBody;
  pulled: boolean;
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

function bytesOf(b: PlainBody): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b) : b instanceof ArrayBuffer ? new Uint8Array(b) : b;
}

export function byteLength(b: PlainBody): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength;
}

/** A one-chunk stream of a plain body; pulled only when someone reads it. */
function sourceStream(body: PlainBody): ReadableStream<Uint8Array> {
  const source: StreamSource = { body, pulled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      source.pulled = true;
      const bytes = bytesOf(body);
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  }, { highWaterMark: 0 });
  (stream as unknown as Record<symbol, StreamSource>)[kSource] = source;
  return stream;
}

/** The plain body behind one of our streams that nobody has read or locked, else the stream itself. */
function unwrap(body: unknown): unknown {
  const source = (body as Record<symbol, StreamSource | undefined>)[kSource];
  if (source === undefined || source.pulled || (body as ReadableStream).locked) return body;
  return source.body;
}

function checkStatus(value: unknown): number {
  const status = Number(value); // WebIDL: `{ status: '201' }` is 201
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${status})`);
  }
  return status;
}

export class LightResponse {
  /** null, a plain body, a ReadableStream, or another BodyInit the platform class handles. */
  [kBody]: unknown;
  [kStatus]: number;
  [kStatusText]: string;
  /** As given; our own `Headers` once `headers` was read (then that one object is the truth). */
  [kHeaders]: HeadersInit | undefined;
  /** kHeaders is a `Headers` this response made (not one the app passed in, which may be shared). */
  [kOwnHeaders]: boolean;
  [kNative]: Response | undefined;
  /** The stream `body` handed out for a plain body. */
  [kStream]: ReadableStream<Uint8Array> | undefined;
  [kUsed]: boolean;
  /** For a bodiless response made from another one (Hono's HEAD): the length that one's body has. */
  [kHeadLength]: number;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const b: unknown = body === undefined || body === null ? null : typeof body === 'object' ? unwrap(body) : body;
    if (isStream(b) && b.locked) throw new TypeError('Response body object should not be disturbed or locked');
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
    if (init.status !== undefined) this[kStatus] = checkStatus(init.status);
    if (init.statusText !== undefined) this[kStatusText] = String(init.statusText);
    const headers = init.headers;
    if (isLight(init) && init[kNative] === undefined) {
      // A Response as init (`new Response(res.body, res)`): its headers are copied, as the spec says,
      // from the source, without building the old response's own Headers first.
      this[kHeaders] = ownHeaders(init[kHeaders], init[kBody]);
      this[kOwnHeaders] = true;
      if (b === null) this[kHeadLength] = lengthOf(init as unknown as Response);
    } else if (isLight(init) || isResponseLike(init)) {
      if (headers !== undefined) { this[kHeaders] = new Headers(headers); this[kOwnHeaders] = true; }
    } else {
      // Kept as given; copied on first read (a Headers may be shared between responses), while the
      // writer sends an unread one as it is.
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
    if (init?.headers === undefined) {
      return new LightResponse(body, { status: init?.status, statusText: init?.statusText, headers: JSON_HEADERS }) as unknown as Response;
    }
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(body, { status: init.status, statusText: init.statusText, headers }) as unknown as Response;
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
    if (isPlainBody(b)) return (this[kStream] ??= sourceStream(b));
    if (isStream(b)) return b;
    return toNative(this).body;
  }

  get bodyUsed(): boolean {
    const native = this[kNative];
    if (native) return native.bodyUsed;
    if (this[kUsed]) return true;
    const s = this[kStream] ?? this[kBody];
    return isStream(s) && ((s as unknown as Record<symbol, StreamSource | undefined>)[kSource]?.pulled ?? s.locked);
  }

  /** The plain body for the readers below, or undefined when the platform object must serve them. */
  private plainToRead(): PlainBody | null | undefined {
    if (this[kNative] !== undefined || this[kStream] !== undefined) return undefined;
    const b = this[kBody];
    if (b !== null && !isPlainBody(b)) return undefined;
    if (this[kUsed]) throw new TypeError('Body is unusable: Body has already been read');
    this[kUsed] = true;
    return b;
  }

  async text(): Promise<string> {
    const b = this.plainToRead();
    if (b === undefined) return toNative(this).text();
    return b === null ? '' : typeof b === 'string' ? b : Buffer.from(bytesOf(b)).toString('utf8');
  }
  async json(): Promise<unknown> {
    const b = this.plainToRead();
    if (b === undefined) return toNative(this).json();
    return JSON.parse(b === null ? '' : typeof b === 'string' ? b : Buffer.from(bytesOf(b)).toString('utf8'));
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.plainToRead();
    if (b === undefined) return toNative(this).arrayBuffer();
    const bytes = b === null ? new Uint8Array(0) : bytesOf(b);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  clone(): Response {
    const b = this[kBody];
    if (this[kNative] !== undefined || this[kStream] !== undefined || this[kUsed] || (b !== null && !isPlainBody(b))) {
      return toNative(this).clone();
    }
    const copy = new LightResponse(null, undefined);
    copy[kBody] = b;
    copy[kStatus] = this[kStatus];
    copy[kStatusText] = this[kStatusText];
    copy[kHeaders] = ownHeaders(this[kHeaders], b);
    copy[kOwnHeaders] = true;
    copy[kHeadLength] = this[kHeadLength];
    return copy as unknown as Response;
  }
}

/** A `Headers` of our own from what was given, with the default Content-Type of a string body. */
function ownHeaders(source: HeadersInit | undefined, body: unknown): Headers {
  const h = new Headers(source);
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
  n = new (nativeResponse())(b as BodyInit | null, { status: r[kStatus], statusText: r[kStatusText], headers: r[kHeaders] });
  return (r[kNative] = n);
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' }) as Record<string, string>;

// Every other member is served by the platform object.
forwardMembers(LightResponse.prototype, ['blob', 'formData'], [], toNative);
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
 * The light response's parts when the writer can send them itself, or null when the platform
 * object must (it was built, or the body is a Blob, FormData, URLSearchParams...).
 */
export function lightParts(r: unknown, out: ResponseParts): ResponseParts | null {
  if (!isLight(r) || r[kNative] !== undefined) return null;
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

/** Make `new Response(...)` in app code the light one (as @hono/node-server does). */
export function installLightResponse(): void {
  (globalThis as { Response: unknown }).Response = LightResponse;
}

const STATUS_LINES = new Map<number, string>();
for (const [code, reason] of Object.entries(STATUS_CODES)) STATUS_LINES.set(Number(code), `${code} ${reason}`);

/** `200 OK`, from a table built once. */
export function statusLine(status: number, statusText?: string): string {
  if (statusText) return `${status} ${statusText}`;
  return STATUS_LINES.get(status) ?? `${status} Unknown`;
}
