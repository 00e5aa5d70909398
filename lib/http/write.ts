// The slower, general response paths: headers of any shape, platform Responses, streamed bodies
// written with backpressure, the 500 for an app that failed and the 400 for a bad request.
import { HAS_CONTENT_TYPE, type Exchange, type Wire } from './exchange.js';
import { DRAIN_MS } from './body.js';
import { nativeResponse } from './platform.js';
import { isHeaders } from './response.js';

const SKIP = 2;

/** HAS_CONTENT_TYPE, or SKIP for headers uWS sets itself (it frames the body; the app's would contradict it). */
function headerFlags(lower: string): number {
  switch (lower) {
    case 'content-type': return HAS_CONTENT_TYPE;
    case 'content-length': case 'transfer-encoding': case 'connection': case 'keep-alive': return SKIP;
    default: return 0;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

/** A header from a `Headers`: its name is lower case and both were validated when they were set. */
function putChecked(res: Wire, name: string, value: string): number {
  const f = headerFlags(name);
  if (f !== SKIP) res.writeHeader(name, value);
  return f & HAS_CONTENT_TYPE;
}

/** A header from a record or a list of pairs: nobody has checked it yet. */
function putHeader(res: Wire, name: string, value: string): number {
  const v = typeof value === 'string' ? value : String(value);
  // uWS writes bytes as given: a CR/LF here would let a value forge headers (the platform throws too).
  if (!TOKEN.test(name)) throw new TypeError(`invalid response header name: ${JSON.stringify(name)}`);
  if (BAD_VALUE.test(v)) throw new TypeError(`invalid value for response header ${name}`);
  const f = headerFlags(name.toLowerCase());
  if (f !== SKIP) res.writeHeader(name, v);
  return f & HAS_CONTENT_TYPE;
}

/** A status text that cannot break the status line. */
export function checkStatusText(text: string): string {
  if (BAD_VALUE.test(text)) throw new TypeError('invalid statusText');
  return text;
}

/** Header pairs of an array or any other iterable (a Map, say), else null for a record. */
function pairsOf(headers: HeadersInit): Iterable<[string, string]> | null {
  if (Array.isArray(headers)) return headers as [string, string][];
  const it = (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  return typeof it === 'function' ? (headers as unknown as Iterable<[string, string]>) : null;
}

/** Write the app's headers; returns HAS_CONTENT_TYPE when it set one. Set-Cookie values stay separate. */
export function writeHeaders(res: Wire, headers: HeadersInit): number {
  let flags = 0;
  const pairs = isHeaders(headers) ? null : pairsOf(headers);
  if (isHeaders(headers)) {
    for (const [name, value] of headers) if (name !== 'set-cookie') flags |= putChecked(res, name, value);
    for (const cookie of headers.getSetCookie()) res.writeHeader('set-cookie', cookie);
  } else if (pairs !== null) {
    for (const [name, value] of pairs) flags |= putHeader(res, name, value);
  } else {
    for (const name in headers) {
      const value = (headers as Record<string, string | string[]>)[name]!;
      if (Array.isArray(value)) for (const v of value) flags |= putHeader(res, name, v);
      else flags |= putHeader(res, name, value);
    }
  }
  return flags;
}

/** One response header's value, whatever shape the headers have (for the access log). */
export function headerValue(headers: HeadersInit, name: string): string | null {
  if (isHeaders(headers)) return headers.get(name);
  const found: string[] = [];
  const pairs = pairsOf(headers) ?? Object.entries(headers as Record<string, string | string[]>);
  for (const [k, v] of pairs) {
    if (k!.toLowerCase() !== name) continue;
    if (Array.isArray(v)) found.push(...v); else found.push(String(v));
  }
  return found.length === 0 ? null : found.join(', ');
}

/** The app's own Content-Length, when it set a valid one (for HEAD), else -1. */
export function declaredLength(headers: HeadersInit): number {
  const v = headerValue(headers, 'content-length');
  return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : -1;
}

/** A platform Response (or a light one whose body the platform must serve): its parts, then the same writer. */
export function writePlatform(ex: Exchange, r: Response): Promise<void> | undefined {
  if (!(r instanceof nativeResponse())) {
    return ex.fail(new TypeError(`the app returned ${describe(r)}, not a Response`));
  }
  // A light response forwards these reads to its platform object.
  return ex.writeParts(r.status, r.statusText, r.headers, r.body, -1);
}

/** Stream a body with backpressure; the status and headers are out already. */
export async function streamBody(ex: Exchange, body: ReadableStream<Uint8Array>): Promise<void> {
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  let total = 0;
  const piece = ex.listener.writePiece;
  try {
    reader = body.getReader();
  } catch (err) {
    ex.fail(err);
    return;
  }
  ex.streamReader = reader; // cancelled at once if the client leaves while the app's stream is quiet
  ex.body?.unblock(); // a paused request body would also hold back the writable event
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (ex.aborted || done) break;
      if (value.byteLength === 0) continue;
      total += value.byteLength;
      if (piece > 0) await writeInPieces(ex, value, piece);
      else {
        let ok = true;
        ex.res.cork(() => { ok = ex.res.write(value); });
        if (!ok) await ex.writable();
      }
      if (ex.aborted) break;
    }
  } catch (err) {
    if (!ex.aborted) {
      // The body failed mid-way: the status is out, so the only honest answer is a cut connection.
      ex.listener.onError(`Error streaming response for ${ex.request.target}`, err);
      ex.aborted = true;
      ex.res.close();
    }
  } finally {
    ex.streamReader = undefined;
    if (ex.aborted) void reader.cancel().catch(() => {});
  }
  if (piece > 0 && !ex.aborted && ex.mayBeCorked()) await ex.leaveCork();
  if (ex.aborted) {
    // The client left, the body failed or the worker gave up: log what was sent.
    if (!ex.finished) { ex.length = total; ex.logRequest(); ex.done(); }
    return;
  }
  if (ex.drainFirst()) {
    await ex.body!.drained(DRAIN_MS);
    if (ex.aborted) { if (!ex.finished) { ex.length = total; ex.logRequest(); ex.done(); } return; }
  }
  ex.res.cork(() => {
    ex.body?.discard();
    ex.length = total;
    ex.logRequest();
    ex.res.end(''); // the last, empty chunk; a draining worker said `Connection: close` in the headers
    ex.done();
  });
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
    ex.res.cork(() => { ok = ex.res.write(part); });
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
  ex.body?.discard();
  ex.length = ERROR_BODY.length;
  ex.logRequest();
  ex.res.end(ERROR_BODY, true);
  ex.done();
}

export const REASONS: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 413: 'Content Too Large', 414: 'URI Too Long',
  431: 'Request Header Fields Too Large', 501: 'Not Implemented', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};

/** The 503 of a request the app did not answer within request_timeout (Gunicorn's page). */
export const TIMEOUT_DETAIL = 'The server did not answer the request in time.';
export const TIMEOUT_BODY = errorPage(REASONS[503]!, TIMEOUT_DETAIL);

/**
 * An error status and a closed connection for a request qilin will not hand to the app, or will
 * not wait for any longer (Gunicorn's page).
 */
export function rejectRequest(res: Wire, status: number, detail: string): void {
  const reason = REASONS[status] ?? 'Bad Request';
  res.writeStatus(`${status} ${reason}`);
  res.writeHeader('content-type', 'text/html');
  res.end(errorPage(reason, detail), true);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v.constructor?.name ? `a ${v.constructor.name}` : 'an object';
}
