// The node engine's hot path: node:http request in → checks → exchange → pool → app → response out.
//
// llhttp has parsed the request (and refused what it cannot parse, see listener.ts); this adds
// qilin's rules (lib/http/rules.ts) and Gunicorn's limits, then runs the same Exchange as uWS.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestBody } from '../../http/body.js';
import { Exchange, validHost, type Listener } from '../../http/exchange.js';
import { bodyTooLarge, checkHeaders, checkTrailers, lineTooLong, type Refusal } from '../../http/rules.js';
import { rejectRequest } from '../../http/write.js';
import { NodeWire } from './wire.js';

/** A wire whose body end waits for the trailer check: a chunked body with a forbidden trailer field fails. */
class TrailerCheckedWire extends NodeWire {
  exchange: Exchange | null = null;

  constructor(private readonly message: IncomingMessage, private readonly response: ServerResponse) {
    super(message, response);
  }

  override onData(fn: (chunk: Uint8Array, isLast: boolean) => void): void {
    super.onData((chunk, isLast) => {
      const refused = isLast && this.message.rawTrailers.length > 0 ? checkTrailers(this.message.rawTrailers) : null;
      if (refused === null) { fn(chunk, isLast); return; }
      // The app's body read fails and its answer is dropped; the client gets the 400 if nothing went out yet.
      if (this.response.headersSent) this.close();
      else rejectRequest(this, refused[0], refused[1]);
      this.exchange?.onAborted();
    });
  }
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]+)([^#]*)$/i;

export function createNodeHandler(listener: Listener): (req: IncomingMessage, res: ServerResponse) => void {
  const limits = listener.limits;
  return (req, res) => {
    // llhttp keeps the client's case; qilin's requests carry lower-case names (as uWS gives them).
    const given = req.rawHeaders;
    const raw = new Array<string>(given.length);
    let host: string | null = null;
    let length: string | null = null;
    let hasBody = false;
    let chunked = false;
    for (let i = 0; i < given.length; i += 2) {
      const name = given[i]!.toLowerCase();
      const value = given[i + 1]!;
      raw[i] = name;
      raw[i + 1] = value;
      if (name === 'host') host = value;
      else if (name === 'content-length') { length = value; if (value !== '0') hasBody = true; }
      else if (name === 'transfer-encoding') hasBody = chunked = true;
    }
    // Only a chunked body has trailers to check.
    const wire = chunked ? new TrailerCheckedWire(req, res) : new NodeWire(req, res);
    const method = req.method!;
    let target = req.url!;
    const http10 = req.httpVersionMinor === 0;
    const refused: Refusal | null =
      req.httpVersionMajor !== 1 || req.httpVersionMinor > 1 ? [400, `Invalid HTTP Version: ${req.httpVersion}`]
        : target === '*' && method !== 'OPTIONS' ? [400, `Invalid request target * for ${method}`]
          : checkHeaders(raw, limits, http10, true) ?? lineTooLong(limits, method, target) ?? bodyTooLarge(limits, length) ??
            // RFC 9112 3.2 (node's requireHostHeader, checked here so that the limits above come first).
            (host === null && !http10 ? [400, 'Missing Host header'] : null);
    if (refused !== null) { rejectRequest(wire, refused[0], refused[1]); return; }

    // The URL is built from the Host header: it must be one authority, or it could pick the route.
    let authority = listener.authority;
    if (host !== null && host !== '') {
      if (!validHost(host)) { rejectRequest(wire, 400, 'Invalid Host header'); return; }
      authority = host;
    }
    if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
      // absolute-form (`GET http://host/path`, RFC 9112 3.2.2): its authority replaces Host.
      const abs = ABSOLUTE_FORM.exec(target);
      if (abs === null || !validHost(abs[1]!)) { rejectRequest(wire, 400, `Invalid request target: ${target.slice(0, 64)}`); return; }
      authority = abs[1]!;
      target = abs[2] || '/';
      if (target.charCodeAt(0) !== 47) target = '/' + target;
    }
    const body = hasBody ? new RequestBody(wire) : null;
    const ex = new Exchange(wire, listener, method, authority, target, raw, body);
    if (http10) ex.protocol = 'HTTP/1.0';
    if (chunked) (wire as TrailerCheckedWire).exchange = ex;
    listener.submit(ex);
    ex.inHandler = false;
    // Node reports a gone client on a later tick: a response already complete needs no listener.
    if (!ex.finished) wire.onAborted(() => ex.onAborted());
  };
}
