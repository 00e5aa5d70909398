// The uWS hot path: uWS request in → checks → exchange → pool → app → response out.
//
// Fast path: the pool has a free slot, the app returns a light Response synchronously with a
// string/bytes body → written inside this handler, no promise, no task, no stream.
// Everything else goes through the same Exchange.writeParts (lib/http/exchange.ts).
import { RequestBody } from '../../http/body.js';
import { Exchange, validHost, type Listener } from '../../http/exchange.js';
import { bodyTooLarge, checkHeaders, lineTooLong } from '../../http/rules.js';
import { rejectRequest } from '../../http/write.js';
import type { HttpRequest, HttpResponse } from './load.js';

const METHODS: Record<string, string> = {
  get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', head: 'HEAD', options: 'OPTIONS', patch: 'PATCH',
};

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]+)(\/[^?#]*)?$/i;

/** The uWS route handler for one listener. */
export function createHandler(listener: Listener): (res: HttpResponse, req: HttpRequest) => void {
  const limits = listener.limits;
  return (res, req) => {
    // uWS's req lives only during this call: copy what the app may read later.
    const raw: string[] = [];
    let host: string | null = null;
    let length: string | null = null;
    let hasBody = false;
    req.forEach((name, value) => {
      raw.push(name, value);
      if (name === 'host') host = value;
      else if (name === 'content-length') { length = value; if (value !== '0') hasBody = true; }
      else if (name === 'transfer-encoding') hasBody = true;
    });
    const m = req.getMethod();
    const method = METHODS[m] ?? m.toUpperCase();
    let path = req.getUrl();
    const query = req.getQuery();
    const target = query ? `${path}?${query}` : path;
    const refused = checkHeaders(raw, limits, false) ?? lineTooLong(limits, method, target) ?? bodyTooLarge(limits, length);
    if (refused !== null) { rejectRequest(res, refused[0], refused[1]); return; }

    // The URL is built from the Host header: it must be one authority, or it could pick the route.
    let authority = listener.authority;
    if (host !== null && host !== '') {
      if (!validHost(host)) { rejectRequest(res, 400, 'Invalid Host header'); return; }
      authority = host;
    }
    let url = target;
    if (path.charCodeAt(0) !== 47 /* / */) {
      // absolute-form (`GET http://host/path`, RFC 9112 3.2.2): its authority replaces Host.
      const abs = ABSOLUTE_FORM.exec(path);
      if (abs === null || !validHost(abs[1]!)) { rejectRequest(res, 400, `Invalid request target: ${path.slice(0, 64)}`); return; }
      authority = abs[1]!;
      path = abs[2] || '/';
      url = query ? `${path}?${query}` : path;
    }
    const body = hasBody ? new RequestBody(res) : null;
    const ex = new Exchange(res, listener, method, authority, url, raw, body);
    res.onAborted(() => ex.onAborted());
    listener.submit(ex);
    ex.inHandler = false;
  };
}
