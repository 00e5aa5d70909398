// The uWS hot path: uWS request in → checks → exchange → pool → app → response out.
//
// Fast path: the pool has a free slot, the app returns a light Response synchronously with a
// string/bytes body → written inside this handler, no promise, no task, no stream.
// Everything else goes through the same Exchange.writeParts (lib/http/exchange.ts).
import { RequestBody, uwsPace } from '../../http/body.js';
import type { BindContext } from '../../http/contracts.js';
import { Exchange } from '../../http/exchange.js';
import { formatPeerAddress } from '../../http/address.js';
import { ForwardedFacts, applyForwarded } from '../../http/forwarded.js';
import { RequestHead, addressOf, bodyTooLarge, checkHeaders, lineTooLong } from '../../http/rules.js';
import { rejectRequest } from '../../http/write.js';
import type { QilinWebSocket, Upgrader } from '../../http/websocket.js';
import { loadUws, type HttpRequest, type HttpResponse, type us_socket_context_t } from './load.js';

const METHODS: Record<string, string> = {
  get: 'GET',
  post: 'POST',
  put: 'PUT',
  delete: 'DELETE',
  head: 'HEAD',
  options: 'OPTIONS',
  patch: 'PATCH',
};

/**
 * uWS's fixed HTTP timeout per build, in seconds (measured: a request's headers, or each step of a
 * body at 16 KiB/s, must arrive within it).
 */
const UWS_HTTP_TIMEOUT_S: Readonly<Record<string, number>> = { '20.30.0': 10, '20.57.0': 30 };

/**
 * What uWS does to a slow upload, for this worker's build: its timers tick every 4 s, so a body that
 * brought less than a step for the timeout less 2.5 s before its connection closed was cut by uWS
 * (the client may have left at that very moment too). Unknown builds: not said (Infinity).
 */
let cutAfterMs = Infinity;
let cutWhy = '';
function learnPace(): void {
  const { version } = loadUws();
  const seconds = UWS_HTTP_TIMEOUT_S[version];
  if (seconds === undefined) return;
  uwsPace.stepBytes = 16 * 1024 * seconds;
  cutAfterMs = seconds * 1000 - 2500;
  cutWhy = `uWebSockets.js ${version} closes a connection whose request body arrives slower than 16 KiB/s (${seconds} s for each ${16 * seconds} KiB; fixed in its build)`;
}

/**
 * What the checks found of the request a handler is on: one per handler, reused (from the checks to
 * the exchange, all is synchronous).
 */
interface Found {
  readonly head: RequestHead;
  readonly said: ForwardedFacts;
}

/** The uWS route handler for one bind. */
export function createHandler(context: BindContext): (res: HttpResponse, req: HttpRequest) => void {
  learnPace();
  const found: Found = { head: new RequestHead(), said: new ForwardedFacts() };
  return (res, req) => {
    accept(context, found, res, req, null);
  };
}

/**
 * The upgrade handler of the uWS WebSocket route: uWS sends it the GET requests that carry a
 * Sec-WebSocket-Key. They are served as any request (the same checks, Request, pool and app); the
 * exchange knows how to switch the connection should the app answer with upgradeWebSocket's response.
 */
export function createUpgradeHandler(
  context: BindContext,
): (res: HttpResponse, req: HttpRequest, socketContext: us_socket_context_t) => void {
  const found: Found = { head: new RequestHead(), said: new ForwardedFacts() };
  return (res, req, socketContext) => {
    accept(context, found, res, req, new UwsUpgrade(res, req.getHeader('sec-websocket-key'), socketContext));
  };
}

function accept(
  context: BindContext,
  found: Found,
  res: HttpResponse,
  req: HttpRequest,
  upgrade: UwsUpgrade | null,
): void {
  const limits = context.limits;
  const forwarded = context.forwarded;
  const { head, said } = found;
  // uWS's req lives only during this call: copy what the app may read later.
  const raw: string[] = [];
  req.forEach((name, value) => {
    raw.push(name, value);
  });
  const m = req.getMethod();
  const method = METHODS[m] ?? m.toUpperCase();
  const path = req.getUrl();
  const query = req.getQuery();
  const target = query ? `${path}?${query}` : path;
  // The peer is read (~µs) only when a forwarded header makes it matter.
  let peer: ArrayBuffer | null = null;
  const refused =
    checkHeaders(raw, limits, false, false, false, forwarded === null ? null : forwarded.watch, head) ??
    lineTooLong(limits, method, target) ??
    bodyTooLarge(limits, head.length) ??
    addressOf(context.authority, target, head) ??
    (head.watched
      ? applyForwarded(forwarded!, raw, formatPeerAddress((peer = res.getRemoteAddressAsText())), false, said)
      : null);
  if (refused !== null) {
    refuse(res, refused[0], refused[1]);
    return;
  }
  const body = head.hasBody ? new RequestBody(res) : null;
  const ex = new Exchange(res, context, method, head.authority, head.target, raw, body);
  if (head.watched) ex.forwardedBy(peer, said);
  if (upgrade !== null) ex.upgrader = upgrade;
  res.onAborted(() => {
    if (!ex.aborted) ex.sayGone(body !== null && performance.now() - body.paceMark >= cutAfterMs ? cutWhy : null);
    ex.onAborted();
  });
  context.submit(ex);
  ex.inHandler = false;
  ex.keepPeer();
}

/**
 * A refusal is final: nothing after a refused request may be served from that connection. uWS
 * goes on parsing the bytes it has already read after a response that says Connection: close, up
 * to the end of that read (20.30 and 20.57 alike), so a request hidden behind a refused one (two
 * Content-Lengths, CL + TE, two Hosts) would reach the app. Answered from the next turn instead:
 * the response is then pending when uWS reaches the next request, and uWS closes a connection
 * whose next request arrives while a response is pending. So a refused request alone gets its 4xx
 * and a closed connection; one with more bytes behind it, a closed connection.
 */
function refuse(res: HttpResponse, status: number, detail: string): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  setImmediate(() => {
    if (!aborted) res.cork(() => rejectRequest(res, status, detail));
  });
}

/** What a uWS WebSocket carries from its upgrade to its close. */
export interface UwsSocketData {
  socket: QilinWebSocket;
}

/** Completes one upgrade: uWS writes the 101 and calls the route's open handler at once. */
class UwsUpgrade implements Upgrader {
  constructor(
    private readonly res: HttpResponse,
    private readonly key: string,
    private readonly socketContext: us_socket_context_t,
  ) {}

  upgrade(socket: QilinWebSocket, headers: string[]): void {
    const res = this.res;
    if (headers.length > 0) {
      // The status first: a header written before it would make uWS say 200 (upgrade() writes no
      // status once one was written).
      res.writeStatus('101 Switching Protocols');
      for (let i = 0; i < headers.length; i += 2) res.writeHeader(headers[i]!, headers[i + 1]!);
    }
    const data: UwsSocketData = { socket };
    res.upgrade(data, this.key, socket.protocol, '', this.socketContext);
  }
}
