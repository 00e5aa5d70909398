// uws engine: each worker opens its own SO_REUSEPORT listener per TCP bind (uWS's default on
// Linux); the kernel spreads new connections over the workers' listeners. With TLS, an SSLApp,
// which reads the certificate files as the worker starts.
import { formatBind } from '../../config.js';
import type { Listener } from '../../http/exchange.js';
import type { Settings } from '../../settings.js';
import { describeUwsTls, uwsTlsOptions } from '../../tls.js';
import { ListenFailed, type EngineListener, type ServedBind, type ServingEngine } from '../types.js';
import { createHandler } from './handler.js';
import { loadUws, type TemplatedApp, type us_listen_socket } from './load.js';

/**
 * uWS corks writes into one 16 KiB buffer per loop; a streamed chunk's frame is its hex size and
 * two CRLFs (at most 8 bytes for a piece this size), so a piece this big always fits an empty one.
 */
const CORK_BUFFER = 16 * 1024;

export const uwsEngine: ServingEngine = {
  writePiece: CORK_BUFFER - 16,
  boot: () => loadUws().build,
  listen(bind: ServedBind, listener: Listener, settings: Settings): Promise<EngineListener> {
    if (listener.nodeApp) return Promise.reject(new ListenFailed('the uws engine cannot serve a Node-style app'));
    const { uws } = loadUws();
    if (bind.kind !== 'tcp') return Promise.reject(new ListenFailed(`the uws engine cannot serve ${formatBind(bind)}`));
    let server: TemplatedApp;
    if (listener.scheme === 'https') {
      const options = uwsTlsOptions(settings);
      try {
        server = uws.SSLApp(options);
      } catch {
        // uWS says only "App construction failed". The arbiter checked the same with node's
        // OpenSSL: what is left is a file this worker's user cannot read, or a cipher list
        // uWS's own TLS library (BoringSSL) does not take.
        const hint = options.ssl_ciphers === undefined ? 'can this worker\'s user read the files?'
          : 'can this worker\'s user read the files? BoringSSL, which uWS is built with, may not know these ciphers';
        return Promise.reject(new ListenFailed(`uWebSockets.js cannot set up TLS for ${formatBind(bind)} from ${describeUwsTls(options)} (${hint})`));
      }
    } else {
      server = uws.App();
    }
    server.any('/*', createHandler(listener));
    return new Promise((resolve, reject) => {
      server.listen(bind.host, bind.port, (socket: us_listen_socket | false) => {
        if (!socket) {
          reject(new ListenFailed(`Connection in use: ${formatBind(bind)} (worker could not listen)`));
          return;
        }
        let listening = true;
        const stopListening = () => {
          if (listening) { listening = false; uws.us_listen_socket_close(socket); }
        };
        resolve({
          stopListening,
          close() {
            stopListening();
            (server as { close?: () => void }).close?.();
          },
        });
      });
    });
  },
};
