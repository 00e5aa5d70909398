// How a bare function is called, from the parameters it declares (no processes needed): the parser
// of parameter lists, and the guess over signatures real apps and frameworks export.
import t from 'tap';
import {
  declaredParameters,
  formatParameters,
  guessInterface,
  interfaceHint,
  servingLine,
  recognise,
} from '../../lib/app/shapes.js';

const params = (source: string) => {
  const p = declaredParameters(source);
  return p === null ? null : formatParameters(p);
};

t.test('parameter lists, however the function is written', async (t) => {
  const cases: [string, string | null][] = [
    ['function handler(req, res) { return 1 }', '(req, res)'],
    ['async function requestHandler(request, initialContext) {\n  _build = 1;\n}', '(request, initialContext)'],
    ['function(e,t){e.end(t)}', '(e, t)'],
    ['function* gen(a, b) {}', '(a, b)'],
    ['async function* gen(a) {}', '(a)'],
    ['(request) => new Response("x")', '(request)'],
    ['request => new Response("x")', '(request)'],
    ['async request => new Response("x")', '(request)'],
    ['async => 1', '(async)'],
    ['async (req, res) => {}', '(req, res)'],
    ['async (...args) => {\n\t\tconst [req, res, next, locals] = args;\n\t}', '(...args)'],
    ['() => new Response("x")', '()'],
    ['fetch(request, env, ctx) { return 1 }', '(request, env, ctx)'],
    ['async fetch(request) { return 1 }', '(request)'],
    ['async(a, b) { return 1 }', '(a, b)'],
    ['get(req, res) {}', '(req, res)'],
    ['*entries(a) {}', '(a)'],
    ['async *entries(a) {}', '(a)'],
    ['#handle(req, res) {}', '(req, res)'],
    ['[Symbol.for("a(b")](req, res) {}', '(req, res)'],
    ['"quoted (name"(req) {}', '(req)'],
    ['42(req, res) {}', '(req, res)'],
    // Defaults, destructuring, comments: only the top-level commas split.
    ['function (req /* IncomingMessage, really */, res // the response, (sic\n) {}', '(req, res)'],
    ['(request, { env = {}, ctx } = {}) => 1', '(request, {…})'],
    ['({ url, method }, [a, b] = [1, 2], ...[c, d]) => 1', '({…}, {…}, ...{…})'],
    ['(a = (1, 2), b = "x,y", c = `t${"u,v" + `w,${1}`}`, d = /[,)]/g, e = 4 / 2, f) => 1', '(a, b, c, d, e, f)'],
    ['(request, info,) => 1', '(request, info)'],
    ['(req, ...rest) => 1', '(req, ...rest)'],
    ['function ($, _res, ünïcode) {}', '($, _res, ünïcode)'],
    // What shows no parameters: native and bound functions, classes.
    ['function () { [native code] }', null],
    ['function bound handler() { [native code] }', null],
    ['class App { fetch(r) {} }', null],
  ];
  for (const [source, want] of cases) t.equal(params(source), want, source.split('\n')[0]!);
  t.equal(params(((a: number, b = 2) => a + b).toString()), '(a, b)', 'a real arrow, as tsx compiled it');
  t.equal(
    params(
      function named(this: unknown, x: unknown) {
        return x;
      }.toString(),
    ),
    '(x)',
    'a real function',
  );
  t.equal(
    params(
      {
        async m(x: unknown, y: unknown) {
          return [x, y];
        },
      }.m.toString(),
    ),
    '(x, y)',
    'a real async method',
  );
});

/** Each: what the function's source is, its length, and how it must be called. */
const SIGNATURES: [string, string, number, 'fetch' | 'node'][] = [
  // Node-style.
  ['Express/Connect middleware', 'function (req, res, next) { next() }', 3, 'node'],
  ['Express error middleware', 'function (err, req, res, next) {}', 4, 'node'],
  ['an async (req, res) arrow', 'async (req, res) => {}', 2, 'node'],
  [
    'Next getRequestHandler()',
    'async (req, res, parsedUrl) => {\n const requestHandler = await this.getServerRequestHandler();\n}',
    3,
    'node',
  ],
  [
    'SvelteKit adapter-node handler (a polka chain)',
    '(req, res, next) => {\n\t\tfunction handle(i) {}\n\t\treturn handle(0);\n\t}',
    3,
    'node',
  ],
  [
    'Nuxt/Nitro listener (h3 toNodeListener)',
    'async function(req, res) {\n    const event = createEvent(req, res);\n  }',
    2,
    'node',
  ],
  [
    'h3 2 / srvx toNodeHandler',
    '(nodeReq, nodeRes) => { return handler(new NodeRequest({ req: nodeReq, res: nodeRes })) }',
    2,
    'node',
  ],
  ['@hono/node-server getRequestListener', 'async (incoming, outgoing) => {}', 2, 'node'],
  ['Koa app.callback()', '(req, res) => {\n      const ctx = this.createContext(req, res);\n    }', 2, 'node'],
  [
    'Astro @astrojs/node middleware mode',
    'async (...args) => {\n\t\tconst [req, res, next, locals] = args;\n\t}',
    0,
    'node',
  ],
  ['a response given a default', '(req, res = null) => {}', 1, 'node'],
  ['a camelCase response', '(request, httpResponse) => {}', 2, 'node'],
  ['a snake_case response', '(request, node_res) => {}', 2, 'node'],
  ['Fastify-style reply', 'async function (request, reply) {}', 2, 'node'],
  ['a third next after unknown names', '(a, b, next) => {}', 3, 'node'],
  ['minified (e,t)', 'function(e,t){t.end("x")}', 2, 'node'],
  ['minified arrow (e,t,n)', '(e,t,n)=>n()', 3, 'node'],
  ['a bound (req, res) function', 'function () { [native code] }', 2, 'node'],
  // Fetch-style.
  ['(request)', '(request) => new Response("x")', 1, 'fetch'],
  ['()', '() => new Response("x")', 0, 'fetch'],
  ['minified (e)', 'e=>new Response(e.url)', 1, 'fetch'],
  ['React Router createRequestHandler', 'async function requestHandler(request, initialContext) {}', 2, 'fetch'],
  ['Remix getLoadContext style', '(request, loadContext) => {}', 2, 'fetch'],
  ['Deno.serve handler', '(req, info) => new Response(info.remoteAddr.hostname)', 2, 'fetch'],
  ['Bun fetch(req, server)', 'fetch(req, server) { return server.upgrade(req) }', 2, 'fetch'],
  ['Workers fetch(request, env, ctx)', 'async fetch(request, env, ctx) {}', 3, 'fetch'],
  [
    'Hono app.fetch',
    '(request, ...rest) => {\n      return this.#dispatch(request, rest[1], rest[0], request.method);\n    }',
    1,
    'fetch',
  ],
  ['Hono app.fetch typed', '(request, Env, executionCtx) => {}', 3, 'fetch'],
  ['Vercel Edge (request, context)', 'async function handler(request, context) {}', 2, 'fetch'],
  ['a context given a default', '(request, { remoteAddr } = {}) => {}', 1, 'fetch'],
  ['a _ctx', '(request, _ctx) => {}', 2, 'fetch'],
  ['a bound fetch handler', 'function () { [native code] }', 1, 'fetch'],
];

t.test('real-world signatures', async (t) => {
  for (const [what, source, length, style] of SIGNATURES) {
    const guess = guessInterface(source, length);
    t.equal(guess.style, style, `${what}: ${style} (${guess.why})`);
  }
});

t.test('what decided it', async (t) => {
  t.equal(guessInterface('async (...args) => {}', 0).why, 'a rest parameter only');
  t.equal(guessInterface('(req, res) => {}', 2).why, 'a parameter named res');
  t.equal(guessInterface('(a, b, next) => {}', 3).why, 'a third parameter named next');
  t.equal(guessInterface('(request, initialContext) => {}', 2).why, 'a second parameter named initialContext');
  t.equal(guessInterface('(e, t) => {}', 2).why, 'two parameters');
  t.equal(guessInterface('(request, x = 1) => {}', 1).why, 'one parameter before any default or rest one');
  t.equal(guessInterface('function () { [native code] }', 2).why, 'its length, 2');
  // Names that only look alike are not taken: `features` is no response, `contextual` no context.
  t.equal(guessInterface('(request, features) => {}', 2).why, 'two parameters');
  t.equal(guessInterface('(request, contextual) => {}', 2).why, 'two parameters');
});

t.test('the log line says how, why, and how to override', async (t) => {
  const astro = recognise(async (...args: unknown[]) => args, 'auto', "'handler' in 'entry.mjs'");
  t.equal(
    servingLine(astro),
    "Serving 'handler' in 'entry.mjs': a function (...args), taken as Node-style (req, res) by its parameters (a rest parameter only); set app_interface = fetch to call it as (request)",
  );
  const rr = recognise(
    async function requestHandler(request: Request, initialContext: unknown) {
      return [request, initialContext];
    },
    'auto',
    "'default' in 'server.mjs'",
  );
  t.equal(
    servingLine(rr),
    "Serving 'default' in 'server.mjs': a function (request, initialContext), taken as fetch-style (request) by its parameters (a second parameter named initialContext); set app_interface = node to call it as (req, res)",
  );
  const set = recognise((e: unknown, f: unknown) => [e, f], 'fetch', "'default' in 'a.js'");
  t.equal(
    servingLine(set),
    "Serving 'default' in 'a.js': a function (e, f), called as fetch-style (request) (app_interface = fetch)",
  );
  const bound = recognise(
    function (this: unknown, req: unknown, res: unknown) {
      return [req, res];
    }.bind(null),
    'auto',
    "'h' in 'b.js'",
  );
  t.equal(
    servingLine(bound),
    "Serving 'h' in 'b.js': a function, taken as Node-style (req, res) by its length, 2; set app_interface = fetch to call it as (request)",
  );
  t.equal(
    servingLine(recognise({ fetch: () => new Response('x') }, 'auto', "'default' in 'c.js'")),
    "Serving 'default' in 'c.js': an object with a fetch method (fetch-style)",
  );
});

t.test('errors that say a bare function was called the wrong way', async (t) => {
  const node = recognise(async (...args: unknown[]) => args, 'auto', 'x');
  const fetch = recognise((request: Request) => new Response(request.url), 'auto', 'x');
  const asFetch = (message: string) => interfaceHint(fetch, new TypeError(message));
  const asNode = (message: string) => interfaceHint(node, new TypeError(message));
  t.match(asFetch('res.writeHead is not a function'), /set app_interface = node/);
  t.match(asFetch('res.setHeader is not a function'), /set app_interface = node/);
  t.match(asFetch("Cannot read properties of undefined (reading 'end')"), /set app_interface = node/);
  t.match(asFetch('req.on is not a function'), /set app_interface = node/);
  t.equal(asFetch('db.query is not a function'), null, 'an unrelated TypeError');
  t.equal(interfaceHint(fetch, new Error('res.writeHead is not a function')), null, 'only TypeErrors');
  t.match(asNode('Invalid URL'), /set app_interface = fetch/);
  t.match(asNode('request.headers.get is not a function'), /set app_interface = fetch/);
  t.match(asNode('request.json is not a function'), /set app_interface = fetch/);
  t.equal(asNode('res.writeHead is not a function'), null, 'a Node-style failure of a Node-style call');
  const express = Object.assign((_req: unknown, _res: unknown) => undefined, { handle() {}, use() {}, listen() {} });
  t.equal(
    interfaceHint(recognise(express, 'auto', 'x'), new TypeError('Invalid URL')),
    null,
    'frameworks are never a guess',
  );
});
