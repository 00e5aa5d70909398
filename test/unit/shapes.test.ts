// What an exported app is (lib/app/shapes.ts), told from real framework objects made in this
// process (none listens): fetch objects (Hono), Express, Connect-like, Koa, Fastify, a node
// http.Server; what is no app and what the error says; app_interface against a framework.
// How bare functions are told apart by their parameters: test/unit/app-params.test.ts.
import http from 'node:http';
import { createRequire } from 'node:module';
import t from 'tap';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { ShapeError, describe, recognise, uwsAdvice } from '../../lib/app/shapes.js';

// Express and Koa ship no types of their own: loaded untyped, used only as the values they make.
const require = createRequire(import.meta.url);
const express = require('express') as () => ((req: unknown, res: unknown) => void) & {
  get(path: string, fn: (req: unknown, res: { send(s: string): void }) => void): void;
};
const Koa = require('koa') as new () => object;

t.test('fetch-style: an object with a fetch method, bound to it', async (t) => {
  const hono = new Hono();
  hono.get('/', (c) => c.text('hi'));
  const app = recognise(hono, 'auto', "'default' in 'app.ts'");
  t.equal(app.style, 'fetch');
  t.equal(app.what, 'an object with a fetch method');
  t.equal(app.label, "'default' in 'app.ts'");
  t.equal(app.bare, null, 'not a bare function');
  if (app.style !== 'fetch') return;
  const res = await app.fetch(new Request('http://x/'), {
    remoteAddr: { transport: 'tcp', hostname: '127.0.0.1', port: 1 },
  });
  t.equal(await res.text(), 'hi', 'called with its own this (Hono reads this)');
  const plain = {
    greeting: 'hello',
    fetch(this: { greeting: string }) {
      return new Response(this.greeting);
    },
  };
  const bound = recognise(plain, 'auto', 'x');
  if (bound.style === 'fetch')
    t.equal(
      await (await bound.fetch(new Request('http://x/'), { remoteAddr: { transport: 'unix', path: '/s' } })).text(),
      'hello',
    );
});

t.test('Node frameworks, each by what only it has', async (t) => {
  const ex = express();
  ex.get('/', (_req, res) => {
    res.send('x');
  });
  t.match(recognise(ex, 'auto', 'x'), {
    style: 'node',
    what: 'an Express app',
    server: null,
    start: null,
    close: null,
    bare: null,
  });

  const connectLike = Object.assign((_req: unknown, _res: unknown, _next: unknown) => undefined, {
    handle() {},
    use() {},
    listen() {},
  });
  t.match(recognise(connectLike, 'auto', 'x'), { style: 'node', what: 'a Connect app' });

  const koa = new Koa();
  const k = recognise(koa, 'auto', 'x');
  t.match(k, { style: 'node', what: 'a Koa app' });
  t.type(k.style === 'node' && k.handler, 'function', "its callback()'s handler");

  const fastify = Fastify();
  t.teardown(() => fastify.close());
  const f = recognise(fastify, 'auto', 'x');
  t.match(f, { style: 'node', what: 'a Fastify app' });
  if (f.style === 'node') {
    t.equal(f.server, fastify.server, 'its own server, for upgrades');
    t.type(f.start, 'function', 'ready() before serving');
    t.type(f.close, 'function', 'close() at graceful stop');
  }

  const server = http.createServer((_req, res) => res.end('x'));
  const s = recognise(server, 'auto', 'x');
  t.match(s, { style: 'node', what: 'a node http.Server' });
  if (s.style === 'node') t.equal(s.server, server);
});

t.test('an http.Server hands each request to its request listener(s)', async (t) => {
  const seen: string[] = [];
  const one = http.createServer((req) => {
    seen.push(`one ${req.url}`);
  });
  const two = http.createServer();
  two.on('request', (req: http.IncomingMessage) => seen.push(`a ${req.url}`));
  two.on('request', (req: http.IncomingMessage) => seen.push(`b ${req.url}`));
  const call = (s: http.Server, url: string) => {
    const app = recognise(s, 'auto', 'x');
    if (app.style === 'node') app.handler({ url } as http.IncomingMessage, {} as http.ServerResponse);
  };
  call(one, '/1');
  call(two, '/2');
  t.same(seen, ['one /1', 'a /2', 'b /2']);
});

t.test('app_interface cannot turn a framework into the other style', async (t) => {
  t.throws(() => recognise(express(), 'fetch', "'app' in 'server.js'"), {
    name: 'Error',
    message: "'app' in 'server.js' is an Express app (Node-style), but app_interface is fetch.",
  });
  t.throws(() => recognise(new Hono(), 'node', "'default' in 'a.ts'"), {
    message: "'default' in 'a.ts' is an object with a fetch method (fetch-style), but app_interface is node.",
  });
  try {
    recognise(new Hono(), 'node', 'x');
  } catch (err) {
    t.type(err, ShapeError);
    t.equal((err as ShapeError).notAnApp, false, "an app, the wrong way: not worth listing the module's exports");
  }
});

t.test('a bare function: app_interface decides when given', async (t) => {
  const fn = (a: unknown, b: unknown) => [a, b];
  t.match(recognise(fn, 'fetch', 'x'), {
    style: 'fetch',
    what: 'a function (a, b)',
    bare: { guessed: false, params: '(a, b)' },
  });
  t.match(recognise(fn, 'node', 'x'), { style: 'node', bare: { guessed: false } });
  t.match(recognise(fn, 'auto', 'x'), { style: 'node', bare: { guessed: true, why: 'two parameters' } });
});

t.test('what is no app: a ShapeError that says what it is', async (t) => {
  const cases: [unknown, string][] = [
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'an empty object'],
    [{ handler: 1, routes: [] }, 'an object with keys handler, routes'],
    [[1, 2], 'an array'],
    [42, 'a number (42)'],
    ['app', 'a string (app)'],
    [
      class App {
        fetch() {
          return null;
        }
      },
      'a class (App): export an instance',
    ],
    [http.createServer(), "a server with no 'request' listener"],
  ];
  for (const [value, described] of cases) {
    t.equal(describe(value), described);
    try {
      recognise(value, 'auto', "'default' in 'app.js'");
      t.fail(`${described} was taken`);
    } catch (err) {
      t.type(err, ShapeError);
      t.equal((err as ShapeError).notAnApp, true, `${described}: worth listing the module's exports`);
      t.match(
        (err as Error).message,
        `'default' in 'app.js' is not an app qilin can serve: it is ${described}. qilin serves `,
      );
    }
  }
  const many = Object.fromEntries('abcdefghij'.split('').map((k) => [k, 1]));
  t.equal(describe(many), 'an object with keys a, b, c, d, e, f, g, h, …', 'a long key list is cut');
});

t.test('uwsAdvice: only a bare function may be a fetch handler taken the wrong way', async (t) => {
  t.match(uwsAdvice(true), /set app_interface = fetch/);
  t.equal(uwsAdvice(false), '');
});
