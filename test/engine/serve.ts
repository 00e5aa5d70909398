// Serve a fetch handler with one engine inside this test process, as a worker serves a bind: the
// engine's serving half from lib/engines/index.ts, a listener resource in an effection scope with
// its own pool (worker_connections), and the listener's fields filled from the settings the way the
// worker fills them. No arbiter, no fork, no build: the TypeScript sources run through tsx.
//
// The node engine listens on a socket it is handed (the arbiter's, in a real server): here a TCP
// socket bound to 127.0.0.1 port 0 with node's handle factory, as the arbiter binds one. The uws
// engine opens its own listener on the port it is told: here a port the OS reports free.
import net from 'node:net';
import { call, run, suspend, type Operation } from 'effection';
import { defaultSettings, type Settings } from '../../lib/config/settings.js';
import { servingEngine, type EngineName } from '../../lib/engines/index.js';
import type { EngineServer, ServedBind } from '../../lib/engines/types.js';
import { noUwsReason, probeUws } from '../../lib/engines/uws/load.js';
import type { FetchHandler, ServeInfo } from '../../lib/app/shapes.js';
import type { BindContext, PoolTask } from '../../lib/http/contracts.js';
import { forwardedPolicy } from '../../lib/http/forwarded.js';
import { installLightGlobals } from '../../lib/http/globals.js';
import { requestLimits } from '../../lib/http/rules.js';
import { WebSocketHub } from '../../lib/http/websocket.js';
import type { RequestLog } from '../../lib/ops/log.js';
import { schemeOf } from '../../lib/ops/tls.js';
import { usePool, type Pool } from '../../lib/worker/pool.js';

export type { ServeInfo };

/** Why the uws engine cannot run here (no native uWebSockets.js build loads), or null. */
export function uwsUnavailable(): string | null {
  const probe = probeUws(null);
  return probe.loaded ? null : noUwsReason(probe);
}

/** One finished request as the access log would be told of it. */
export interface Logged {
  method: string;
  target: string;
  status: number;
  length: number;
  remote: string;
}

export interface Served {
  readonly port: number;
  readonly url: string;
  readonly pool: Pool;
  readonly listener: BindContext;
  /** What the listener reported through onError (the app's failures). */
  readonly errors: { msg: string; err: unknown }[];
  /** Finished requests, when served with `log: true`. */
  readonly logged: Logged[];
  /** Exchanges finished (the worker's max_requests count). */
  readonly done: () => number;
  /** Stop listening, cancel what the pool holds, close: what leaving the worker's scope does. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  settings?: Partial<Settings>;
  /** Tell a request log of each finished request (the access log's path through the engines). */
  log?: boolean;
}

/** A TCP socket bound to 127.0.0.1 on a port the OS picks, not listening yet (the node engine listens on it). */
function boundSocket(): { fd: number; port: number } {
  const createServerHandle = (
    net as unknown as {
      _createServerHandle(
        address: string,
        port: number,
        addressType: number,
      ): { fd: number; getsockname(out: { port?: number }): number } | number;
    }
  )._createServerHandle;
  const handle = createServerHandle('127.0.0.1', 0, 4);
  if (typeof handle === 'number') throw new Error(`cannot bind 127.0.0.1:0 (errno ${handle})`);
  const name: { port?: number } = {};
  handle.getsockname(name);
  // The engine's server takes the descriptor over and closes it; this handle is never used again.
  return { fd: handle.fd, port: name.port! };
}

/** A port free on 127.0.0.1 now (the uws engine must be told a port: it refuses one it did not get). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function serve(engineName: EngineName, app: FetchHandler, opts: ServeOptions = {}): Promise<Served> {
  const settings: Settings = { ...defaultSettings({}), ...opts.settings };
  const engine = await servingEngine(engineName);
  engine.boot();
  // A worker makes `new Response()` in app code the light one before it loads the app.
  installLightGlobals();

  const errors: { msg: string; err: unknown }[] = [];
  const logged: Logged[] = [];
  let finished = 0;
  const requestLog: RequestLog | null = opts.log
    ? {
        detailed: true,
        peer: true,
        write: (e) => {
          logged.push({ method: e.method, target: e.target, status: e.status, length: e.length, remote: e.remote });
        },
      }
    : null;

  for (let attempt = 1; ; attempt++) {
    let bind: ServedBind;
    if (engineName === 'node') {
      const { fd, port } = boundSocket();
      bind = { kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}`, childFd: fd };
    } else {
      const port = await freePort();
      bind = { kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}` };
    }
    let ready!: (v: { pool: Pool; listener: BindContext }) => void;
    const listening = new Promise<{ pool: Pool; listener: BindContext }>((resolve) => {
      ready = resolve;
    });
    const task = run(function* (): Operation<void> {
      const pool = yield* usePool(settings.worker_class === 'sync' ? 1 : settings.worker_connections);
      const listener: BindContext = {
        app,
        nodeApp: null,
        requestLog,
        authority: `${bind.kind === 'tcp' ? bind.host : 'localhost'}:${bind.kind === 'tcp' ? bind.port : 0}`,
        forwarded: forwardedPolicy(settings),
        unixPath: null,
        scheme: schemeOf(settings),
        limits: requestLimits(settings),
        draining: false,
        submit: (t: PoolTask) => pool.submit(t),
        release: (t: PoolTask) => pool.release(t),
        requestDone: () => {
          finished++;
        },
        writePiece: engine.writePiece,
        closesAtOnce: engine.closesAtOnce,
        writesDate: engine.writesDate,
        headInStatus: engine.headInStatus,
        onError: (msg, err) => {
          errors.push({ msg, err });
        },
        note: () => {},
        websockets: new WebSocketHub(settings.websocket_max_message_size),
      };
      const served: EngineServer = yield* call(() => engine.listen(bind, listener, settings));
      try {
        ready({ pool, listener });
        yield* suspend();
      } finally {
        served.stopListening();
        pool.halt();
        listener.websockets.terminate();
        served.close();
      }
    });
    let up: { pool: Pool; listener: BindContext };
    try {
      up = await Promise.race([
        listening,
        task.then(() => {
          throw new Error('the listener ended before it served');
        }),
      ]);
    } catch (err) {
      // Another process took the free port in between (uws): try another.
      if (attempt < 5 && /Connection in use/.test(String(err))) continue;
      throw err;
    }
    const port = bind.kind === 'tcp' ? bind.port : 0;
    return {
      port,
      url: `http://127.0.0.1:${port}`,
      pool: up.pool,
      listener: up.listener,
      errors,
      logged,
      done: () => finished,
      stop: async () => {
        await task.halt();
      },
    };
  }
}
