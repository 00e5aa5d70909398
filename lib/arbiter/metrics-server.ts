// The arbiter's /metrics server (metrics_bind): `GET /metrics` and nothing else, never the app. What
// it answers is rendered by lib/metrics/prometheus.ts; binding it follows the arbiter's own sockets
// (a stale unix socket file replaced, Gunicorn's wording when the address cannot be bound).
import type * as http from 'node:http';
import { nodeHttp } from '../ops/node-http.js';
import { unlinkSync } from 'node:fs';
import { formatBind, type BindAddress } from '../config/binds.js';
import { SocketError, bindFailure, removeStale } from './sockets.js';

/** `GET /metrics` on metrics_bind, answered with what `render()` gives. */
export class MetricsServer {
  private constructor(
    private readonly server: http.Server,
    readonly bind: BindAddress,
  ) {}

  /** Listens on `bind` (a SocketError with Gunicorn's wording when it cannot) and serves `render()`. */
  static async open(bind: BindAddress, umask: number, render: () => string): Promise<MetricsServer> {
    const where = formatBind(bind);
    const server = nodeHttp.createServer((req, res) => {
      const path = req.url?.split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n');
        return;
      }
      const body = render();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    if (bind.kind === 'unix') await removeStale(bind.path, where);
    const old = bind.kind === 'unix' ? process.umask(umask) : null;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          resolve();
        };
        if (bind.kind === 'unix') server.listen(bind.path, done);
        else
          server.listen(
            { host: bind.kind === 'tcp' ? bind.host : undefined, port: bind.kind === 'tcp' ? bind.port : 0 },
            done,
          );
      });
    } catch (err) {
      throw new SocketError(bindFailure((err as NodeJS.ErrnoException).code ?? '', where, (err as Error).message));
    } finally {
      if (old !== null) process.umask(old);
    }
    const a = server.address();
    const bound: BindAddress =
      bind.kind === 'tcp' && a !== null && typeof a === 'object' ? { ...bind, port: a.port } : bind;
    return new MetricsServer(server, bound);
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    if (this.bind.kind === 'unix') {
      try {
        unlinkSync(this.bind.path);
      } catch {
        /* gone already */
      }
    }
  }
}
