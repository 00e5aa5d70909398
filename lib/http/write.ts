// The slower, general response paths: headers of any shape, platform Responses, streamed bodies
// written with backpressure, and the 500 for an app that failed.
import type { HttpResponse } from '../uws.js';
import { HAS_CONTENT_TYPE, type Exchange } from './handler.js';
import { nativeResponse } from './platform.js';
import { statusLine } from './response.js';

const SKIP = 2;

/** HAS_CONTENT_TYPE, or SKIP for headers uWS sets itself (it frames the body; the app's would contradict it). */
function headerFlags(lower: string): number {
  switch (lower) {
    case 'content-type': return HAS_CONTENT_TYPE;
    case 'content-length': case 'transfer-encoding': case 'connection': case 'keep-alive': return SKIP;
    default: return 0;
  }
}

function putHeader(res: HttpResponse, name: string, value: string): number {
  const f = headerFlags(name.toLowerCase());
  if (f !== SKIP) res.writeHeader(name, value);
  return f & HAS_CONTENT_TYPE;
}

/** Write the app's headers; returns HAS_CONTENT_TYPE when it set one. Set-Cookie values stay separate. */
export function writeHeaders(res: HttpResponse, headers: HeadersInit): number {
  let flags = 0;
  if (typeof (headers as Headers).getSetCookie === 'function') {
    // A Headers, told by its shape: naming the class would load the platform's fetch classes.
    const h = headers as Headers;
    for (const [name, value] of h) if (name !== 'set-cookie') flags |= putHeader(res, name, value);
    for (const cookie of h.getSetCookie()) res.writeHeader('set-cookie', cookie);
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers) flags |= putHeader(res, name!, value!);
  } else {
    for (const name in headers) {
      const value = (headers as Record<string, string | string[]>)[name]!;
      if (Array.isArray(value)) for (const v of value) flags |= putHeader(res, name, v);
      else flags |= putHeader(res, name, value);
    }
  }
  return flags;
}

function cork(ex: Exchange, fn: () => void): void {
  if (ex.inHandler) fn();
  else ex.res.cork(fn);
}

/** A platform Response (or a light one whose body is not plain): stream its body with backpressure. */
export function writePlatform(ex: Exchange, r: Response): Promise<void> | undefined {
  if (!(r instanceof nativeResponse())) {
    return ex.fail(new TypeError(`the app returned ${describe(r)}, not a Response`));
  }
  const native = r; // a light response forwards these reads to its platform object
  const body = native.body;
  const head = ex.request.method === 'HEAD';
  const declared = native.headers.get('content-length');
  cork(ex, () => {
    ex.started = true;
    ex.status = native.status;
    ex.res.writeStatus(statusLine(native.status, native.statusText));
    writeHeaders(ex.res, native.headers);
  });
  if (body === null || head) {
    if (body) void body.cancel().catch(() => {});
    cork(ex, () => ex.end('', declared !== null && head ? Number(declared) : 0));
    return undefined;
  }
  return streamBody(ex, body);
}

async function streamBody(ex: Exchange, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (ex.aborted) break;
      if (done) break;
      if (value.byteLength === 0) continue;
      total += value.byteLength;
      let ok = true;
      ex.res.cork(() => { ok = ex.res.write(value); });
      if (!ok) await ex.writable();
      if (ex.aborted) break;
    }
  } catch (err) {
    // The body failed mid-way: the status is out, so the only honest answer is a cut connection.
    ex.listener.onError(`Error streaming response for ${ex.request.target}`, err);
    if (!ex.aborted) { ex.aborted = true; ex.res.close(); }
    ex.done();
    return;
  } finally {
    if (ex.aborted) void reader.cancel().catch(() => {});
  }
  if (ex.aborted) { if (!ex.finished) ex.done(); return; }
  ex.res.cork(() => ex.end('', total)); // the last, empty chunk
}

const ERROR_BODY =
  '<html><head><title>Internal Server Error</title></head><body><h1><p>Internal Server Error</p></h1></body></html>';

/** 500 for a failed app (Gunicorn's page), or a cut connection when the response had begun. */
export function writeError(ex: Exchange): void {
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
  ex.accessLog();
  ex.res.end(ERROR_BODY, true);
  ex.done();
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v.constructor?.name ? `a ${v.constructor.name}` : 'an object';
}
