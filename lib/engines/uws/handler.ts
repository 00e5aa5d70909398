// The uWS hot path: uWS request in → checks → exchange → pool → app → response out.
//
// Fast path: the pool has a free slot, the app returns a light Response synchronously with a
// string/bytes body → written inside this handler, no promise, no task, no stream.
// Everything else goes through the same Exchange.writeParts (lib/http/exchange.ts).
import { RequestBody } from '../../http/body.js';
import { Exchange, type Listener } from '../../http/exchange.js';
import { formatPeerAddress } from '../../http/address.js';
import { applyForwarded } from '../../http/forwarded.js';
import { addressOf, bodyTooLarge, checkHeaders, lineTooLong, seen } from '../../http/rules.js';
import { rejectRequest } from '../../http/write.js';
import type { HttpRequest, HttpResponse } from './load.js';

const METHODS: Record<string, string> = {
  get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', head: 'HEAD', options: 'OPTIONS', patch: 'PATCH',
};

/** The uWS route handler for one listener. */
export function createHandler(listener: Listener): (res: HttpResponse, req: HttpRequest) => void {
  const limits = listener.limits;
  const forwarded = listener.forwarded;
  const watch = forwarded === null ? null : forwarded.watch;
  return (res, req) => {
    // uWS's req lives only during this call: copy what the app may read later.
    const raw: string[] = [];
    req.forEach((name, value) => { raw.push(name, value); });
    const m = req.getMethod();
    const method = METHODS[m] ?? m.toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery();
    const target = query ? `${path}?${query}` : path;
    // The peer is read (~µs) only when a forwarded header makes it matter.
    let peer: ArrayBuffer | null = null;
    const refused = checkHeaders(raw, limits, false, false, false, watch) ?? lineTooLong(limits, method, target) ??
      bodyTooLarge(limits, seen.length) ?? addressOf(listener.authority, target) ??
      (seen.forwarded ? applyForwarded(forwarded!, raw, formatPeerAddress(peer = res.getRemoteAddressAsText()), false) : null);
    if (refused !== null) { rejectRequest(res, refused[0], refused[1]); return; }
    const body = seen.hasBody ? new RequestBody(res) : null;
    const ex = new Exchange(res, listener, method, seen.authority, seen.target, raw, body);
    if (seen.forwarded) ex.forwardedBy(peer, seen.scheme, seen.client, seen.clientPort);
    res.onAborted(() => ex.onAborted());
    listener.submit(ex);
    ex.inHandler = false;
    ex.keepPeer();
  };
}
