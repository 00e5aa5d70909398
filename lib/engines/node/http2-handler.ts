// The node engine's hot path for HTTP/2: a node:http2 stream (its compatibility request and
// response) in → the same rules as HTTP/1.1 → exchange (fetch apps) or the app's own handler
// (Node-style apps) → the bind's pool.
//
// nghttp2 has checked the framing (pseudo-headers, field syntax, connection-specific fields, the
// header list size). What is left is HTTP/1.1's rules on the regular fields (Gunicorn's limits, one
// Host, one Content-Type, Content-Length), with `:authority` as the Host (RFC 9113 8.3.1: it wins
// over a Host field) and `:path` as the target.
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NodeApp } from '../../app/shapes.js';
import { allows } from '../../config/allow-list.js';
import { RequestBody } from '../../http/body.js';
import type { BindContext } from '../../http/contracts.js';
import { Exchange } from '../../http/exchange.js';
import { ForwardedFacts, applyForwarded } from '../../http/forwarded.js';
import { RequestHead, addressOf, bodyTooLarge, checkHeaders, lineTooLong, type Refusal } from '../../http/rules.js';
import { NodeCall } from './node-app.js';
import { socketPeer } from './proxy-protocol.js';
import { Http2Wire } from './http2-wire.js';

/** Request fields HTTP/2 forbids (RFC 9113 8.2.2); `te` is allowed with `trailers` only. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** A request HTTP/2 calls malformed (RFC 9113 8.1.1): refused with a stream error, not a page. */
const MALFORMED: Refusal = [400, 'Connection-specific header field in an HTTP/2 request'];

/** What the checks found of the request a handler is on: one per handler, reused (all is synchronous). */
class Found {
  readonly head = new RequestHead();
  readonly said = new ForwardedFacts();
  /** The regular fields, flat [name, value, ...], with `host` from `:authority`. */
  raw: string[] = [];
  peer: string | undefined = undefined;
}

/**
 * The regular fields of an HTTP/2 request (node's rawHeaders, names lower-case, pseudo-headers
 * first) with `:authority` as the Host; null when a field is one HTTP/2 forbids.
 */
export function regularFields(given: readonly string[]): string[] | null {
  const raw: string[] = [];
  let authority: string | null = null;
  for (let i = 0; i < given.length; i += 2) {
    const name = given[i]!;
    const value = given[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value.trim().toLowerCase() !== 'trailers')) return null;
    if (name === 'host' && authority !== null) continue;
    raw.push(name, value);
  }
  if (authority !== null) {
    // `:authority` wins over a Host field (RFC 9113 8.3.1), which is dropped, as Gunicorn does.
    for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i] === 'host') raw.splice(i, 2);
    raw.push('host', authority);
  }
  return raw;
}

/** A header list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 6.5.2): each field's name, value and 32. */
export function headerListSize(given: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < given.length; i += 2) n += given[i]!.length + given[i + 1]!.length + 32;
  return n;
}

/**
 * Why qilin refuses an HTTP/2 request, or null (`found` then holds what the checks found).
 * `maxHeaderList`: http2_max_header_list_size (0: none), which node:http2 advertises but does not
 * hold a client to: a larger list gets 431 (RFC 9113 10.5.1).
 */
export function refusal(
  req: Http2ServerRequest,
  context: BindContext,
  found: Found,
  maxHeaderList: number,
): Refusal | null {
  if (maxHeaderList > 0) {
    const size = headerListSize(req.rawHeaders);
    if (size > maxHeaderList)
      return [431, `Header list too large (${size} > ${maxHeaderList} bytes, http2_max_header_list_size)`];
  }
  const method = req.method;
  const target = req.url;
  const limits = context.limits;
  const forwarded = context.forwarded;
  const head = found.head;
  const raw = regularFields(req.rawHeaders);
  if (raw === null) return MALFORMED;
  found.raw = raw;
  found.said.scheme = null;
  found.said.client = null;
  if (method === 'CONNECT') return [501, 'CONNECT is not supported'];
  if (target === '*' && method !== 'OPTIONS') return [400, `Invalid request target * for ${method}`];
  const refused =
    checkHeaders(raw, limits, false, false, false, forwarded === null ? null : forwarded.watch, head) ??
    lineTooLong(limits, method, target) ??
    bodyTooLarge(limits, head.length) ??
    addressOf(context.authority, target, head);
  if (refused !== null) return refused;
  // A body is whatever DATA frames follow the HEADERS (no Content-Length needed).
  head.hasBody = !req.stream.endAfterHeaders;
  if (forwarded === null) return null;
  found.peer = socketPeer(req.stream.session!.socket as Socket);
  if (head.watched) {
    const bad = applyForwarded(forwarded, raw, found.peer, false, found.said);
    if (bad !== null) return bad;
  }
  // A trusted front-end's `:scheme` says the client's scheme, as Gunicorn takes it (a scheme
  // header, when one was sent, has said it already).
  const scheme = req.scheme;
  if (
    found.said.scheme === null &&
    (scheme === 'https' || scheme === 'http') &&
    (found.peer === undefined || allows(forwarded.trusted, found.peer))
  )
    found.said.scheme = scheme;
  return null;
}

/** Refused before the app: Gunicorn's page, or a stream error where HTTP/2 says the request is malformed. */
function refuse(wire: Http2Wire, refused: Refusal): void {
  if (refused === MALFORMED) {
    wire.res.stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  wire.refuse(refused[0], refused[1]);
}

/** The 'request' handler of a bind's HTTP/2 server: a fetch app's exchange, or a Node-style app's own req and res. */
export function createHttp2Handler(
  context: BindContext,
  app: NodeApp | null,
  maxHeaderList: number,
  notServed: string | null,
): (req: Http2ServerRequest, res: Http2ServerResponse) => void {
  const found = new Found();
  const { head, said } = found;
  // An app that cannot run on HTTP/2 (cannotServeHttp2): every stream says why, none hangs.
  if (notServed !== null) return (req, res) => new Http2Wire(req, res).refuse(505, notServed);
  if (app !== null) {
    return (req, res) => {
      const refused = refusal(req, context, found, maxHeaderList);
      if (refused !== null) {
        refuse(new Http2Wire(req, res), refused);
        return;
      }
      // node:http2's compatibility request and response, as the app would get from http2.createServer.
      const call = new NodeCall(req as unknown as IncomingMessage, res as unknown as ServerResponse, context, app);
      if (said.client !== null) call.client = said.client;
      context.submit(call);
    };
  }
  return (req, res) => {
    const wire = new Http2Wire(req, res);
    const refused = refusal(req, context, found, maxHeaderList);
    if (refused !== null) {
      refuse(wire, refused);
      return;
    }
    const body = head.hasBody ? new RequestBody(wire) : null;
    const ex = new Exchange(wire, context, req.method, head.authority, head.target, found.raw, body);
    ex.protocol = 'HTTP/2.0';
    if (said.scheme !== null || said.client !== null) ex.forwardedBy(null, said);
    context.submit(ex);
    ex.inHandler = false;
    ex.keepPeer();
    if (!ex.finished)
      wire.onAborted(() => {
        if (!ex.aborted) ex.sayGone(null);
        ex.onAborted();
      });
  };
}
