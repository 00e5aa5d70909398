// The `Request` an app receives: method and URL are plain fields, `headers` is built on first use,
// the body is read straight from the socket, and a platform Request is made only when the app
// asks for what this class does not serve itself (clone(), formData()). `instanceof Request` holds,
// it works as the input of `new Request()` and `fetch()` (lib/http/platform.ts hands those the
// platform object), and it looks like the platform's Request to inspection: no own enumerable
// property, `[object Request]`, Node's `Request { method, url, headers, ... }`.
import { formatWithOptions, inspect, type InspectOptions } from 'node:util';
import type { RequestBody } from './body.js';
import { platformHeaders, requestHeaders } from './headers.js';
import { nativeRequest, registerRequestClass } from './platform.js';

const kMethod = Symbol('qilin.method');
const kAuthority = Symbol('qilin.authority');
const kOwner = Symbol('qilin.owner');
const kScheme = Symbol('qilin.scheme');
const kUrl = Symbol('qilin.url');
const kHeaders = Symbol('qilin.headers');
const kNative = Symbol('qilin.nativeRequest');
/** The body was read (through this class) before the platform Request was made: it has none. */
const kReadBeforeNative = Symbol('qilin.readBeforeNative');

/** Per-request state the request shares with the server side (the exchange). */
export interface RequestOwner {
  readonly body: RequestBody | null;
  /** The bind the request came in on: its scheme starts the URL. */
  readonly context: { readonly scheme: string };
  /** Raw request target, as the client sent it. */
  readonly target: string;
  /** Header names (lower case) and values, flat: [name, value, name, value, ...]. */
  readonly rawHeaders: readonly string[];
  /** AbortSignal made on first use; aborted when the client goes or the worker gives up. */
  signal(): AbortSignal;
}

const unusable = () => new TypeError('Body is unusable: Body has already been read');

/** UTF-8 decode, which drops a leading byte order mark. */
function utf8Text(buf: Buffer): string {
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf
    ? buf.toString('utf8', 3)
    : buf.toString('utf8');
}
const jsonOf = (buf: Buffer): unknown => JSON.parse(utf8Text(buf));

/**
 * A request's body bytes: a promise that rejects, never a throw, as the body methods must (also
 * when one is called on something that is not a request, as the platform's do).
 */
function bytesOf(r: QilinRequest): Promise<Buffer> {
  try {
    const n = r[kNative];
    if (n && !r[kReadBeforeNative]) return n.arrayBuffer().then((ab) => Buffer.from(ab));
    const b = r[kOwner].body;
    return b ? b.readAll() : Promise.resolve(Buffer.alloc(0));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

export class QilinRequest {
  [kMethod]: string;
  /** `host[:port]` from the Host header (or the bind's address). */
  [kAuthority]: string;
  /** The exchange serving it (upgradeWebSocket finds the connection through it). */
  [kOwner]: RequestOwner;
  /** `https` or `http` when a trusted front-end said which (secure_scheme_headers); null: the bind's own. */
  [kScheme]: string | null;
  [kUrl]: string | undefined;
  [kHeaders]: Headers | undefined;
  [kNative]: Request | undefined;
  [kReadBeforeNative]: boolean;

  constructor(method: string, authority: string, owner: RequestOwner) {
    this[kMethod] = method;
    this[kAuthority] = authority;
    this[kOwner] = owner;
    this[kScheme] = null;
    this[kUrl] = undefined;
    this[kHeaders] = undefined;
    this[kNative] = undefined;
    this[kReadBeforeNative] = false;
  }

  get method(): string {
    return this[kMethod];
  }

  get url(): string {
    const owner = this[kOwner];
    // `OPTIONS *` (asterisk-form) has no path: its URL is the server's root with `*` as the path.
    return (this[kUrl] ??=
      (this[kScheme] ?? owner.context.scheme) +
      '://' +
      this[kAuthority] +
      (owner.target === '*' ? '/*' : owner.target));
  }

  get headers(): Headers {
    if (this[kHeaders]) return this[kHeaders];
    const n = this[kNative];
    if (n) return n.headers;
    // Names are lower-case tokens and values passed the request rules: nothing to check again.
    return (this[kHeaders] = requestHeaders(this[kOwner].rawHeaders));
  }

  get signal(): AbortSignal {
    return this[kOwner].signal();
  }

  // What a request that reached a server always has (the platform's defaults): no platform object needed.
  get destination(): RequestDestination {
    return '';
  }
  get referrer(): string {
    return 'about:client';
  }
  get referrerPolicy(): ReferrerPolicy {
    return '';
  }
  get mode(): RequestMode {
    return 'cors';
  }
  get credentials(): RequestCredentials {
    return 'same-origin';
  }
  get cache(): RequestCache {
    return 'default';
  }
  get redirect(): RequestRedirect {
    return 'follow';
  }
  get integrity(): string {
    return '';
  }
  get keepalive(): boolean {
    return false;
  }
  get isReloadNavigation(): boolean {
    return false;
  }
  get isHistoryNavigation(): boolean {
    return false;
  }
  get duplex(): 'half' {
    return 'half';
  }

  // Once the platform Request exists (clone(), formData()...) it owns the body stream: read through it.
  get body(): ReadableStream<Uint8Array> | null {
    const n = this[kNative];
    if (n && !this[kReadBeforeNative]) return n.body;
    const b = this[kOwner].body;
    return b ? b.stream() : null;
  }

  get bodyUsed(): boolean {
    const n = this[kNative];
    if (n && !this[kReadBeforeNative]) return n.bodyUsed;
    return this[kOwner].body?.used ?? false;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const buf = await bytesOf(this);
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }
  // text() and json() chain on bytesOf() rather than await it: a JSON POST's body is whole by the
  // time it is asked for, and each async frame between it and the app is a promise and a turn.
  text(): Promise<string> {
    return bytesOf(this).then(utf8Text);
  }
  json(): Promise<unknown> {
    return bytesOf(this).then(jsonOf);
  }
  async blob(): Promise<Blob> {
    const type = this.headers.get('content-type') ?? '';
    return new Blob([await this.arrayBuffer()], { type: /^[\x20-\x7e]*$/.test(type) ? type : '' });
  }
  async formData(): Promise<FormData> {
    if (this.bodyUsed) throw unusable();
    return toNativeRequest(this).formData();
  }

  clone(): Request {
    if (this.bodyUsed || (this[kOwner].body !== null && this.body!.locked))
      throw new TypeError('Request.clone: Body has already been consumed.');
    return toNativeRequest(this).clone();
  }

  /** What Node shows for its own Request. */
  [inspect.custom](depth: number, options: InspectOptions): string {
    const shown = {
      method: this.method,
      url: this.url,
      headers: this.headers,
      destination: this.destination,
      referrer: this.referrer,
      referrerPolicy: this.referrerPolicy,
      mode: this.mode,
      credentials: this.credentials,
      cache: this.cache,
      redirect: this.redirect,
      integrity: this.integrity,
      keepalive: this.keepalive,
      isReloadNavigation: this.isReloadNavigation,
      isHistoryNavigation: this.isHistoryNavigation,
      signal: this.signal,
    };
    return `Request ${formatWithOptions({ ...options, depth: options.depth ?? depth }, shown)}`;
  }
}
Object.defineProperty(QilinRequest.prototype, Symbol.toStringTag, { value: 'Request', configurable: true });
/**
 * The header lines as the client sent them, in order, names in lower case: [name, value, ...]
 * (`headers` joins repeated names). Under a registered symbol, so that nothing which lists or
 * serialises the request sees it.
 */
Object.defineProperty(QilinRequest.prototype, Symbol.for('qilin.rawHeaders'), {
  configurable: true,
  get(this: QilinRequest) {
    return this[kOwner].rawHeaders;
  },
});

/** A trusted front-end said which scheme the client used (secure_scheme_headers). */
export function setScheme(r: QilinRequest, scheme: string): void {
  r[kScheme] = scheme;
  r[kUrl] = undefined;
}

/** The platform Request with the same method, URL, headers, body and signal, built once. */
export function toNativeRequest(r: QilinRequest): Request {
  let n = r[kNative];
  if (n) return n;
  const owner = r[kOwner];
  // The fields in the order the client sent them, as the platform's own Headers would give them.
  const init: RequestInit & { duplex?: 'half' } = {
    method: r.method,
    headers: platformHeaders(r.headers),
    signal: r.signal,
  };
  // A body already read stays read: the platform object gets none, and this class says it is used.
  if (owner.body !== null && owner.body.used) r[kReadBeforeNative] = true;
  else if (owner.body !== null) {
    init.body = owner.body.stream();
    init.duplex = 'half';
  }
  n = new (nativeRequest())(r.url, init);
  r[kNative] = n;
  lightOf.set(n, r);
  return n;
}

/** The light request a platform one was built from (upgradeWebSocket given `clone()`'s source, say). */
const lightOf = new WeakMap<object, QilinRequest>();

/** The request qilin gave the app, given it or a platform Request made from it; else null. */
export function servedRequest(r: unknown): QilinRequest | null {
  if (r instanceof QilinRequest) return r;
  return typeof r === 'object' && r !== null ? (lightOf.get(r) ?? null) : null;
}

/** The exchange a served request belongs to. */
export function ownerOf(r: QilinRequest): RequestOwner {
  return r[kOwner];
}

/**
 * `new Request(input)` and `fetch(input)` with the request qilin gave the app: the platform's own
 * object in its place (the platform's code reads its own private state). A body read already
 * cannot be the body of another request, as the spec says.
 */
function platformInput(input: unknown): unknown {
  if (!(input instanceof QilinRequest)) return input;
  if (input.bodyUsed)
    throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
  return toNativeRequest(input);
}

/** A Request made from a served one serves the same exchange (upgradeWebSocket after a re-wrap). */
function madeFrom(made: object, input: unknown): void {
  const light = servedRequest(input);
  if (light !== null) lightOf.set(made, light);
}

registerRequestClass(QilinRequest.prototype, toNativeRequest as (self: never) => object, platformInput, madeFrom);
