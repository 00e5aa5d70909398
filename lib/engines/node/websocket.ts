// The node engine's WebSockets, for fetch apps: node:http hands over requests that ask for an
// upgrade in its 'upgrade' event, with the raw socket. A WebSocket upgrade is served as any request
// (the same checks, Request, pool and app), its response written on that socket; when the app
// answers with upgradeWebSocket's response, the `ws` package (noServer mode) completes the handshake
// and carries the frames. Any other upgrade (h2c, say) is given back to node:http as a plain request.
import type * as http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { nodeHttp } from '../../ops/node-http.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BindContext } from '../../http/contracts.js';
import { Exchange } from '../../http/exchange.js';
import type { QilinWebSocket, Transport, Upgrader, WebSocketHub } from '../../http/websocket.js';
import { Found, refusal } from './handler.js';
import { NodeWire } from './wire.js';

/** The subprotocol the app chose, and its extra headers, on the request ws completes the handshake of. */
const kChosen = Symbol('qilin.websocketHandshake');
type Tagged = IncomingMessage & { [kChosen]?: { protocol: string; headers: string[] } };

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** The 'upgrade' listener of a fetch app's node:http server. */
export function createUpgradeHandler(
  context: BindContext,
  toHttp: (socket: Socket) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const hub = context.websockets;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: hub.maxMessageSize,
    perMessageDeflate: false,
    clientTracking: false,
    // The app chose (upgradeWebSocket's `protocol`), or none: never ws's default of the first offered.
    handleProtocols: (_offered, req) => (req as Tagged)[kChosen]?.protocol || false,
  });
  wss.on('headers', (lines: string[], req: Tagged) => {
    const extra = req[kChosen]?.headers ?? [];
    for (let i = 0; i < extra.length; i += 2) lines.push(`${extra[i]}: ${extra[i + 1]}`);
  });
  const found = new Found();

  return (req, socket, head) => {
    if (!hasToken(req.headers.upgrade, 'websocket')) {
      servePlain(toHttp, req, socket, head);
      return;
    }
    const res = new nodeHttp.ServerResponse(req);
    res.shouldKeepAlive = false; // a response that is not the switch ends the connection
    res.assignSocket(socket as import('node:net').Socket);
    res.once('finish', () => {
      res.detachSocket(socket as import('node:net').Socket);
      (socket as import('node:net').Socket).destroySoon();
    });
    socket.on('error', () => {}); // a reset while the app runs: the response's 'close' tells the exchange
    const given = req.rawHeaders;
    const raw = new Array<string>(given.length);
    for (let i = 0; i < given.length; i += 2) {
      raw[i] = given[i]!.toLowerCase();
      raw[i + 1] = given[i + 1]!;
    }
    const wire = new NodeWire(req, res);
    const refused = refusal(req, raw, context, false, found);
    if (refused !== null) {
      wire.refuse(refused[0], refused[1]);
      return;
    }
    // A handshake has no body: bytes after its head are the client's first frames (ws reads them).
    const ex = new Exchange(wire, context, req.method!, found.head.authority, found.head.target, raw, null);
    if (found.head.watched) ex.forwardedBy(null, found.said);
    ex.upgrader = new NodeUpgrade(wss, req, res, socket, head, hub);
    context.submit(ex);
    ex.inHandler = false;
    ex.keepPeer();
    if (!ex.finished) wire.onAborted(() => ex.onAborted());
  };
}

/**
 * An upgrade the app does not handle (not a WebSocket): node:http serves it as a plain request on
 * the same connection, its Upgrade header dropped (RFC 9110 7.8: a server may ignore it), its body
 * read from the socket as usual. `toHttp` is node:http's own parser, not the server's 'connection'
 * event: the socket is past TLS and a PROXY header already.
 */
function servePlain(toHttp: (socket: Socket) => void, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    let value = raw[i + 1]!;
    if (name === 'upgrade') continue;
    if (name === 'connection') {
      value = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '' && t.toLowerCase() !== 'upgrade')
        .join(', ');
      if (value === '') continue;
    }
    lines.push(`${raw[i]}: ${value}`);
  }
  socket.unshift(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), head]));
  toHttp(socket as Socket);
}

class NodeUpgrade implements Upgrader {
  constructor(
    private readonly wss: WebSocketServer,
    private readonly req: Tagged,
    private readonly res: http.ServerResponse,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly hub: WebSocketHub,
  ) {}

  upgrade(socket: QilinWebSocket, headers: string[]): void {
    const hub = this.hub;
    this.res.detachSocket(this.socket as import('node:net').Socket);
    this.req[kChosen] = { protocol: socket.protocol, headers };
    // Without a verifyClient, ws completes the handshake before handleUpgrade returns.
    this.wss.handleUpgrade(this.req, this.socket, this.head, (ws) => {
      bind(ws, socket, hub);
    });
    if (socket.readyState === 0) socket.abandon(); // ws refused it (the client already left)
  }
}

/** A `ws` WebSocket as the socket's transport. */
class WsTransport implements Transport {
  constructor(private readonly ws: WebSocket) {}
  send(data: string | Uint8Array | ArrayBuffer, binary: boolean): void {
    this.ws.send(data, { binary });
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    this.ws.ping();
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}

function bind(ws: WebSocket, socket: QilinWebSocket, hub: WebSocketHub): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    socket.received(isBinary ? data : data.toString('utf8'));
  });
  ws.on('ping', () => socket.alive());
  ws.on('pong', () => socket.alive());
  // ws sends the close frame itself (1009 for a message over maxPayload, 1002 for a protocol error)
  // and drops the connection without waiting for the client's: the app is told the code it sent.
  let sent = 0;
  ws.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') sent = 1009;
    socket.failed(err.message, err);
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (code === 1006 && sent !== 0) socket.closed(sent, '', false);
    else socket.closed(code, reason.toString('utf8'), code !== 1006);
  });
  socket.opened(new WsTransport(ws), hub);
}
