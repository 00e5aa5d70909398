// The slower, general response paths: headers of any shape, platform and Response-like objects
// (duck typing, as @hono/node-server and srvx write them), streamed bodies written with
// backpressure (chunked, or framed by the app's own Content-Length), the 500 for an app that
// failed and the 400 for a bad request.
import type { Wire } from './contracts.js';
import type { Exchange } from './exchange.js';
import { DRAIN_MS } from './body.js';
import { checkField, pairsOf } from './fields.js';
import { sentCookies, sortedFields } from './headers.js';
import { isHeaders, isPlainBody, isStream, type PlainBody } from './response.js';

/** Where header fields go: the wire itself, or a HeadBlock gathering them for one write. */
export type HeaderSink = Pick<Wire, 'writeHeader'>;

/**
 * The head gathered into one string for an engine whose status line may carry the header lines
 * (ServingEngine.headInStatus): one call across to uWS instead of one per field (~15 for an app
 * behind the usual middleware). A value that must go as bytes (past ASCII) flushes what was
 * gathered and goes on its own, as do the fields after it. One block serves every response: the
 * head is written synchronously, from start() to flush().
 */
class HeadBlock implements HeaderSink {
  private res: Wire | null = null;
  private text = '';

  start(res: Wire, line: string): this {
    this.res = res;
    this.text = line;
    return this;
  }

  writeHeader(name: string, value: string | Uint8Array): void {
    if (typeof value === 'string' && this.text !== '') {
      this.text += `\r\n${name}: ${value}`;
      return;
    }
    this.flush();
    this.res!.writeHeader(name, value);
  }

  /** The status line and what was gathered, in one write; then nothing is left to write. */
  flush(): void {
    if (this.text === '') return;
    this.res!.writeStatus(this.text);
    this.text = '';
  }
}

/** The one HeadBlock (see there why one is enough). */
export const headBlock = new HeadBlock();

/** writeHeaders() result bit: the app set a Content-Type. */
export const HAS_CONTENT_TYPE = 1;
const SKIP = 2;

/**
 * HAS_CONTENT_TYPE, or SKIP for headers the engine sets itself: it frames the body (the app's
 * framing headers would contradict it), and uWS writes its own Date (two would go out).
 */
function headerFlags(lower: string, ownDate: boolean): number {
  switch (lower) {
    case 'content-type':
      return HAS_CONTENT_TYPE;
    case 'content-length':
    case 'transfer-encoding':
    case 'connection':
    case 'keep-alive':
      return SKIP;
    case 'date':
      return ownDate ? SKIP : 0;
    default:
      return 0;
  }
}

/** What a value holds beyond printable ASCII: checked further, and written as bytes (see put). */
const PAST_ASCII = /[^\t\x20-\x7e]/;
const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * One header onto the wire; `lower` is its name in lower case. A value is a ByteString (one byte per
 * character, as node:http writes it); uWS writes a string's UTF-8, so a value past ASCII goes to
 * it as its latin1 bytes.
 */
function put(res: HeaderSink, name: string, lower: string, value: string, ownDate: boolean): number {
  const f = headerFlags(lower, ownDate);
  if (f === SKIP) return 0;
  res.writeHeader(name, PAST_ASCII.test(value) ? Buffer.from(checkField(name, value), 'latin1') : value);
  return f;
}

/**
 * A header from a `Headers`: its name is a lower-case token and its value was checked when it was
 * set, unless the object only looks like one (a ponyfill's): then it is checked here.
 */
function putFromHeaders(res: HeaderSink, name: string, value: string, ownDate: boolean): number {
  if (!NAME.test(name)) checkField(name, value);
  return put(res, name, name, value, ownDate);
}

/**
 * A header from a record or a list of pairs, its name as the app wrote it (as node:http sends it).
 * The light Response checked them as it was made; a Response-like's were not: checked here.
 */
function putPair(res: HeaderSink, name: unknown, value: unknown, ownDate: boolean): number {
  const n = String(name);
  const v = checkField(n, typeof value === 'string' ? value : String(value));
  return put(res, n, n.toLowerCase(), v, ownDate);
}

/** Write the app's headers; returns HAS_CONTENT_TYPE when it set one. Set-Cookie values stay separate. */
export function writeHeaders(res: HeaderSink, headers: HeadersInit, ownDate: boolean): number {
  let flags = 0;
  if (isHeaders(headers)) {
    const sorted = sortedFields(headers);
    if (sorted !== null) {
      // A light Headers: its sorted view as it is (lower-case tokens, checked values), the same
      // order as its iterator, without a copy or a pair per field.
      for (let i = 0; i < sorted.length; i += 2) {
        const name = sorted[i]!;
        if (name !== 'set-cookie') flags |= put(res, name, name, sorted[i + 1]!, ownDate);
      }
      for (const cookie of sentCookies(headers)) put(res, 'set-cookie', 'set-cookie', cookie, ownDate);
      return flags;
    }
    for (const [name, value] of headers) if (name !== 'set-cookie') flags |= putFromHeaders(res, name, value, ownDate);
    for (const cookie of headers.getSetCookie()) put(res, 'set-cookie', 'set-cookie', cookie, ownDate);
    return flags;
  }
  const pairs = pairsOf(headers);
  if (pairs !== null) {
    for (const pair of pairs) {
      const [name, value] = pair as [string, string];
      flags |= putPair(res, name, value, ownDate);
    }
  } else {
    // Not a list of pairs nor an iterable: a record. for...in walks it without allocating.
    const record = headers as Record<string, string | string[]>;
    for (const name in record) {
      const value = record[name]!;
      if (Array.isArray(value)) for (const v of value) flags |= putPair(res, name, v, ownDate);
      else flags |= putPair(res, name, value, ownDate);
    }
  }
  return flags;
}

/** One response header's value, whatever shape the headers have (for the access log). */
export function headerValue(headers: HeadersInit, name: string): string | null {
  if (isHeaders(headers)) return headers.get(name);
  const found: string[] = [];
  const pairs = (pairsOf(headers) ?? Object.entries(headers as Record<string, string | string[]>)) as Iterable<
    [string, unknown]
  >;
  for (const [k, v] of pairs) {
    if (String(k).toLowerCase() !== name) continue;
    if (Array.isArray(v)) found.push(...v.map(String));
    else found.push(String(v));
  }
  return found.length === 0 ? null : found.join(', ');
}

/** The app's own Content-Length, when it set a valid one, else -1. */
export function declaredLength(headers: HeadersInit): number {
  const v = headerValue(headers, 'content-length');
  return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : -1;
}

/** A status line as the wire carries it (see put). */
export function statusBytes(line: string): string | Uint8Array {
  return PAST_ASCII.test(line) ? Buffer.from(line, 'latin1') : line;
}

/** Something with a Response's shape: a platform Response, or another implementation's (@whatwg-node's, say). */
interface ResponseLike {
  readonly status: number;
  readonly statusText?: string;
  readonly type?: string;
  readonly headers?: HeadersInit | null;
  readonly body?: unknown;
  readonly bodyUsed?: boolean;
}

function isResponseLike(r: unknown): r is ResponseLike {
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof (r as ResponseLike).status === 'number' &&
    'headers' in r &&
    'body' in r
  );
}

/**
 * Any other response (a platform Response, a light one whose body the platform must serve, one
 * from another fetch implementation), read by duck typing, then the same writer. What cannot be
 * sent is the app's error: 500, logged.
 */
export function writePlatform(ex: Exchange, r: unknown): Promise<void> | undefined {
  if (!isResponseLike(r)) return ex.fail(new TypeError(`the app returned ${describe(r)}, not a Response`));
  const status = r.status;
  if (r.type === 'error' || status === 0) {
    return ex.fail(new TypeError('the app returned Response.error(), a network error: there is no response to send'));
  }
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    return ex.fail(new RangeError(`the app's response has status ${status}: a response's status is 200 to 599`));
  }
  if (r.bodyUsed === true)
    return ex.fail(new TypeError('the app returned a response whose body was read already (Body is unusable)'));
  let body = r.body ?? null;
  if (body !== null && !isStream(body) && !isPlainBody(body)) {
    const iterable =
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function';
    if (!iterable)
      return ex.fail(
        new TypeError(`the app's response has a body of ${describe(body)}: not a stream, string or bytes`),
      );
    // As undici takes an async iterable body (Node 20.6+ has ReadableStream.from).
    body = (ReadableStream as unknown as { from(it: unknown): ReadableStream }).from(body);
  }
  return ex.writeParts(
    status,
    r.statusText ?? '',
    r.headers ?? undefined,
    body as PlainBody | ReadableStream<Uint8Array> | null,
    -1,
  );
}

/** The first read of a streamed body, and its outcome when it came within the turn. */
export interface FirstRead {
  readonly read: Promise<ReadableStreamReadResult<unknown>>;
  readonly result?: ReadableStreamReadResult<unknown>;
  readonly error?: unknown;
}

/** Start the first read; resolves once it settles or the event loop turns, whichever is first. */
export function firstRead(reader: ReadableStreamDefaultReader<unknown>): Promise<FirstRead> {
  const read = reader.read();
  return new Promise((resolve) => {
    let settled = false;
    const timer = setImmediate(() => {
      if (!settled) {
        settled = true;
        resolve({ read });
      }
    });
    read.then(
      (result) => {
        if (!settled) {
          settled = true;
          clearImmediate(timer);
          resolve({ read, result });
        }
      },
      (error: unknown) => {
        if (!settled) {
          settled = true;
          clearImmediate(timer);
          resolve({ read, error: error ?? new Error('the response body stream failed') });
        }
      },
    );
  });
}

/** Throws the app's TypeError when a chunk is no bytes (see chunkBytes). */
export function checkChunk(v: unknown): void {
  chunkBytes(v);
}

/** A chunk of a streamed body as bytes: strings as UTF-8 (as Node's own server writes them); anything else is the app's error. */
function chunkBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(
    `the response body stream gave ${describe(v)}, not bytes (a Uint8Array, an ArrayBuffer or a string)`,
  );
}

/**
 * Stream a body with backpressure; the status and headers are out already, `first` is the reader's
 * first read (see firstRead). `declared`: the
 * Content-Length the app set (the body is then framed by it, not chunked, and must have exactly
 * that many bytes: otherwise the connection is cut, never a wrong frame), or -1.
 */
export async function streamBody(
  ex: Exchange,
  reader: ReadableStreamDefaultReader<unknown>,
  declared: number,
  first: Promise<ReadableStreamReadResult<unknown>>,
): Promise<void> {
  let total = 0;
  const piece = ex.context.writePiece;
  ex.streamReader = reader; // cancelled at once if the client leaves while the app's stream is quiet
  ex.body?.unblock(); // a paused request body would also hold back the writable event
  let next: Promise<ReadableStreamReadResult<unknown>> | null = first;
  try {
    for (;;) {
      const { done, value } = await (next ?? reader.read());
      next = null;
      if (ex.aborted || done) break;
      const bytes = chunkBytes(value);
      if (bytes.byteLength === 0) continue;
      if (declared >= 0 && total + bytes.byteLength > declared) {
        throw new RangeError(`the response body is longer than the Content-Length the app set (${declared} bytes)`);
      }
      total += bytes.byteLength;
      if (declared >= 0 && total === declared && ex.drainFirst()) {
        // The last byte ends the response (and a closing connection with it): drain an unread
        // request body first, as for a chunked body's last chunk below.
        await ex.body!.drained(DRAIN_MS);
        if (ex.aborted) break;
      }
      if (declared >= 0) await writeSized(ex, bytes, declared, piece);
      else if (piece > 0) await writeInPieces(ex, bytes, piece);
      else {
        let ok = true;
        ex.res.cork(() => {
          ok = ex.res.write(bytes);
        });
        if (!ok) await ex.writable();
      }
      if (ex.aborted) break;
    }
    if (!ex.aborted && declared >= 0 && total < declared) {
      throw new RangeError(`the response body ended after ${total} of the ${declared} bytes its Content-Length says`);
    }
  } catch (err) {
    if (!ex.aborted) {
      // The body failed mid-way: the status is out, so the only honest answer is a cut connection.
      ex.context.onError(`Error streaming response for ${ex.target}`, err);
      ex.aborted = true;
      ex.res.close();
    }
  } finally {
    ex.streamReader = undefined;
    if (ex.aborted) void reader.cancel().catch(() => {});
  }
  if (piece > 0 && !ex.aborted && ex.mayBeCorked()) await ex.leaveCork();
  /** Log the response with the bytes it had and free the exchange; `end` first sends what ends it. */
  const finish = (end?: () => void) => {
    ex.length = total;
    ex.logRequest();
    end?.();
    ex.done();
  };
  if (ex.aborted) {
    // The client left, the body failed or the worker gave up: log what was sent.
    if (!ex.finished) finish();
    return;
  }
  if (declared > 0) {
    // The last byte ended the response (writeSized); only the accounting is left.
    ex.body?.discard();
    ex.contentLength = declared;
    finish();
    return;
  }
  if (ex.drainFirst()) {
    await ex.body!.drained(DRAIN_MS);
    if (ex.aborted) {
      if (!ex.finished) finish();
      return;
    }
  }
  if (declared === 0) {
    ex.res.cork(() => ex.end(''));
    return;
  }
  ex.res.cork(() => {
    ex.body?.discard();
    // The last, empty chunk; a draining worker said `Connection: close` in the headers.
    finish(() => ex.res.end(''));
  });
}

/**
 * A chunk of a body framed by its Content-Length (uWS's tryEnd: the response ends itself with the
 * last byte). What the socket does not take now is sent when it can take more. Pieces as in
 * writeInPieces, for the same reason.
 */
async function writeSized(ex: Exchange, chunk: Uint8Array, total: number, piece: number): Promise<void> {
  const res = ex.res;
  let at = 0;
  while (at < chunk.byteLength) {
    if (piece > 0 && ex.mayBeCorked()) await ex.leaveCork();
    if (ex.aborted) return;
    const end = piece > 0 ? Math.min(chunk.byteLength, at + piece) : chunk.byteLength;
    const part = at === 0 && end === chunk.byteLength ? chunk : chunk.subarray(at, end);
    let ok = true;
    let done = false;
    let taken = part.byteLength;
    res.cork(() => {
      const before = res.getWriteOffset();
      [ok, done] = res.tryEnd(part, total);
      // A response that ended may not be touched again (uWS); one that did not says what it took.
      if (!ok && !done) taken = res.getWriteOffset() - before;
    });
    if (done) return;
    at += taken;
    if (!ok) await ex.writable();
    if (ex.aborted) return;
  }
}

/**
 * uWS before v20.77 loses data: a write that does not fit what is left of its 16 KiB cork buffer
 * flushes the buffer first, and when that flush cannot complete (a slow reader) the new bytes are
 * dropped while the write reports success; the client sees broken chunk framing (`Expected LF
 * after chunk data`). Never overflowing the cork buffer avoids it: each piece of a chunk fits an
 * empty buffer and goes out in a cork of its own. Writes made while uWS delivers body data (an
 * echo) wait a turn so that its cork, which may hold earlier writes, is gone. Writes in the request
 * handler's own cork (the first chunks, after the headers) go on at once: the socket is fresh then.
 */
async function writeInPieces(ex: Exchange, chunk: Uint8Array, piece: number): Promise<void> {
  for (let at = 0; at < chunk.byteLength; at += piece) {
    if (ex.mayBeCorked()) await ex.leaveCork();
    if (ex.aborted) return;
    const part = chunk.byteLength <= piece ? chunk : chunk.subarray(at, at + piece);
    let ok = true;
    ex.res.cork(() => {
      ok = ex.res.write(part);
    });
    if (!ok) await ex.writable();
    if (ex.aborted) return;
  }
}

export const errorPage = (reason: string, detail = '') =>
  `<html><head><title>${reason}</title></head><body><h1><p>${reason}</p></h1>${escapeHtml(detail)}</body></html>`;
/** Gunicorn's 500 page. */
export const ERROR_BODY = errorPage('Internal Server Error');

/** 500 for a failed app (Gunicorn's page), or a cut connection when the response had begun. */
export function writeError(ex: Exchange): void {
  if (ex.finished) return; // the response is complete: nothing left to answer or cut
  if (ex.started) {
    ex.aborted = true;
    ex.res.close();
    ex.done();
    return;
  }
  ex.started = true;
  ex.status = 500;
  ex.res.writeStatus('500 Internal Server Error');
  ex.res.writeHeader('content-type', 'text/html');
  // HEAD: the headers GET would get and no body (one on the wire would be read as the next response).
  if (ex.method === 'HEAD') {
    ex.endEmpty(ERROR_BODY.length);
    return;
  }
  ex.body?.discard();
  ex.length = ERROR_BODY.length;
  ex.logRequest();
  ex.res.end(ERROR_BODY, true);
  ex.done();
}

export const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** The 503 of a request the app did not answer within request_timeout (Gunicorn's page). */
export const TIMEOUT_DETAIL = 'The server did not answer the request in time.';
export const TIMEOUT_BODY = errorPage(REASONS[503]!, TIMEOUT_DETAIL);

/**
 * An error status and a closed connection for a request qilin will not hand to the app, or will
 * not wait for any longer (Gunicorn's page; no body for a HEAD).
 */
export function rejectRequest(res: Wire, status: number, detail: string, head = false): void {
  const reason = REASONS[status] ?? 'Bad Request';
  res.writeStatus(`${status} ${reason}`);
  res.writeHeader('content-type', 'text/html');
  res.end(head ? '' : errorPage(reason, detail), true);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v.constructor?.name ? `a ${v.constructor.name}` : 'an object';
}
