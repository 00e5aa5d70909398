// What an exported app is, told by duck typing, and how qilin serves each shape. The rules, in order
// (README, "Apps"): an object with a `fetch` method is fetch-style (Hono, itty-router); then the
// Node frameworks, each by properties no other shape has; then a bare function by its declared
// parameters (`app_interface` settles it): `(request)` is fetch-style, `(req, res)` Node-style.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FetchHandler } from './http/exchange.js';

export type AppInterface = 'auto' | 'fetch' | 'node';

/** A Node-style request handler, as node:http calls it. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Something with `on`/`emit`/`listeners`: a node:http Server, or what an app built one on. */
export interface AppServer {
  emit(event: string, ...args: unknown[]): boolean;
  listeners(event: string): Function[];
  listenerCount(event: string): number;
}

export interface FetchApp {
  readonly style: 'fetch';
  /** What it was recognised as, for the log: `an object with a fetch method`. */
  readonly what: string;
  readonly fetch: FetchHandler;
  readonly close: null;
}

export interface NodeApp {
  readonly style: 'node';
  readonly what: string;
  readonly handler: NodeHandler;
  /** The server the app built, if any: its 'upgrade' and 'checkContinue' listeners get those events. */
  readonly server: AppServer | null;
  /** Awaited before the worker reports ready (Fastify's ready(), Nest's init()). */
  readonly start: (() => Promise<unknown>) | null;
  /** Called on graceful stop, so the framework's own shutdown hooks run (Fastify, Nest). */
  readonly close: (() => Promise<unknown>) | null;
}

export type LoadedApp = FetchApp | NodeApp;

type Obj = Record<string | symbol, unknown>;
const isFn = (v: unknown): v is Function => typeof v === 'function';
const isObj = (v: unknown): v is Obj => (typeof v === 'object' && v !== null) || typeof v === 'function';

function isServer(v: unknown): v is AppServer {
  return isObj(v) && isFn(v.emit) && isFn(v.listeners) && isFn(v.listenerCount) && isFn(v.listen);
}

/** A handler that hands each request to whatever listens for 'request' on `server`. */
function serverHandler(server: AppServer): NodeHandler {
  const own = server.listeners('request');
  // One listener (the usual `http.createServer(app)`): call it directly.
  if (own.length === 1) {
    const fn = own[0] as NodeHandler;
    return (req, res) => fn.call(server, req, res);
  }
  return (req, res) => server.emit('request', req, res);
}

function nodeApp(what: string, handler: NodeHandler, extra: Partial<Omit<NodeApp, 'style' | 'what' | 'handler'>> = {}): NodeApp {
  return { style: 'node', what, handler, server: extra.server ?? null, start: extra.start ?? null, close: extra.close ?? null };
}

/** A Node framework or server, recognised by properties only it has; else null. */
function nodeShape(v: unknown): NodeApp | null {
  if (!isObj(v)) return null;
  // NestJS (INestApplication): NestFactory.create built its HTTP server; init() registers the routes.
  if (isFn(v.getHttpAdapter) && isFn(v.getHttpServer) && isFn(v.init) && isFn(v.close)) {
    const nest = v as { init(): Promise<unknown>; close(): Promise<unknown>; getHttpServer(): unknown };
    const server = nest.getHttpServer();
    if (isServer(server)) {
      return nodeApp('a NestJS app', serverHandler(server), { server, start: () => nest.init(), close: () => nest.close() });
    }
  }
  // Fastify: builds its own node:http server at creation; ready() loads its plugins.
  if (isFn(v.ready) && isFn(v.routing) && isFn(v.inject) && isFn(v.register) && isServer(v.server)) {
    const server = v.server;
    const fastify = v as { ready(): Promise<unknown>; close(): Promise<unknown> };
    return nodeApp('a Fastify app', serverHandler(server), {
      server, start: () => fastify.ready(), close: () => fastify.close(),
    });
  }
  // Koa: an object whose callback() makes the (req, res) handler.
  if (!isFn(v) && isFn(v.callback) && isFn(v.use) && Array.isArray(v.middleware)) {
    return nodeApp('a Koa app', (v.callback as () => NodeHandler).call(v));
  }
  // Express and Connect: the app is itself the (req, res, next) handler.
  if (isFn(v) && isFn(v.handle) && isFn(v.use) && isFn(v.listen)) {
    const express = isFn(v.set) && isObj(v.settings);
    return nodeApp(express ? 'an Express app' : 'a Connect app', v as unknown as NodeHandler);
  }
  // A node:http Server (or https, or http2 in HTTP/1 mode) with a request listener.
  if (isServer(v) && v.listenerCount('request') > 0) {
    return nodeApp('a node http.Server', serverHandler(v), { server: v });
  }
  return null;
}

function fetchShape(v: unknown): FetchApp | null {
  if (isObj(v) && !isFn(v) && isFn(v.fetch)) {
    const target = v as { fetch: FetchHandler };
    return { style: 'fetch', what: 'an object with a fetch method', fetch: target.fetch.bind(target), close: null };
  }
  return null;
}

const isClass = (f: Function) => /^class\b/.test(Function.prototype.toString.call(f));

/** Describe a value that is no app, for the error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (isFn(v)) return isClass(v) ? `a class (${v.name || 'anonymous'}): export an instance` : `a function`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (isServer(v)) return 'a server with no \'request\' listener';
    return keys.length ? `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}` : 'an empty object';
  }
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

export const SHAPES =
  'a fetch handler (request) => Response, an object with a fetch method (Hono), an Express or Connect app, ' +
  'a Koa app, a Fastify instance, a NestJS app, a node http.Server with a \'request\' listener, ' +
  'a (req, res) function, or a factory call MODULE:create_app() returning one';

/** Why `v` cannot be served as asked; the message names `label` ('app' in 'app.js'). */
export class ShapeError extends Error {
  /** It is no app at all (not merely the wrong interface): worth listing the module's exports. */
  constructor(message: string, readonly notAnApp = false) { super(message); }
}

/** The shape of `v` under `appInterface`; throws ShapeError when it is none or the wrong one. */
export function recognise(v: unknown, appInterface: AppInterface, label: string): LoadedApp {
  const known = fetchShape(v) ?? nodeShape(v);
  if (known) {
    if (appInterface !== 'auto' && known.style !== appInterface) {
      throw new ShapeError(
        `${label} is ${known.what} (${known.style === 'node' ? 'Node-style' : 'fetch-style'}), but app_interface is ${appInterface}.`,
      );
    }
    return known;
  }
  if (isFn(v) && !isClass(v)) {
    // Function.length counts the parameters before the first default or rest one.
    const style = appInterface !== 'auto' ? appInterface : v.length >= 2 ? 'node' : 'fetch';
    if (style === 'node') return nodeApp('a (req, res) function', v as NodeHandler);
    return { style: 'fetch', what: 'a fetch handler', fetch: v as FetchHandler, close: null };
  }
  throw new ShapeError(`${label} is not an app qilin can serve: it is ${describe(v)}. qilin serves ${SHAPES}.`, true);
}
