// What an exported app is, told by duck typing, and how qilin serves each shape. The rules, in order
// (docs/apps.md, "How qilin tells apps apart"): an object with a `fetch` method is fetch-style (Hono,
// itty-router); then the Node frameworks, each by properties no other shape has; then a bare function
// by its declared parameters (guessInterface), unless `app_interface` says how to call it.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type AppInterface = 'auto' | 'fetch' | 'node';
export type AppStyle = 'fetch' | 'node';

/** The client as Deno's `ServeHandlerInfo.remoteAddr` gives it (Hono's getConnInfo from 'hono/deno' reads it). */
export type RemoteAddr =
  | { readonly transport: 'tcp'; readonly hostname: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string };

/** A fetch app's second argument, as Deno.serve passes it. */
export interface ServeInfo {
  readonly remoteAddr: RemoteAddr;
}

/** A fetch-style app, after loading: `(request, info) => Response | Promise<Response>`. */
export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** A Node-style request handler, as node:http calls it. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Something with `on`/`emit`/`listeners`: a node:http Server, or what an app built one on. */
export interface AppServer {
  emit(event: string, ...args: unknown[]): boolean;
  listeners(event: string): unknown[];
  listenerCount(event: string): number;
}

/** How a bare function (no framework, no object) came to be called as it is. */
export interface BareFunction {
  /** Its parameters as declared, `(...args)`; '' when its source shows none (a bound function). */
  readonly params: string;
  /** By its parameters (app_interface auto), not as app_interface said. */
  readonly guessed: boolean;
  /** What in its parameters decided it: `a second parameter named res`. */
  readonly why: string;
}

interface Recognised {
  /** What it was recognised as, for the log: `an object with a fetch method`. */
  readonly what: string;
  /** Where it came from, for the log: `'handler' in 'entry.mjs'` ('' until loaded). */
  readonly label: string;
  /** Set for a bare function. */
  readonly bare: BareFunction | null;
}

export interface FetchApp extends Recognised {
  readonly style: 'fetch';
  readonly fetch: FetchHandler;
  readonly close: null;
}

export interface NodeApp extends Recognised {
  readonly style: 'node';
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
/** Any function: what it takes and returns is read from it (or cast) where it is called. */
type AnyFunction = (...args: never[]) => unknown;
const isFn = (v: unknown): v is AnyFunction => typeof v === 'function';
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

function nodeApp(
  what: string,
  handler: NodeHandler,
  extra: Partial<Omit<NodeApp, 'style' | 'what' | 'handler'>> = {},
): NodeApp {
  return {
    style: 'node',
    what,
    label: '',
    bare: extra.bare ?? null,
    handler,
    server: extra.server ?? null,
    start: extra.start ?? null,
    close: extra.close ?? null,
  };
}

/**
 * Nest's init() registers the routes; on Fastify (@nestjs/platform-fastify) the routes are added to
 * a Fastify instance that Nest makes ready() only in its listen(), and a Fastify that is not ready
 * answers no request: qilin never calls listen(), so it makes it ready itself.
 */
async function nestStart(nest: { init(): Promise<unknown>; getHttpAdapter(): unknown }): Promise<void> {
  await nest.init();
  const adapter = nest.getHttpAdapter();
  if (!isObj(adapter) || !isFn(adapter.getType) || (adapter.getType as () => unknown).call(adapter) !== 'fastify')
    return;
  const instance = isFn(adapter.getInstance) ? (adapter.getInstance as () => unknown).call(adapter) : null;
  if (isObj(instance) && isFn(instance.ready)) await (instance.ready as () => Promise<unknown>).call(instance);
}

/** A Node framework or server, recognised by properties only it has; else null. */
function nodeShape(v: unknown): NodeApp | null {
  if (!isObj(v)) return null;
  // NestJS (INestApplication): NestFactory.create built its HTTP server; init() registers the routes.
  if (isFn(v.getHttpAdapter) && isFn(v.getHttpServer) && isFn(v.init) && isFn(v.close)) {
    const nest = v as {
      init(): Promise<unknown>;
      close(): Promise<unknown>;
      getHttpServer(): unknown;
      getHttpAdapter(): unknown;
    };
    const server = nest.getHttpServer();
    if (isServer(server)) {
      return nodeApp('a NestJS app', serverHandler(server), {
        server,
        start: () => nestStart(nest),
        close: () => nest.close(),
      });
    }
  }
  // Fastify: builds its own node:http server at creation; ready() loads its plugins.
  if (isFn(v.ready) && isFn(v.routing) && isFn(v.inject) && isFn(v.register) && isServer(v.server)) {
    const server = v.server;
    const fastify = v as { ready(): Promise<unknown>; close(): Promise<unknown> };
    return nodeApp('a Fastify app', serverHandler(server), {
      server,
      start: () => fastify.ready(),
      close: () => fastify.close(),
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
    return {
      style: 'fetch',
      what: 'an object with a fetch method',
      label: '',
      bare: null,
      fetch: target.fetch.bind(target),
      close: null,
    };
  }
  return null;
}

/** One declared parameter: its name ('' for a destructuring pattern), and whether it is the rest one. */
export interface DeclaredParameter {
  readonly name: string;
  readonly rest: boolean;
}

const ID_START = /[\p{ID_Start}$_#]/u;
const ID = /^#?[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*/u;
/** After one of these, a `/` starts a regular expression literal, not a division. */
const BEFORE_REGEX = new Set([
  '',
  '(',
  ',',
  '=',
  ':',
  '[',
  '!',
  '&',
  '|',
  '?',
  '{',
  '}',
  ';',
  '+',
  '-',
  '*',
  '%',
  '<',
  '>',
  '~',
  '^',
]);

/** `i` moved past whitespace and comments. */
function skipTrivia(s: string, i: number): number {
  for (;;) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (s.startsWith('//', i)) {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl + 1;
    } else if (s.startsWith('/*', i)) {
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? s.length : end + 2;
    } else {
      return i;
    }
  }
}

/** The index just past the token that starts at `i`: a string, template, regex, comment or balanced group. */
function skipToken(s: string, i: number, before: string): number {
  const c = s[i]!;
  if (c === '"' || c === "'") {
    for (i++; i < s.length && s[i] !== c; i++) if (s[i] === '\\') i++;
    return i + 1;
  }
  if (c === '`') {
    for (i++; i < s.length && s[i] !== '`'; i++) {
      if (s[i] === '\\') i++;
      else if (s.startsWith('${', i)) i = closeOf(s, i + 1) - 1;
    }
    return i + 1;
  }
  if (c === '/' && (s[i + 1] === '/' || s[i + 1] === '*')) return skipTrivia(s, i);
  if (c === '/' && BEFORE_REGEX.has(before)) {
    let inClass = false;
    for (i++; i < s.length; i++) {
      if (s[i] === '\\') i++;
      else if (s[i] === '[') inClass = true;
      else if (s[i] === ']') inClass = false;
      else if (s[i] === '/' && !inClass) break;
    }
    return i + 1;
  }
  if (c === '(' || c === '[' || c === '{') return closeOf(s, i);
  return i + 1;
}

/** The index just past the bracket that closes the one at `open`. */
function closeOf(s: string, open: number): number {
  const close = ({ '(': ')', '[': ']', '{': '}' } as Record<string, string>)[s[open]!]!;
  let before = s[open]!;
  let i = open + 1;
  while (i < s.length) {
    i = skipTrivia(s, i);
    if (i >= s.length) break;
    if (s[i] === close) return i + 1;
    const next = skipToken(s, i, before);
    before = s.slice(next - 1, next).trim();
    if (/[\w$]/.test(before)) before = 'x';
    i = next;
  }
  return s.length;
}

/** The text between the parentheses of a function's parameter list, or the lone parameter of `x => …`; null if none shows. */
function parameterList(source: string): string | null {
  const s = source;
  // Native and bound functions show no parameters, whatever they take.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(s)) return null;
  let i = skipTrivia(s, 0);
  if (s[i] === '*') i = skipTrivia(s, i + 1); // a generator method
  const word = () => ID.exec(s.slice(i))?.[0] ?? null;
  const paren = (): string | null => (s[i] === '(' ? s.slice(i + 1, closeOf(s, i) - 1) : null);
  let w = word();
  if (w === 'class') return null;
  // Modifiers, unless they are the name itself: `async(a) {}` is a method named async, `async => 1` an arrow.
  while (w === 'async' || w === 'get' || w === 'set' || w === 'static' || w === 'function') {
    const after = skipTrivia(s, i + w.length);
    if (w !== 'function' && (s[after] === '(' || s.startsWith('=>', after))) break;
    i = after;
    if (s[i] === '*') i = skipTrivia(s, i + 1);
    w = word();
  }
  if (s[i] === '(') return paren();
  // The name: an identifier, a string or number, or a computed [key].
  if (w !== null) i += w.length;
  else if (s[i] === '[' || s[i] === '"' || s[i] === "'") i = skipToken(s, i, '');
  else if (/\d/.test(s[i] ?? '')) i += /^[\w.]+/.exec(s.slice(i))![0].length;
  else return null;
  i = skipTrivia(s, i);
  if (w !== null && s.startsWith('=>', i)) return w;
  return paren();
}

/** Split a parameter list at its top-level commas. */
function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let before = '';
  let i = 0;
  while (i < list.length) {
    i = skipTrivia(list, i);
    if (i >= list.length) break;
    if (list[i] === ',') {
      parts.push(list.slice(start, i));
      start = i + 1;
      before = ',';
      i++;
      continue;
    }
    const next = skipToken(list, i, before);
    before = /[\w$)\]]/.test(list[next - 1]!) ? 'x' : list[next - 1]!;
    i = next;
  }
  parts.push(list.slice(start));
  return parts;
}

/**
 * The parameters a function declares, read from its source (Function.prototype.toString): only
 * the parameter list is parsed, past comments, defaults and destructuring. Null when the source
 * shows none (native and bound functions, classes).
 */
export function declaredParameters(source: string): DeclaredParameter[] | null {
  const list = parameterList(source);
  if (list === null) return null;
  const out: DeclaredParameter[] = [];
  for (const part of splitTopLevel(list)) {
    let i = skipTrivia(part, 0);
    if (i >= part.length) continue; // a trailing comma
    const rest = part.startsWith('...', i);
    if (rest) i = skipTrivia(part, i + 3);
    const name = ID_START.test(part[i] ?? '') ? (ID.exec(part.slice(i))?.[0] ?? '') : '';
    out.push({ name, rest });
  }
  return out;
}

/** `(req, res)`, `(...args)`, `({…}, next)`: the parameters as the log shows them. */
export function formatParameters(params: readonly DeclaredParameter[]): string {
  return `(${params.map((p) => (p.rest ? '...' : '') + (p.name || '{…}')).join(', ')})`;
}

// Names say what a parameter holds: Node's response object, the next middleware, or a fetch
// handler's context (Deno's info, Bun's server, Workers' env and ctx, React Router's loadContext,
// fetch's own init). A word matches whole (any case, leading `_` or `$` aside), as the end of a
// snake_case name (`node_res`), or capitalised as the end of a camelCase one (`nodeRes`).
const RESPONSE = {
  words: ['res', 'resp', 'response', 'reply', 'rep', 'rsp', 'outgoing'],
  tails: ['Res', 'Resp', 'Response', 'Reply'],
};
const NEXT = { words: ['next', 'done', 'cb', 'callback'], tails: ['Next', 'Callback'] };
const CONTEXT = {
  words: [
    'ctx',
    'context',
    'env',
    'environment',
    'info',
    'server',
    'platform',
    'bindings',
    'options',
    'opts',
    'init',
    'event',
  ],
  tails: ['Context', 'Ctx', 'Env', 'Info', 'Bindings', 'Server', 'Init'],
};

function namedLike(
  p: DeclaredParameter | undefined,
  kind: { words: string[]; tails: string[] },
): p is DeclaredParameter {
  if (p === undefined || p.rest || p.name === '') return false;
  const name = p.name.replace(/^[_$]+/, '');
  if (kind.words.includes(name.toLowerCase())) return true;
  const snake = name.lastIndexOf('_');
  if (snake > 0 && kind.words.includes(name.slice(snake + 1).toLowerCase())) return true;
  return kind.tails.some(
    (t) => name.length > t.length && name.endsWith(t) && /[a-z0-9]/.test(name[name.length - t.length - 1]!),
  );
}

const COUNT = ['no', 'one', 'two', 'three', 'four'];

export interface InterfaceGuess {
  readonly style: AppStyle;
  /** The declared parameters as written, null when the source shows none. */
  readonly params: readonly DeclaredParameter[] | null;
  /** What decided it, for the log: `a second parameter named res`. */
  readonly why: string;
}

/**
 * How to call a bare function, from its declared parameters: a parameter named like Node's
 * response, or a third named next, is Node-style; a second named like a context is a fetch
 * handler's; a rest parameter alone is a forwarder to a Node-style handler (Astro's). Else its
 * length: two or more parameters before any default are Node-style, fewer fetch-style.
 */
export function guessInterface(source: string, length: number): InterfaceGuess {
  const params = declaredParameters(source);
  const style: AppStyle = length >= 2 ? 'node' : 'fetch';
  if (params === null) return { style, params, why: `its length, ${length}` };
  if (params.length === 0) return { style: 'fetch', params, why: 'no parameters' };
  if (params[0]!.rest) return { style: 'node', params, why: 'a rest parameter only' };
  const response = params.slice(1).find((p) => namedLike(p, RESPONSE));
  if (response) return { style: 'node', params, why: `a parameter named ${response.name}` };
  if (namedLike(params[2], NEXT)) return { style: 'node', params, why: `a third parameter named ${params[2].name}` };
  if (namedLike(params[1], CONTEXT))
    return { style: 'fetch', params, why: `a second parameter named ${params[1].name}` };
  const counted = `${COUNT[length] ?? length} parameter${length === 1 ? '' : 's'}`;
  return { style, params, why: params.length > length ? `${counted} before any default or rest one` : counted };
}

const isClass = (f: AnyFunction) => /^class\b/.test(Function.prototype.toString.call(f));

/** Describe a value that is no app, for the error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (isFn(v)) return isClass(v) ? `a class (${v.name || 'anonymous'}): export an instance` : `a function`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (isServer(v)) return "a server with no 'request' listener";
    return keys.length
      ? `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}`
      : 'an empty object';
  }
  // What is left is a primitive (a symbol too has a string form).
  return `a ${typeof v} (${String(v as string | number | bigint | boolean | symbol).slice(0, 40)})`;
}

export const SHAPES =
  'a fetch handler (request) => Response, an object with a fetch method (Hono), an Express or Connect app, ' +
  "a Koa app, a Fastify instance, a NestJS app, a node http.Server with a 'request' listener, " +
  'a (req, res) function, or a factory call MODULE:create_app() returning one';

/** Why `v` cannot be served as asked; the message names `label` ('app' in 'app.js'). */
export class ShapeError extends Error {
  /** It is no app at all (not merely the wrong interface): worth listing the module's exports. */
  constructor(
    message: string,
    readonly notAnApp = false,
  ) {
    super(message);
  }
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
    return { ...known, label };
  }
  if (isFn(v) && !isClass(v)) {
    const guess = guessInterface(Function.prototype.toString.call(v), v.length);
    const style = appInterface !== 'auto' ? appInterface : guess.style;
    const params = guess.params === null ? '' : formatParameters(guess.params);
    const bare: BareFunction = { params, guessed: appInterface === 'auto', why: guess.why };
    const what = params ? `a function ${params}` : 'a function';
    if (style === 'node') return { ...nodeApp(what, v as NodeHandler, { bare }), label };
    return { style: 'fetch', what, label, bare, fetch: v as FetchHandler, close: null };
  }
  throw new ShapeError(`${label} is not an app qilin can serve: it is ${describe(v)}. qilin serves ${SHAPES}.`, true);
}

const CALLED = { fetch: 'fetch-style (request)', node: 'Node-style (req, res)' } as const;
const other = (style: AppStyle): AppStyle => (style === 'fetch' ? 'node' : 'fetch');

/**
 * The worker's line on the app it loaded; for a bare function, how it is called, why, and how to
 * call it the other way: `Serving 'handler' in 'entry.mjs': a function (...args), taken as …`.
 */
export function servingLine(app: LoadedApp): string {
  const head = `Serving ${app.label}: ${app.what}`;
  const bare = app.bare;
  if (!bare) return `${head} (${app.style === 'node' ? 'Node-style' : 'fetch-style'})`;
  if (!bare.guessed) return `${head}, called as ${CALLED[app.style]} (app_interface = ${app.style})`;
  const by = bare.params ? `by its parameters (${bare.why})` : `by ${bare.why}`;
  const alt = other(app.style);
  return `${head}, taken as ${CALLED[app.style]} ${by}; set app_interface = ${alt} to call it as ${alt === 'fetch' ? '(request)' : '(req, res)'}`;
}

/** Where a uws refusal of a Node-style app can point a bare function: it may be a fetch handler. */
export function uwsAdvice(bare: boolean): string {
  return bare ? '; or, if it is a fetch handler (request) => Response, set app_interface = fetch' : '';
}

// What a function does with the wrong arguments. Called as fetch (request, info), a Node-style
// handler finds no writeHead/setHeader/end on its `res` (the info object) and no `on`/`pipe` on
// the Request; called as (req, res), a fetch handler finds `req.url` a path (new URL throws) and
// no Headers#get, json() or text().
const NODE_CALLED_AS_FETCH = new RegExp(
  String.raw`\b(?:writeHead|setHeader|getHeader|removeHeader|hasHeader|flushHeaders|writeContinue|end|write|on|once|pipe|resume)\b is not a function` +
    String.raw`|reading '(?:writeHead|setHeader|getHeader|removeHeader|end|write|on|once|pipe|socket|statusCode)'`,
);
const FETCH_CALLED_AS_NODE = new RegExp(
  String.raw`^Invalid URL\b|\.(?:get|json|text|arrayBuffer|formData|blob|bytes|clone)\b is not a function` +
    String.raw`|reading '(?:get|json|text|arrayBuffer|formData|blob|bytes)'`,
);

/**
 * For an error a bare function threw: the app_interface that would have called it right, when the
 * error says it was called the wrong way (a TypeError from reaching for the other interface); else null.
 */
export function interfaceHint(app: Pick<LoadedApp, 'bare' | 'style'>, err: unknown): string | null {
  if (!app.bare || !(err instanceof TypeError)) return null;
  if (app.style === 'fetch' && NODE_CALLED_AS_FETCH.test(err.message)) {
    return 'it looks like a Node-style (req, res) handler, called as fetch (request, info): set app_interface = node (--app-interface node)';
  }
  if (app.style === 'node' && FETCH_CALLED_AS_NODE.test(err.message)) {
    return 'it looks like a fetch handler (request) => Response, called as (req, res): set app_interface = fetch (--app-interface fetch)';
  }
  return null;
}
