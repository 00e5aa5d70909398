// node engine, HTTP/2: one node:http2 server per bind, which never listens itself. The bind's
// listener (node:https with ALPN, or node:http with a prior-knowledge preface) hands it the
// connections that speak HTTP/2; each becomes a session whose streams go through the same pool,
// rules and exchange as HTTP/1.1 requests (lib/engines/node/http2-handler.ts). Gunicorn's settings
// become node:http2's SETTINGS; the worker's graceful stop becomes a GOAWAY on every session.
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Settings } from '../../config/settings.js';
import type { BindContext } from '../../http/contracts.js';
import { createHttp2Handler } from './http2-handler.js';

/** The protocols of http_protocols, in order (resolveConfig has checked and normalised the list). */
export function httpProtocols(s: Settings): string[] {
  return s.http_protocols.split(',');
}

/** ALPN names in the order of http_protocols: the server's order decides (OpenSSL picks the first the client offers too). */
export function alpnProtocols(protocols: readonly string[]): string[] {
  return protocols.map((p) => (p === 'h2' ? 'h2' : 'http/1.1'));
}

/**
 * Gunicorn's HTTP/2 settings as node:http2's options. limit_request_fields bounds the fields as on
 * HTTP/1.1 (one more, so that "too many" is seen and answered 431; the pseudo-headers come on top).
 * node refuses new streams once a session holds more than maxSessionMemory: room for every stream
 * the settings allow to fill its window and its headers (at least node's own 10 MiB).
 */
export function http2Options(s: Settings): http2.ServerOptions {
  const headerList = s.http2_max_header_list_size === 0 ? 2 ** 32 - 1 : s.http2_max_header_list_size;
  const perStream = s.http2_initial_window_size + Math.min(headerList, 1 << 20);
  const memoryMiB = Math.max(10, Math.ceil((s.http2_max_concurrent_streams * perStream) / (1 << 20)));
  return {
    settings: {
      maxConcurrentStreams: s.http2_max_concurrent_streams,
      initialWindowSize: s.http2_initial_window_size,
      maxFrameSize: s.http2_max_frame_size,
      maxHeaderListSize: headerList,
    },
    maxHeaderListPairs: (s.limit_request_fields || 32768) + 1 + 5,
    maxSessionMemory: memoryMiB,
  };
}

/**
 * Why this app cannot be served over node:http2's compatibility API, or null. Express (4 and 5)
 * swaps the prototype of every req and res for its own, built on node:http's IncomingMessage and
 * ServerResponse: on an HTTP/2 request it throws from node's internals and never answers.
 */
export function cannotServeHttp2(context: BindContext): string | null {
  return context.nodeApp?.what === 'an Express app'
    ? "Express replaces node:http2's request and response with node:http's classes, which cannot serve HTTP/2"
    : null;
}

/** A bind's HTTP/2 side: the connections handed to it, its sessions, its graceful stop. */
export interface Http2Serving {
  /** Serve this connection as HTTP/2 (TLS with ALPN `h2`, or a cleartext one that sent the preface). */
  take(socket: Socket): void;
  /** Graceful stop: GOAWAY on every session (and on any that starts from now on); open streams finish. */
  goAway(): void;
  /** Cut every session. */
  destroy(): void;
  /** Sessions open. */
  readonly size: number;
  /** A session has a stream still open, or bytes still queued on its socket. */
  busy(): boolean;
}

interface Tracked {
  streams: number;
  socket: Socket;
}

export function createHttp2Serving(context: BindContext, settings: Settings): Http2Serving {
  const server = http2.createServer(
    http2Options(settings),
    createHttp2Handler(context, context.nodeApp, settings.http2_max_header_list_size, cannotServeHttp2(context)),
  );
  const sessions = new Map<http2.ServerHttp2Session, Tracked>();
  let stopping = false;
  /** The connection being handed over ('session' comes within the handover): the real socket, not node's proxy of it. */
  let handing: Socket | null = null;
  const keepalive = settings.keepalive * 1000;
  server.on('session', (session: http2.ServerHttp2Session) => {
    const tracked: Tracked = { streams: 0, socket: handing ?? (session.socket as unknown as Socket) };
    sessions.set(session, tracked);
    session.once('close', () => sessions.delete(session));
    // A peer's protocol error is the session's end, not the worker's.
    session.on('error', () => {});
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      tracked.streams++;
      stream.once('close', () => {
        tracked.streams--;
        // keepalive 0: a connection is not kept once its requests are answered (as HTTP/1.1's close after each).
        if (tracked.streams === 0 && keepalive === 0 && !session.closed) session.close();
      });
    });
    // Gunicorn's keepalive: an idle HTTP/2 connection is sent GOAWAY after as many seconds without a frame.
    if (keepalive > 0)
      session.setTimeout(keepalive, () => {
        if (tracked.streams === 0 && !session.closed) session.close();
      });
    if (stopping) session.close();
  });
  return {
    take(socket) {
      handing = socket;
      try {
        server.emit('connection', socket);
      } finally {
        handing = null;
      }
    },
    goAway() {
      stopping = true;
      for (const session of sessions.keys()) if (!session.closed) session.close();
    },
    destroy() {
      for (const session of sessions.keys()) session.destroy();
    },
    get size() {
      return sessions.size;
    },
    busy() {
      for (const t of sessions.values()) if (t.streams > 0 || t.socket.writableLength > 0) return true;
      return false;
    },
  };
}
