// The node engine's hot path: node:http request in → checks → exchange → pool → app → response out.
//
// llhttp has parsed the request (and refused what it cannot parse, see listener.ts); this adds
// qilin's rules (lib/http/rules.ts) and Gunicorn's limits, then runs the same Exchange as uWS.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestBody } from '../../http/body.js';
import { Exchange, type Listener } from '../../http/exchange.js';
import { applyForwarded, type ForwardedPolicy } from '../../http/forwarded.js';
import { addressOf, bodyTooLarge, checkHeaders, checkTrailers, lineTooLong, seen, type Refusal, type RequestLimits } from '../../http/rules.js';
import { socketPeer } from './proxy-protocol.js';
import { NodeWire, refusedBefore } from './wire.js';

/** A wire whose body end waits for the trailer check: a chunked body with a forbidden trailer field fails. */
class TrailerCheckedWire extends NodeWire {
  exchange: Exchange | null = null;

  override onData(fn: (chunk: Uint8Array, isLast: boolean) => void): void {
    super.onData((chunk, isLast) => {
      const refused = isLast && this.req.rawTrailers.length > 0 ? checkTrailers(this.req.rawTrailers) : null;
      if (refused === null) { fn(chunk, isLast); return; }
      // The app's body read fails and its answer is dropped; the client gets the 400 if nothing went out yet.
      if (this.res.headersSent) this.close();
      else this.refuse(refused[0], refused[1]);
      this.exchange?.onAborted();
    });
  }
}

/**
 * Why qilin refuses a request llhttp parsed, or null: the version, `*` with another method than
 * OPTIONS, then the rules of lib/http/rules.ts in Gunicorn's order. `raw`: the header list, its
 * names lower-case unless `mixedCase`. On null, `seen` holds what the checks found; with
 * `seen.forwarded`, what a trusted front-end said too (applyForwarded).
 */
export function refusal(
  req: IncomingMessage, raw: readonly string[], limits: RequestLimits, authority: string, mixedCase: boolean,
  forwarded: ForwardedPolicy | null,
): Refusal | null {
  const method = req.method!;
  const target = req.url!;
  const http10 = req.httpVersionMinor === 0;
  return req.httpVersionMajor !== 1 || req.httpVersionMinor > 1 ? [400, `Invalid HTTP Version: ${req.httpVersion}`]
    : target === '*' && method !== 'OPTIONS' ? [400, `Invalid request target * for ${method}`]
      : checkHeaders(raw, limits, http10, true, mixedCase, forwarded === null ? null : forwarded.watch) ?? lineTooLong(limits, method, target) ??
        bodyTooLarge(limits, seen.length) ??
        // RFC 9112 3.2 (node's requireHostHeader, checked here so that the limits above come first).
        (seen.host === null && !http10 ? [400, 'Missing Host header'] : null) ??
        addressOf(authority, target) ??
        (seen.forwarded ? applyForwarded(forwarded!, raw, socketPeer(req.socket), mixedCase) : null);
}

export function createNodeHandler(listener: Listener): (req: IncomingMessage, res: ServerResponse) => void {
  const limits = listener.limits;
  return (req, res) => {
    if (refusedBefore(req)) return;
    // llhttp keeps the client's case; qilin's requests carry lower-case names (as uWS gives them).
    const given = req.rawHeaders;
    const raw = new Array<string>(given.length);
    for (let i = 0; i < given.length; i += 2) {
      raw[i] = given[i]!.toLowerCase();
      raw[i + 1] = given[i + 1]!;
    }
    const refused = refusal(req, raw, limits, listener.authority, false, listener.forwarded);
    // Only a chunked body has trailers to check.
    const chunked = refused === null && seen.chunked;
    const wire = chunked ? new TrailerCheckedWire(req, res) : new NodeWire(req, res);
    if (refused !== null) { wire.refuse(refused[0], refused[1]); return; }
    const body = seen.hasBody ? new RequestBody(wire) : null;
    const ex = new Exchange(wire, listener, req.method!, seen.authority, seen.target, raw, body);
    if (req.httpVersionMinor === 0) ex.protocol = 'HTTP/1.0';
    if (seen.forwarded) ex.forwardedBy(null, seen.scheme, seen.client, seen.clientPort);
    if (chunked) (wire as TrailerCheckedWire).exchange = ex;
    listener.submit(ex);
    ex.inHandler = false;
    ex.keepPeer();
    // Node reports a gone client on a later tick: a response already complete needs no listener.
    if (!ex.finished) wire.onAborted(() => { if (!ex.aborted) ex.sayGone(null); ex.onAborted(); });
  };
}
