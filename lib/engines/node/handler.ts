// The node engine's hot path: node:http request in → checks → exchange → pool → app → response out.
//
// llhttp has parsed the request (and refused what it cannot parse, see server.ts); this adds
// qilin's rules (lib/http/rules.ts) and Gunicorn's limits, then runs the same Exchange as uWS.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestBody } from '../../http/body.js';
import type { BindContext } from '../../http/contracts.js';
import { Exchange } from '../../http/exchange.js';
import { ForwardedFacts, applyForwarded } from '../../http/forwarded.js';
import {
  RequestHead,
  addressOf,
  bodyTooLarge,
  checkHeaders,
  checkTrailers,
  lineTooLong,
  type Refusal,
} from '../../http/rules.js';
import { socketPeer } from './proxy-protocol.js';
import { NodeWire, refusedBefore } from './wire.js';

/** A wire whose body end waits for the trailer check: a chunked body with a forbidden trailer field fails. */
class TrailerCheckedWire extends NodeWire {
  exchange: Exchange | null = null;

  override onData(fn: (chunk: Uint8Array, isLast: boolean) => void): void {
    super.onData((chunk, isLast) => {
      const refused = isLast && this.req.rawTrailers.length > 0 ? checkTrailers(this.req.rawTrailers) : null;
      if (refused === null) {
        fn(chunk, isLast);
        return;
      }
      // The app's body read fails and its answer is dropped; the client gets the 400 if nothing went out yet.
      if (this.res.headersSent) this.close();
      else this.refuse(refused[0], refused[1]);
      this.exchange?.onAborted();
    });
  }
}

/**
 * What the checks found of the request a handler is on: one per handler, reused (from the checks to
 * the exchange or the call, all is synchronous).
 */
export class Found {
  readonly head = new RequestHead();
  readonly said = new ForwardedFacts();
}

/**
 * Why qilin refuses a request llhttp parsed, or null: the version, `*` with another method than
 * OPTIONS, then the rules of lib/http/rules.ts in Gunicorn's order. `raw`: the header list, its
 * names lower-case unless `mixedCase`. On null, `found.head` holds what the checks found; with
 * `found.head.watched`, `found.said` what a trusted front-end said too (applyForwarded).
 */
export function refusal(
  req: IncomingMessage,
  raw: readonly string[],
  context: BindContext,
  mixedCase: boolean,
  found: Found,
): Refusal | null {
  const method = req.method!;
  const target = req.url!;
  const http10 = req.httpVersionMinor === 0;
  const limits = context.limits;
  const forwarded = context.forwarded;
  const head = found.head;
  return req.httpVersionMajor !== 1 || req.httpVersionMinor > 1
    ? [400, `Invalid HTTP Version: ${req.httpVersion}`]
    : target === '*' && method !== 'OPTIONS'
      ? [400, `Invalid request target * for ${method}`]
      : (checkHeaders(raw, limits, http10, true, mixedCase, forwarded === null ? null : forwarded.watch, head) ??
        lineTooLong(limits, method, target) ??
        bodyTooLarge(limits, head.length) ??
        // RFC 9112 3.2 (node's requireHostHeader, checked here so that the limits above come first).
        (head.host === null && !http10 ? [400, 'Missing Host header'] : null) ??
        addressOf(context.authority, target, head) ??
        (head.watched ? applyForwarded(forwarded!, raw, socketPeer(req.socket), mixedCase, found.said) : null));
}

export function createNodeHandler(context: BindContext): (req: IncomingMessage, res: ServerResponse) => void {
  const found = new Found();
  const { head, said } = found;
  return (req, res) => {
    if (refusedBefore(req)) return;
    // llhttp keeps the client's case; qilin's requests carry lower-case names (as uWS gives them).
    const given = req.rawHeaders;
    const raw = new Array<string>(given.length);
    for (let i = 0; i < given.length; i += 2) {
      raw[i] = given[i]!.toLowerCase();
      raw[i + 1] = given[i + 1]!;
    }
    const refused = refusal(req, raw, context, false, found);
    // Only a chunked body has trailers to check.
    const chunked = refused === null && head.chunked;
    const wire = chunked ? new TrailerCheckedWire(req, res) : new NodeWire(req, res);
    if (refused !== null) {
      wire.refuse(refused[0], refused[1]);
      return;
    }
    const body = head.hasBody ? new RequestBody(wire) : null;
    const ex = new Exchange(wire, context, req.method!, head.authority, head.target, raw, body);
    if (req.httpVersionMinor === 0) ex.protocol = 'HTTP/1.0';
    if (head.watched) ex.forwardedBy(null, said);
    if (chunked) (wire as TrailerCheckedWire).exchange = ex;
    context.submit(ex);
    ex.inHandler = false;
    ex.keepPeer();
    // Node reports a gone client on a later tick: a response already complete needs no listener.
    if (!ex.finished)
      wire.onAborted(() => {
        if (!ex.aborted) ex.sayGone(null);
        ex.onAborted();
      });
  };
}
