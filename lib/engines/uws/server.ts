// uws engine: each worker opens its own SO_REUSEPORT listener per TCP bind (uWS's default on
// Linux); the kernel spreads new connections over the workers' listeners. With TLS, an SSLApp,
// which reads the certificate files as the worker starts.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { formatBind } from '../../config/binds.js';
import type { Settings } from '../../config/settings.js';
import type { BindContext } from '../../http/contracts.js';
import { describeUwsTls, uwsTlsOptions } from '../../ops/tls.js';
import type { Transport, WebSocketHub } from '../../http/websocket.js';
import { ListenFailed, type EngineServer, type ServedBind, type ServingEngine } from '../types.js';
import { createHandler, createUpgradeHandler, type UwsSocketData } from './handler.js';
import { loadUws, type TemplatedApp, type WebSocket, type us_listen_socket } from './load.js';

/**
 * uWS corks writes into one 16 KiB buffer per loop; a streamed chunk's frame is its hex size and
 * two CRLFs (at most 8 bytes for a piece this size), so a piece this big always fits an empty one.
 */
const CORK_BUFFER = 16 * 1024;

export const uwsEngine: ServingEngine = {
  writePiece: CORK_BUFFER - 16,
  closesAtOnce: true,
  writesDate: true,
  headInStatus: true,
  boot: () => `${loadUws().build} (${loadUws().origin})`,
  listen(bind: ServedBind, context: BindContext, settings: Settings): Promise<EngineServer> {
    if (context.nodeApp) return Promise.reject(new ListenFailed('the uws engine cannot serve a Node-style app'));
    const { uws } = loadUws();
    if (bind.kind !== 'tcp') return Promise.reject(new ListenFailed(`the uws engine cannot serve ${formatBind(bind)}`));
    let server: TemplatedApp;
    if (context.scheme === 'https') {
      const options = uwsTlsOptions(settings);
      try {
        server = uws.SSLApp(options);
      } catch {
        // uWS says only "App construction failed". The arbiter checked the same with node's
        // OpenSSL: what is left is a file this worker's user cannot read, or a cipher list
        // uWS's own TLS library (BoringSSL) does not take.
        const hint =
          options.ssl_ciphers === undefined
            ? "can this worker's user read the files?"
            : "can this worker's user read the files? BoringSSL, which uWS is built with, may not know these ciphers";
        return Promise.reject(
          new ListenFailed(
            `uWebSockets.js cannot set up TLS for ${formatBind(bind)} from ${describeUwsTls(options)} (${hint})`,
          ),
        );
      }
    } else {
      server = uws.App();
    }
    server.ws('/*', socketBehavior(context));
    server.any('/*', createHandler(context));
    return new Promise((resolve, reject) => {
      server.listen(bind.host, bind.port, (socket: us_listen_socket | false) => {
        if (!socket) {
          reject(new ListenFailed(`Connection in use: ${formatBind(bind)} (worker could not listen)`));
          return;
        }
        // Listening anywhere but where asked is never right (the arbiter turned port 0 into one).
        const port = uws.us_socket_local_port(socket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
        if (port !== bind.port) {
          uws.us_listen_socket_close(socket);
          reject(
            new ListenFailed(`Connection in use: ${formatBind(bind)} (worker found its listener on port ${port})`),
          );
          return;
        }
        let listening = true;
        const stopListening = () => {
          if (listening) {
            listening = false;
            uws.us_listen_socket_close(socket);
          }
        };
        resolve({
          stopListening,
          close() {
            stopListening();
            (server as { close?: () => void }).close?.();
          },
          connections: () => tcpConnections(bind.port),
        });
      });
    });
  },
};

/**
 * This worker's connections on `port`, and whether one has bytes still to send, from the kernel's
 * table (Linux): uWS does not tell which connections it holds, and the end of a response it took
 * whole may still wait in its own buffer, which it only fills when the socket's send queue is full.
 * null where /proc cannot tell.
 */
function tcpConnections(port: number): { open: number; sending: boolean } | null {
  const mine = new Set<string>();
  try {
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (m) mine.add(m[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    return null;
  }
  let read = false;
  let open = 0;
  let sending = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    read = true;
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !mine.has(f[9]!) || f[3] === '0A') continue; // 0A: a listener
      if (parseInt(f[1]!.slice(f[1]!.lastIndexOf(':') + 1), 16) !== port) continue;
      open++;
      if (parseInt(f[4]!.split(':')[0]!, 16) > 0) sending = true;
    }
  }
  return read ? { open, sending } : null;
}

/**
 * Text messages, as the WebSocket standard decodes them: a leading BOM is kept (ignoreBOM). uWS has
 * checked they are UTF-8 (it closes with 1007 otherwise). Half the cost of Buffer's toString here.
 */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Seconds: the longest idle timeout uWS takes (it refuses more than 960). */
const UWS_IDLE_TIMEOUT = 960;

/** A uWS WebSocket as the socket's transport. uWS calls the close handler from end() and close() at once. */
class UwsTransport implements Transport {
  constructor(private readonly ws: WebSocket<UwsSocketData>) {}
  send(data: string | Uint8Array | ArrayBuffer, binary: boolean): void {
    this.ws.send(data, binary);
  }
  close(code: number, reason: string): void {
    this.ws.end(code, reason);
  }
  terminate(): void {
    this.ws.close();
  }
  ping(): void {
    this.ws.ping();
  }
  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
}

/**
 * The WebSocket route. Its upgrade handler serves the request like any other; the rest drives the
 * socket the app got from upgradeWebSocket. Nothing sent is dropped (maxBackpressure 0: no limit;
 * the app watches bufferedAmount, as with any WebSocket). The idle timeout apps see is the socket's
 * own (WebSocketHub); uWS's stays at its longest with its pings, as a safety net: it drops a dead
 * peer of a socket whose app turned idleTimeout off, and a connection that lingers after a close
 * (uWS times those out with it). uWS cuts a message over maxPayloadLength without a close frame:
 * it takes up to twice websocket_max_message_size so that qilin sees a message over the limit and
 * closes with 1009.
 */
function socketBehavior(context: BindContext) {
  const hub: WebSocketHub = context.websockets;
  const max = hub.maxMessageSize;
  return {
    compression: 0,
    maxPayloadLength: Math.min(max * 2, 0xffffffff),
    maxBackpressure: 0,
    idleTimeout: UWS_IDLE_TIMEOUT,
    sendPingsAutomatically: true,
    upgrade: createUpgradeHandler(context),
    open(ws: WebSocket<UwsSocketData>) {
      ws.getUserData().socket.opened(new UwsTransport(ws), hub);
    },
    message(ws: WebSocket<UwsSocketData>, message: ArrayBuffer, isBinary: boolean) {
      const socket = ws.getUserData().socket;
      if (message.byteLength > max) {
        socket.failed(`a message of ${message.byteLength} bytes is larger than websocket_max_message_size (${max})`);
        socket.closeWith(1009, 'Message too big');
        return;
      }
      // uWS reuses the message's memory once this returns: copy it (decoding a text message copies it).
      socket.received(isBinary ? new Uint8Array(message.slice(0)) : utf8.decode(message));
    },
    ping(ws: WebSocket<UwsSocketData>) {
      ws.getUserData().socket.alive();
    },
    pong(ws: WebSocket<UwsSocketData>) {
      ws.getUserData().socket.alive();
    },
    close(ws: WebSocket<UwsSocketData>, code: number, message: ArrayBuffer) {
      ws.getUserData().socket.closed(code, Buffer.from(message).toString('utf8'), code !== 1006);
    },
  };
}
