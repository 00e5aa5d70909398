// The `Request` an app receives: method and URL are plain fields, `headers` is built on first use,
// the body is read straight from the socket, and a platform Request is made only when the app
// touches a member this class does not serve itself. `instanceof Request` holds.
import type { RequestBody } from './body.js';
import { forwardMembers } from './delegate.js';
import { nativeRequest, registerRequestClass } from './platform.js';
const kNative = Symbol('qilin.nativeRequest');

/** Per-request state the request shares with the server side (the exchange). */
export interface RequestOwner {
  readonly body: RequestBody | null;
  /** The listener the request came in on: its scheme starts the URL. */
  readonly listener: { readonly scheme: string };
  /** AbortSignal made on first use; aborted when the client goes or the worker gives up. */
  signal(): AbortSignal;
}

export class QilinRequest {
  readonly method: string;
  /** `host[:port]` from the Host header (or the listener's address). */
  private readonly authority: string;
  /** Raw request target, as the client sent it. */
  readonly target: string;
  /** Header names (lower case) and values, flat: [name, value, name, value, ...]. */
  readonly rawHeaders: string[];
  /** The exchange serving it (upgradeWebSocket finds the connection through it). */
  readonly owner: RequestOwner;
  /** `https` or `http` when a trusted front-end said which (secure_scheme_headers); null: the listener's own. */
  scheme: string | null = null;
  private _url: string | undefined;
  private _headers: Headers | undefined;
  private [kNative]: Request | undefined;

  constructor(method: string, authority: string, target: string, rawHeaders: string[], owner: RequestOwner) {
    this.method = method;
    this.authority = authority;
    this.target = target;
    this.rawHeaders = rawHeaders;
    this.owner = owner;
  }

  get url(): string {
    // `OPTIONS *` (asterisk-form) has no path: its URL is the server's root with `*` as the path.
    return (this._url ??= (this.scheme ?? this.owner.listener.scheme) + '://' + this.authority + (this.target === '*' ? '/*' : this.target));
  }

  get headers(): Headers {
    if (this._headers) return this._headers;
    const h = new Headers();
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
    return (this._headers = h);
  }

  /** One header's value without building `Headers` (several values joined with ", "). */
  header(name: string): string | null {
    const raw = this.rawHeaders;
    let out: string | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === name) out = out === null ? raw[i + 1]! : `${out}, ${raw[i + 1]}`;
    }
    return out;
  }

  get signal(): AbortSignal {
    return this.owner.signal();
  }

  // Once the platform Request exists (clone(), formData()...) it owns the body stream: read through it.
  get body(): ReadableStream<Uint8Array> | null {
    const n = this[kNative];
    if (n) return n.body;
    const b = this.owner.body;
    return b ? b.stream() : null;
  }

  get bodyUsed(): boolean {
    const n = this[kNative];
    if (n) return n.bodyUsed;
    return this.owner.body?.used ?? false;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const buf = await this.bytesBuffer();
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array> {
    const buf = await this.bytesBuffer();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }
  async text(): Promise<string> {
    return (await this.bytesBuffer()).toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], { type: this.header('content-type') ?? '' });
  }

  private async bytesBuffer(): Promise<Buffer> {
    const n = this[kNative];
    if (n) return Buffer.from(await n.arrayBuffer());
    const b = this.owner.body;
    return b ? b.readAll() : Buffer.alloc(0);
  }
}

/** The platform Request with the same method, URL, headers, body and signal, built once. */
export function toNativeRequest(r: QilinRequest): Request {
  let n = r[kNative];
  if (n) return n;
  const body = r.body;
  const init: RequestInit & { duplex?: 'half' } = { method: r.method, headers: r.headers, signal: r.signal };
  if (body) { init.body = body; init.duplex = 'half'; }
  n = new (nativeRequest())(r.url, init);
  r[kNative] = n;
  lightOf.set(n, r);
  return n;
}

/** The light request a platform one was built from (upgradeWebSocket given `clone()`'s source, say). */
const lightOf = new WeakMap<Request, QilinRequest>();

/** The request qilin gave the app, given it or the platform Request built from it; else null. */
export function servedRequest(r: unknown): QilinRequest | null {
  if (r instanceof QilinRequest) return r;
  return typeof r === 'object' && r !== null ? lightOf.get(r as Request) ?? null : null;
}

// Every other member is served by the platform object.
forwardMembers(QilinRequest.prototype, ['clone', 'formData'],
  ['cache', 'credentials', 'destination', 'duplex', 'integrity', 'keepalive', 'mode', 'redirect', 'referrer', 'referrerPolicy'],
  toNativeRequest);
registerRequestClass(QilinRequest.prototype, toNativeRequest as (self: never) => object);
