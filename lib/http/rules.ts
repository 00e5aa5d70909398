// Request rules every engine applies before the app sees a request: Gunicorn's limit_request_*
// settings and RFC 9112's framing rules (the ones request smuggling lives in). Each engine's parser
// does part of this; what it lets through is checked here, on the headers it hands over.
import type { Settings } from '../config/settings.js';
import { isToken } from './fields.js';

/** The headers checkHeaders notes (`RequestHead.watched`): a length filter first, so most names cost one AND. */
export interface HeaderWatch {
  /** Bit n: a watched name is n characters long (bit 31: 31 or more). */
  readonly lengths: number;
  /** Lower-case names. */
  readonly names: ReadonlySet<string>;
}

export function lengthBit(length: number): number {
  return 1 << (length > 31 ? 31 : length);
}

/** limit_request_* settings; 0 = no limit. */
export interface RequestLimits {
  /** Longest request line (method, target and version), bytes. */
  readonly line: number;
  /** Most header fields. */
  readonly fields: number;
  /** Longest header field (`name: value`), bytes. */
  readonly fieldSize: number;
  /** Largest body, bytes. */
  readonly body: number;
}

export function requestLimits(s: Settings): RequestLimits {
  return {
    line: s.limit_request_line, // 0: none (Gunicorn)
    fields: s.limit_request_fields || 32768, // 0: Gunicorn's MAX_HEADERS
    fieldSize: s.limit_request_field_size || 8190, // 0: Gunicorn's default field size
    body: s.limit_request_body,
  };
}

/** Why a request is refused: the status (400, 413, 431, 501) and a detail for the error page. */
export type Refusal = readonly [status: number, detail: string];

/**
 * What checkHeaders found in a request it passed (the Host, the Content-Length, whether a body
 * follows and whether it is chunked, whether a watched header is there), and where addressOf says
 * the request is addressed. The caller owns it: an engine's handler keeps one and reads it before it
 * handles another request (from the checks to the exchange, all is synchronous).
 */
export class RequestHead {
  host: string | null = null;
  /** The Content-Length as sent (null: none). */
  length: string | null = null;
  hasBody = false;
  chunked = false;
  /** A header of the caller's HeaderWatch is present (X-Forwarded-For, a secure scheme header...). */
  watched = false;
  /** Set by addressOf: the authority the request URL is built from, and the origin-form target. */
  authority = '';
  target = '';
}

/** Control characters a header value must not hold (HTAB is allowed). */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^[0-9]{1,15}$/;

/** Request line longer than limit_request_line (Gunicorn: LimitRequestLine, 400). */
export function lineTooLong(limits: RequestLimits, method: string, target: string): Refusal | null {
  const size = method.length + target.length + 10; // two spaces and `HTTP/1.1`
  return limits.line > 0 && size > limits.line ? [400, `Request Line is too large (${size} > ${limits.line})`] : null;
}

/**
 * The header rules, on a flat [name, value, ...] list with lower-case names: field count and size
 * limits (431), control characters (400), one Host, and the body framing: one Content-Length of
 * plain digits, or a Transfer-Encoding ending in one `chunked` (HTTP/1.1 only), never both.
 * `parserRefusesCtl`: the engine's parser has refused control characters already (llhttp does).
 * `lowerCase`: names arrive as the client wrote them (node:http's rawHeaders).
 * `watch`: names to note in `head.watched` (null: none); most names are passed by their length.
 * What it found goes into `head` when it passes (a fresh one when none is given: only the refusal
 * is wanted); on a refusal `head` is left as it was.
 */
export function checkHeaders(
  raw: readonly string[],
  limits: RequestLimits,
  http10: boolean,
  parserRefusesCtl = false,
  lowerCase = false,
  watch: HeaderWatch | null = null,
  head: RequestHead = new RequestHead(),
): Refusal | null {
  const n = raw.length >> 1;
  if (n > limits.fields) return [431, `Error parsing headers: 'Too many headers (${n} > ${limits.fields})'`];
  let host: string | null = null;
  let hosts = 0;
  let types = 0;
  let lengths = 0;
  let length = '';
  let codings: string | null = null;
  let watched = false;
  const watchedLengths = watch === null ? 0 : watch.lengths;
  for (let i = 0; i < raw.length; i += 2) {
    let name = raw[i]!;
    // Only the names compared below need lower-casing: host, content-type, content-length, transfer-encoding.
    if (lowerCase && (name.length === 4 || name.length === 12 || name.length === 14 || name.length === 17))
      name = name.toLowerCase();
    const value = raw[i + 1]!;
    // The field as sent, `name: value` and its CRLF, as Gunicorn measures it.
    if (name.length + value.length + 4 > limits.fieldSize) {
      return [431, `Error parsing headers: 'limit request headers fields size'`];
    }
    if (!parserRefusesCtl && CTL.test(value)) return [400, `Invalid header value in ${name}`];
    if (name === 'host') {
      hosts++;
      host = value;
    } else if (name === 'content-type') types++;
    else if (name === 'content-length') {
      lengths++;
      length = value;
    } else if (name === 'transfer-encoding') codings = codings === null ? value : `${codings},${value}`;
    if ((watchedLengths & lengthBit(name.length)) !== 0 && watch!.names.has(lowerCase ? name.toLowerCase() : name))
      watched = true;
  }
  if (hosts > 1) return [400, 'Duplicate Host header'];
  // Two media types for one body: which one the app picks is a guess (Gunicorn refuses it too).
  if (types > 1) return [400, 'Duplicate Content-Type header'];
  if (codings !== null) {
    const refused = checkCodings(codings, lengths, http10);
    if (refused !== null) return refused;
  } else {
    if (lengths > 1) return [400, 'More than one Content-Length header'];
    if (lengths === 1 && !DIGITS.test(length.trim())) return [400, `Invalid Content-Length: ${length.slice(0, 32)}`];
  }
  head.host = host;
  head.length = lengths === 1 ? length : null;
  head.chunked = codings !== null;
  head.hasBody = codings !== null || (lengths === 1 && length !== '0');
  head.watched = watched;
  return null;
}

/** Transfer-Encoding: a list of codings whose last, and only `chunked`, is `chunked`. */
function checkCodings(codings: string, lengths: number, http10: boolean): Refusal | null {
  if (http10) return [400, 'Transfer-Encoding in an HTTP/1.0 request'];
  if (lengths > 0) return [400, 'Content-Length with Transfer-Encoding'];
  const all = codings
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  if (all.length === 0 || !all.every(isToken)) return [400, 'Invalid Transfer-Encoding'];
  // `identity` changes nothing (RFC 2616's no-op coding, still sent by old clients): skipped before
  // `chunked`; after it, chunked is not the final coding and the length cannot be known (RFC 9112
  // 6.1, Gunicorn's rule): refused, as anything else after chunked.
  if (all.indexOf('chunked') !== all.length - 1) {
    return [400, `Transfer-Encoding must end in one chunked: ${codings.slice(0, 64)}`];
  }
  const list = all.filter((c) => c !== 'identity');
  if (list[list.length - 1] !== 'chunked' || list.indexOf('chunked') !== list.length - 1) {
    return [400, `Transfer-Encoding must end in one chunked: ${codings.slice(0, 64)}`];
  }
  // The body would reach the app still encoded: qilin decodes only chunked (Gunicorn answers 501 too).
  if (list.length > 1) return [501, `Unsupported transfer coding: ${list.slice(0, -1).join(', ')}`];
  return null;
}

/**
 * Fields a chunked body's trailer section must not carry (RFC 9110 6.5.1): framing, routing,
 * connection control, authentication and conditionals (`If-*`), which a peer could use to change how
 * the message is read or handled after its head was checked. Content-Type and the like pass, as
 * Gunicorn lets them (qilin hands no trailers to the app).
 */
const TRAILER_FORBIDDEN = new Set([
  'transfer-encoding',
  'content-length',
  'host',
  'trailer',
  'te',
  'connection',
  'keep-alive',
  'upgrade',
  'proxy-connection',
  'expect',
  'max-forwards',
  'authorization',
  'proxy-authorization',
  'cookie',
]);

/** The trailer rules, on a flat [name, value, ...] list as the client sent it (any case). */
export function checkTrailers(raw: readonly string[]): Refusal | null {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (TRAILER_FORBIDDEN.has(name) || name.startsWith('if-'))
      return [400, `Invalid trailer field: ${name.slice(0, 64)}`];
    if (CTL.test(raw[i + 1]!)) return [400, `Invalid trailer value in ${name.slice(0, 64)}`];
  }
  return null;
}

/** RFC 3986 authority as a Host header may carry it: IP-literal or reg-name/IPv4, optional port. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{0,5})?$/;
/** Hosts checked already: a server sees few distinct ones, and the full check costs ~1 µs. */
const hostChecks = new Map<string, boolean>();

/**
 * One RFC 3986 authority that also makes a valid URL (so `new URL(request.url)` never throws on
 * what a client sent: `a:99999`, `999.1.1.1`, `a%2f` are refused too).
 */
export function validHost(host: string): boolean {
  let ok = hostChecks.get(host);
  if (ok !== undefined) return ok;
  ok = AUTHORITY.test(host) && URL.canParse(`http://${host}/`);
  if (ok) {
    const port = host.lastIndexOf(':');
    if (port > host.lastIndexOf(']') && Number(host.slice(port + 1)) > 65535) ok = false;
  }
  if (hostChecks.size >= 1024) hostChecks.clear(); // many distinct hosts: keep the cache bounded
  hostChecks.set(host, ok);
  return ok;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]+)([^#]*)$/i;

/**
 * Where the request is addressed, into `head.authority` and `head.target`: an absolute-form target's
 * authority (RFC 9112 3.2.2), else the Host header checkHeaders put in `head`, else `fallback` (the
 * bind's address). The URL is built from it, so it must be one valid authority: it could pick the route.
 */
export function addressOf(fallback: string, target: string, head: RequestHead): Refusal | null {
  let authority = fallback;
  const host = head.host;
  if (host !== null && host !== '') {
    if (!validHost(host)) return [400, 'Invalid Host header'];
    authority = host;
  }
  if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
    const abs = ABSOLUTE_FORM.exec(target);
    if (abs === null || !validHost(abs[1]!)) return [400, `Invalid request target: ${target.slice(0, 64)}`];
    authority = abs[1]!;
    const rest = abs[2]!;
    target = rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  }
  head.authority = authority;
  head.target = target;
  return null;
}

/** A Content-Length over limit_request_body: 413 before the app runs. */
export function bodyTooLarge(limits: RequestLimits, contentLength: string | null): Refusal | null {
  if (limits.body <= 0 || contentLength === null) return null;
  const n = Number(contentLength);
  return n > limits.body ? [413, `Request body exceeds limit_request_body (${n} > ${limits.body} bytes)`] : null;
}
