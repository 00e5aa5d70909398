// node engine: a node:http server on a listening socket the arbiter created and passed to every
// worker as a file descriptor; all workers accept from its one queue (Gunicorn's model).
import type * as http from 'node:http';
import { nodeHttp } from '../../ops/node-http.js';
import type httpsModule from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { formatBind } from '../../config/binds.js';
import { errorPage, REASONS } from '../../http/write.js';
import type { Settings } from '../../config/settings.js';
import type { BindContext } from '../../http/contracts.js';
import { lingerOnClose } from './linger.js';
import { CERT_OPTIONAL, nodeTlsOptions, refuseUnverified } from '../../ops/tls.js';
import { ListenFailed, type EngineServer, type ServedBind, type ServingEngine } from '../types.js';
import { createNodeHandler } from './handler.js';
import { createNodeAppHandler } from './node-app.js';
import { allows, parseAllowList } from '../../config/allow-list.js';
import { carryProxyPeer, readProxyHeader, socketPeer } from './proxy-protocol.js';
import { alpnProtocols, cannotServeHttp2, createHttp2Serving, httpProtocols, type Http2Serving } from './http2.js';
import { readPreface } from './http2-preface.js';

/** llhttp's refusals, with the status Gunicorn gives the same fault. */
function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** A request llhttp could not parse: Gunicorn's error page and a closed connection. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  // Bytes after a request that closes the connection (HTTP/1.0, `Connection: close`): they are
  // ignored, and the response under way is still sent (Gunicorn reads no further either).
  if (err.code === 'HPE_CLOSED_CONNECTION' && current) return;
  const busy = current?.headersSent;
  // Only what llhttp refused, and node:http's deadlines, are answered: a socket error, or a TLS
  // client that never completed its handshake (node:https sends its 'tlsClientError' here; an
  // answer would wait for a handshake that never comes), is closed.
  const code = err.code ?? '';
  const http = code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT';
  // A peer that reset, or ended mid-request (Gunicorn: NoMoreData), gets no answer.
  if (!http || code === 'HPE_INVALID_EOF_STATE' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  // header_timeout passed on a connection that never sent a byte: an idle connection, closed
  // without an answer (as Gunicorn closes one after keepalive); a client that sent part of a
  // request gets 408.
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket as net.Socket).bytesRead === 0) {
    socket.destroy();
    return;
  }
  answer(socket, clientErrorStatus(err.code), String((err as { reason?: string }).reason ?? err.message));
}

/** CONNECT asks for a tunnel, which the app does not offer: 501, closed. */
function onConnect(_req: http.IncomingMessage, socket: Duplex): void {
  answer(socket, 501, 'CONNECT is not supported');
}

function answer(socket: Duplex, status: number, detail: string): void {
  const reason = REASONS[status] ?? 'Bad Request';
  const page = errorPage(reason, detail);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/html\r\n` +
      `Content-Length: ${Buffer.byteLength(page)}\r\n\r\n${page}`,
    () => socket.destroy(),
  );
}

/** node:http's default for a whole request: 300 s. */
const NODE_REQUEST_TIMEOUT = 300_000;

/**
 * header_timeout as node:http's options (0: node's own, 60 s checked every 30 s). node:http checks
 * its deadlines only every connectionsCheckingInterval: check often enough that each is kept within
 * about a second (a quarter of the deadline, between 0.1 and 1 s; each check walks the connections
 * still reading a request). requestTimeout may not be below headersTimeout.
 */
export function readDeadlines(
  s: Settings,
): Pick<http.ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  if (s.header_timeout === 0) return {};
  const headersTimeout = s.header_timeout * 1000;
  return {
    headersTimeout,
    requestTimeout: Math.max(NODE_REQUEST_TIMEOUT, headersTimeout),
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersTimeout / 4))),
  };
}

/** Room for the request line and every field Gunicorn's limits allow, capped at 4 MiB. */
function maxHeaderSize(s: Settings): number {
  const line = s.limit_request_line || 8190;
  const fields = s.limit_request_fields || 32768;
  const field = (s.limit_request_field_size || 8190) + 2;
  return Math.min(line + 2 + fields * field + 2, 4 * 1024 * 1024);
}

export const nodeEngine: ServingEngine = {
  writePiece: 0,
  closesAtOnce: false, // lib/engines/node/linger.ts
  writesDate: false, // node:http writes one only when the app set none
  headInStatus: false, // the status goes to writeHead apart from the fields
  boot: () => `node:http (Node ${process.version})`,
  listen(bind: ServedBind, context: BindContext, settings: Settings): Promise<EngineServer> {
    if (bind.childFd === undefined)
      return Promise.reject(new ListenFailed(`no socket was passed for ${formatBind(bind)}`));
    // Host is required of HTTP/1.1 requests in the handler, after the limits (Gunicorn's order).
    const app = context.nodeApp;
    const handler = app ? createNodeAppHandler(context, app) : createNodeHandler(context);
    const options: http.ServerOptions = {
      maxHeaderSize: maxHeaderSize(settings),
      requireHostHeader: false,
      ...readDeadlines(settings),
    };
    let server: http.Server;
    const protocols = httpProtocols(settings);
    const h1 = protocols.includes('h1');
    // HTTP/2: over TLS by ALPN; without TLS from trusted peers that open with the preface (http2_cleartext).
    const h2c =
      context.scheme === 'http' &&
      (settings.http2_cleartext === 'prior-knowledge' || settings.http2_cleartext === 'both');
    let h2: Http2Serving | null =
      protocols.includes('h2') && (context.scheme === 'https' || h2c) ? createHttp2Serving(context, settings) : null;
    const notHttp2 = h2 !== null ? cannotServeHttp2(context) : null;
    if (notHttp2 !== null && h1 && context.scheme === 'https') {
      // TLS clients are offered HTTP/1.1 only (ALPN): they fall back without an error.
      context.note('info', `HTTP/2 is not offered on ${formatBind(bind)}: ${notHttp2}; serving HTTP/1.1`);
      h2 = null;
    } else if (notHttp2 !== null) {
      context.note('info', `HTTP/2 requests on ${formatBind(bind)} are answered 505: ${notHttp2}`);
    }
    /** Connections handed to HTTP/2: its sessions count them, not node:http's tracking. */
    const handed = new WeakSet<net.Socket>();
    /** The connections node:http serves, for a stopping worker (see trackConnections). */
    const open = new Set<net.Socket>();
    // node:http's own parsing of a connection (its request parser), taken before qilin adds listeners:
    // a connection given back to it after an upgrade it did not take goes there, not through TLS or
    // the PROXY header again.
    let parse: ((socket: net.Socket) => void)[];
    if (context.scheme === 'https') {
      let tlsOptions;
      try {
        tlsOptions = nodeTlsOptions(settings); // read now: a worker started after a HUP serves the new files
      } catch (err) {
        return Promise.reject(new ListenFailed(`Cannot serve TLS on ${formatBind(bind)}: ${(err as Error).message}`));
      }
      // node:https (and node:tls under it) only for a TLS listener: ~4 MiB a worker otherwise.
      const https = createRequire(import.meta.url)('node:https') as typeof httpsModule;
      // The TLS handshake comes before the headers: it has the same deadline (node's own is 120 s).
      const alpn = h2 !== null ? { ALPNProtocols: alpnProtocols(protocols) } : {};
      const secure = https.createServer(
        { ...options, handshakeTimeout: options.headersTimeout, ...tlsOptions, ...alpn },
        handler,
      );
      parse = secure.listeners('secureConnection') as ((socket: net.Socket) => void)[];
      if (h2 !== null) {
        // ALPN decides: `h2` goes to HTTP/2; HTTP/1.1 (or no ALPN) to node:http when h1 is listed, else it is closed.
        secure.removeAllListeners('secureConnection');
        secure.on('secureConnection', (socket: tls.TLSSocket) => {
          if (socket.destroyed) return; // refused as its handshake completed (refuseUnverified)
          if (socket.alpnProtocol === 'h2') {
            handed.add(socket);
            h2.take(socket);
          } else if (h1) for (const l of parse) l.call(secure, socket);
          else socket.destroy();
        });
      }
      if (settings.cert_reqs === CERT_OPTIONAL) secure.prependListener('secureConnection', refuseUnverified);
      server = secure;
    } else {
      server = nodeHttp.createServer(options, handler);
      parse = server.listeners('connection') as ((socket: net.Socket) => void)[];
      if (h2 !== null) {
        // Prior knowledge: a peer in forwarded_allow_ips must open with the preface (Gunicorn's rule);
        // any other peer is served HTTP/1.x as if http2_cleartext were off.
        const trusted = parseAllowList('forwarded_allow_ips', settings.forwarded_allow_ips);
        const http1 = server;
        server.removeAllListeners('connection');
        server.on('connection', (socket: net.Socket) => {
          const peer = socketPeer(socket);
          if (peer === undefined || (!trusted.empty && allows(trusted, peer))) {
            readPreface(
              socket,
              (s) => {
                handed.add(s);
                open.delete(s);
                h2.take(s);
              },
              (s, detail) => {
                context.note('debug', `Invalid request from ip=${peer ?? ''}: ${detail}`);
                answer(s, 400, detail);
              },
            );
          } else for (const l of parse) l.call(http1, socket);
        });
      }
    }
    const toHttp = (socket: net.Socket) => {
      for (const l of parse) l.call(server, socket);
    };
    server.on(context.scheme === 'https' ? 'secureConnection' : 'connection', lingerOnClose);
    // One more than allowed, so that "too many" is seen (node drops fields past the count silently).
    server.maxHeadersCount = (settings.limit_request_fields || 32768) + 1;
    // Gunicorn's keepalive: seconds an idle keep-alive connection is kept (0: every response closes).
    server.keepAliveTimeout = settings.keepalive * 1000;
    if (settings.keepalive === 0) context.draining = true;
    server.on('clientError', onClientError);
    if (settings.proxy_protocol !== 'off') {
      // node:http's own connection listener gets each connection once its PROXY header is read.
      const allowFrom = parseAllowList('proxy_allow_ips', settings.proxy_allow_ips);
      const http = server.listeners('connection') as ((socket: net.Socket) => void)[];
      server.removeAllListeners('connection');
      const deliver = (socket: net.Socket) => {
        for (const l of http) l.call(server, socket);
        // node:http reads the socket as it is; a TLS server has wrapped it and reads it itself.
        if (context.scheme !== 'https') socket.resume();
      };
      server.on('connection', (socket: net.Socket) => {
        readProxyHeader(socket, settings.proxy_protocol, allowFrom, server.headersTimeout, deliver, answer);
      });
      // The header comes before the TLS handshake; the TLS socket then says the same client.
      if (context.scheme === 'https') server.prependListener('secureConnection', carryProxyPeer);
    }
    // A Node-style app's own server gets what node:http hands over outside 'request': upgrades
    // (WebSockets: `ws`, Fastify's plugin) and CONNECT tunnels. (`Expect: 100-continue` is
    // answered by node:http itself, then the request goes through the pool as any other.)
    const own = app?.server;
    for (const event of ['upgrade', 'connect'] as const) {
      if (own && own.listenerCount(event) > 0) server.on(event, (...args: unknown[]) => own.emit(event, ...args));
      else if (event === 'connect') server.on('connect', onConnect);
    }
    // A fetch app's WebSockets (upgradeWebSocket). The ws package is loaded with the first upgrade
    // request (~15 ms of a worker's boot otherwise); until then the socket holds what it reads.
    if (!app) {
      type Upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
      let handle: Upgrade | null = null;
      let loading: Promise<Upgrade> | null = null;
      server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        if (handle !== null) {
          handle(req, socket, head);
          return;
        }
        loading ??= import('./websocket.js').then((m) => {
          const h: Upgrade = m.createUpgradeHandler(context, toHttp);
          handle = h;
          return h;
        });
        loading.then(
          (h) => h(req, socket, head),
          (err: unknown) => {
            context.onError('Cannot serve WebSockets', err);
            socket.destroy();
          },
        );
      });
    }
    return serve(server, bind, settings, trackConnections(server, context.scheme === 'https', open, handed), h2);
  },
};

/** The connections node:http serves (with TLS, once the handshake is done), for a stopping worker. */
function trackConnections(
  server: http.Server,
  secure: boolean,
  open: Set<net.Socket>,
  handed: WeakSet<net.Socket>,
): Set<net.Socket> {
  server.on(secure ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    if (handed.has(socket)) return;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/** Listen on the arbiter's socket (its fd). */
function serve(
  server: http.Server,
  bind: ServedBind,
  settings: Settings,
  open: Set<net.Socket>,
  h2: Http2Serving | null,
): Promise<EngineServer> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new ListenFailed(`Can't listen on ${formatBind(bind)}: ${err.message}`)));
    // Node ignores a backlog inside the options when listening on an fd: pass it on its own.
    server.listen({ fd: bind.childFd }, settings.backlog, () => {
      let listening = true;
      resolve({
        stopListening() {
          // Stop accepting only. http.Server#close would also cut idle keep-alive connections at
          // once, resetting a request the client is sending on one at that moment; instead each
          // is answered with `Connection: close` (the worker is draining) until the worker exits,
          // as Gunicorn's workers do.
          if (listening) {
            listening = false;
            net.Server.prototype.close.call(server);
          }
          // HTTP/2 has its own way: GOAWAY on every session; streams under way finish, no new one starts.
          h2?.goAway();
        },
        close() {
          if (listening) {
            listening = false;
            net.Server.prototype.close.call(server);
          }
          server.closeAllConnections();
          h2?.destroy();
        },
        connections() {
          let sending = false;
          // A response node:http still writes (it leaves the socket once all of it is out), or
          // bytes still queued on the socket.
          for (const s of open) {
            if ((s as net.Socket & { _httpMessage?: unknown })._httpMessage || s.writableLength > 0) {
              sending = true;
              break;
            }
          }
          if (h2 !== null) sending ||= h2.busy();
          return { open: open.size + (h2?.size ?? 0), sending };
        },
      });
    });
  });
}
