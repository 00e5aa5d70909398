// A light `Response`: it keeps (body, init) and builds the platform Response only when the app
// touches something that needs one. The writer reads (status, headers, body) straight from it,
// so a plain string or bytes body never goes through a stream. `instanceof Response` holds.
import { STATUS_CODES } from 'node:http';
import { forwardMembers } from './delegate.js';
import { nativeResponse, registerResponseClass } from './platform.js';

const kBody = Symbol('qilin.body');
const kInit = Symbol('qilin.init');
const kNative = Symbol('qilin.native');

/** Bodies the writer sends as they are. Anything else becomes a platform Response. */
export type PlainBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isPlainBody(b: unknown): b is PlainBody {
  return b == null || typeof b === 'string' || b instanceof Uint8Array || b instanceof ArrayBuffer;
}

export class LightResponse {
  [kBody]: BodyInit | null | undefined;
  [kInit]: ResponseInit | undefined;
  [kNative]: Response | undefined;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    this[kBody] = body;
    this[kInit] = init;
    this[kNative] = undefined;
  }

  // `x instanceof Response` holds for light and platform responses alike.
  static [Symbol.hasInstance](v: unknown): boolean {
    return (typeof v === 'object' && v !== null && kNative in v) || v instanceof nativeResponse();
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
    return this[kNative]?.status ?? this[kInit]?.status ?? 200;
  }
  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s < 300;
  }
}

/** The platform Response behind a light one, built once. */
export function toNative(r: LightResponse): Response {
  return (r[kNative] ??= new (nativeResponse())(r[kBody], r[kInit]));
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' }) as Record<string, string>;

// Every other member is served by the platform object.
forwardMembers(LightResponse.prototype,
  ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text'],
  ['body', 'bodyUsed', 'headers', 'redirected', 'statusText', 'type', 'url'], toNative);
registerResponseClass(LightResponse, LightResponse.prototype, toNative as (self: never) => object);

/** The light response itself when the writer can send it directly, or null for the platform path. */
export function asPlain(r: unknown): LightResponse | null {
  if (typeof r !== 'object' || r === null || !(kNative in r)) return null;
  const lr = r as LightResponse;
  return lr[kNative] === undefined && isPlainBody(lr[kBody]) ? lr : null;
}

/** What asPlain() vouched for: the init and the plain body, read without building anything. */
export function plainInit(lr: LightResponse): ResponseInit | undefined {
  return lr[kInit];
}
export function plainBody(lr: LightResponse): PlainBody {
  return lr[kBody] as PlainBody;
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

