// Loading Node-style apps: what qilin recognises, the engine it picks, factories with literal
// arguments, app_interface, and one clear error line (exit 4) for everything it cannot serve.
import t from 'tap';
import { ENGINES, fixture, freePort, request, runQilin, startQilin } from '../helpers.js';

t.setTimeout(120_000);

const app = (name: string) => fixture(`node-apps/${name}`);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Run qilin on APP (with ARGS) to its exit, bound to a free port. */
async function run(args: string[]) {
  const port = await freePort();
  return runQilin(['-b', `127.0.0.1:${port}`, ...args]);
}

t.test('factories: MODULE:create_app() and literal arguments, sync and async', async (t) => {
  // The engine given where the test is not about it: qilin starts faster when it need not find out.
  const node = { engine: 'node' } as const;
  const [plain, named, literals, promised] = await Promise.all([
    startQilin(t, [`${app('factory-sync.cjs')}:create_app()`]),
    startQilin(t, [`${app('factory-sync.cjs')}:create_app('blog', 2)`], node),
    startQilin(
      t,
      [
        `${app('factory-async.mjs')}:create_app( 'x', "y z", 2, -1.5, true, false, null, [1, 'a'], {"a": 1, "b": [true]} )`,
      ],
      node,
    ),
    startQilin(t, [`${app('factory-async.mjs')}:ready`], node),
  ]);
  t.same(
    JSON.parse((await request(plain.url + '/')).body),
    { factory: 'sync', name: 'default', workers: 1 },
    'no arguments: the defaults',
  );
  t.match(
    plain.output,
    /Using engine: node .*an Express app, a Node-style app/,
    'what the factory returned decides the engine',
  );
  t.same(
    JSON.parse((await request(named.url + '/')).body),
    { factory: 'sync', name: 'blog', workers: 2 },
    'the arguments reach the factory',
  );
  const body = JSON.parse((await request(literals.url + '/')).body);
  t.equal(body.factory, 'async', 'an async factory is awaited');
  t.same(
    body.args,
    ['x', 'y z', 2, -1.5, true, false, null, [1, 'a'], { a: 1, b: [true] }],
    'strings, numbers, booleans, null, arrays and objects (spaces around them are fine)',
  );
  const booted = body.bootedAt;
  t.equal(
    JSON.parse((await request(literals.url + '/')).body).bootedAt,
    booted,
    'the factory ran once per worker, not per request',
  );
  t.same(
    JSON.parse((await request(promised.url + '/')).body).args,
    ['from a promise'],
    'an exported Promise of an app is awaited',
  );
});

t.test('engine choice for a Node-style app', async (t) => {
  const [auto, uws] = await Promise.all([
    startQilin(t, [app('express-app.cjs')]),
    run(['--engine', 'uws', app('express-app.cjs')]),
  ]);
  t.match(
    auto.output,
    new RegExp(
      `Using engine: node \\(node:http\\) \\(${esc(app('express-app.cjs'))} is an Express app, a Node-style app\\)`,
    ),
    'engine unset: node, and why',
  );
  t.equal((await request(auto.url + '/')).body, 'Hello from Express');

  t.equal(uws.code, 1, '--engine uws with an Express app: exit 1');
  const lines = uws.output.split('\n').filter((l) => l.includes('Invalid value for engine'));
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /Invalid value for engine: "uws"/);
  t.match(lines[0], /Express/, 'naming the app');
});

t.test('--check-config loads a Node-style app', async (t) => {
  const r = await runQilin(['--check-config', app('koa-app.mjs')]);
  t.equal(r.code, 0, 'exit 0', { output: r.output });
});

const loading = (name: string) => fixture(`loading/${name}`);

t.test(
  'an itty-router AutoRouter, whose every property is a function (then too), is served by its fetch',
  async (t) => {
    for (const engine of ENGINES) {
      t.test(engine, async (t) => {
        const q = await startQilin(t, [loading('itty-router.mjs')], { engine });
        const hi = await request(q.url + '/');
        t.equal(hi.status, 200);
        t.equal(hi.body, '"hi"', "a route (AutoRouter's format is JSON)");
        const json = await request(q.url + '/json');
        t.match(json.headers['content-type'], /^application\/json/);
        t.same(JSON.parse(json.body), { router: 'itty', path: '/json' }, 'a JSON route');
        t.same(JSON.parse((await request(q.url + '/users/42')).body), { id: '42' }, 'a route with a parameter');
        const missing = await request(q.url + '/missing');
        t.equal(missing.status, 404, "AutoRouter's own 404");
        t.match(
          q.output,
          /Serving 'default' in '[^']*itty-router\.mjs': an object with a fetch method \(fetch-style\)/,
          'the worker says what it serves',
        );
        t.notMatch(q.output, /Worker \(pid:\d+\) was sent|stuck/, 'no worker killed');
      });
    }
  },
);

t.test("Astro's @astrojs/node entry (mode: 'middleware'): an async (...args) handler is Node-style", async (t) => {
  const entry = `${loading('astro-entry.mjs')}:handler`;
  const [auto, asFetch] = await Promise.all([
    startQilin(t, [entry]),
    startQilin(t, ['--app-interface', 'fetch', entry], { engine: 'node' }),
  ]);
  t.match(
    auto.output,
    new RegExp(
      `Serving 'handler' in '${esc(loading('astro-entry.mjs'))}': a function \\(\\.\\.\\.args\\), taken as Node-style \\(req, res\\) ` +
        'by its parameters \\(a rest parameter only\\); set app_interface = fetch to call it as \\(request\\)',
    ),
    'the worker says how it took the function, why, and how to override',
  );
  t.match(auto.output, /Using engine: node .*a function \(\.\.\.args\), a Node-style app/, 'engine unset: node');
  const page = await request(auto.url + '/');
  t.equal(page.status, 200);
  t.equal(page.body, '<h1>Astro page</h1>');
  t.same(JSON.parse((await request(auto.url + '/api/hello')).body), { hello: 'astro', method: 'GET' });
  t.equal((await request(auto.url + '/missing')).status, 404);

  const r = await request(asFetch.url + '/');
  t.equal(r.status, 500, 'called as fetch, it fails');
  await asFetch.waitFor(
    /Error handling request \/ \([^\n]*set app_interface = node[^\n]*\)[^]*res\.writeHead is not a function/,
  );
  t.pass('the error line names app_interface = node');
});

t.test(
  "React Router 7's createRequestHandler: (request, initialContext) is fetch-style, on both engines",
  async (t) => {
    for (const engine of ENGINES) {
      t.test(engine, async (t) => {
        const q = await startQilin(t, [loading('react-router-app.mjs')], { engine });
        t.match(
          q.output,
          /a function \(request, initialContext\), taken as fetch-style \(request\) by its parameters \(a second parameter named initialContext\); set app_interface = node/,
        );
        const hello = await request(q.url + '/hello');
        t.equal(hello.status, 200);
        t.match(hello.headers['content-type'], /^application\/json/);
        const body = JSON.parse(hello.body);
        t.same(
          { hello: body.hello, method: body.method },
          { hello: 'world', method: 'GET' },
          "a resource route's loader",
        );
        t.type(body.client, 'string', 'the second argument (info) reached the loader as its context');
        t.equal((await request(q.url + '/text')).body, 'plain text');
        const missing = await request(q.url + '/nope');
        t.equal(missing.status, 404);
        t.equal(missing.body, 'document /nope 404', "the server entry's answer");
      });
    }
    t.test('called as (req, res), it fails: the error line names app_interface = fetch', async (t) => {
      const q = await startQilin(t, ['--app-interface', 'node', loading('react-router-app.mjs')], { engine: 'node' });
      t.equal((await request(q.url + '/hello')).status, 500);
      await q.waitFor(/Error handling request \/hello \([^\n]*set app_interface = fetch[^\n]*\)[^]*Invalid URL/);
      t.pass();
    });
  },
);

t.test('a (req, res) function on --engine uws: the refusal names app_interface', async (t) => {
  const r = await run(['--engine', 'uws', fixture('node-apps/handler.mjs')]);
  t.equal(r.code, 1, 'exit 1', { output: r.output });
  const lines = r.output.split('\n').filter((l) => l.includes('Invalid value for engine'));
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /a function \(req, res\), a Node-style app: .*set app_interface = fetch/);
});

/** Each entry: the app URI (and extra args), the error line expected, exit 4. */
const mod = (name: string) => esc(app(name));
const LOAD_ERRORS: [string, string[], RegExp][] = [
  [
    'a number',
    [`${app('wrong-exports.mjs')}:port`],
    new RegExp(`'port' in '${mod('wrong-exports.mjs')}' is not an app qilin can serve: .*number`),
  ],
  [
    'a class',
    [`${app('wrong-exports.mjs')}:UserService`],
    new RegExp(`'UserService' in '${mod('wrong-exports.mjs')}' is not an app qilin can serve: .*class`),
  ],
  [
    'a plain object',
    [`${app('wrong-exports.mjs')}:settings`],
    new RegExp(`'settings' in '${mod('wrong-exports.mjs')}' is not an app qilin can serve: .*object`),
  ],
  [
    'an Express app with --app-interface fetch',
    ['--app-interface', 'fetch', app('express-app.cjs')],
    new RegExp(
      `'\\w+' in '${mod('express-app.cjs')}' is an Express app \\(Node-style\\), but app_interface is fetch\\.`,
    ),
  ],
  [
    'a {fetch} object with --app-interface node',
    ['--app-interface', 'node', `${app('wrong-exports.mjs')}:honoLike`],
    new RegExp(`'honoLike' in '${mod('wrong-exports.mjs')}' .*app_interface is node`),
  ],
  [
    'unbalanced factory syntax',
    [`${fixture('app.cjs')}:create_app(`],
    /Failed to parse 'create_app\(' as an attribute name or function call\./,
  ],
  [
    'non-literal arguments',
    [`${fixture('app.cjs')}:create_app(foo)`],
    /Failed to parse arguments as literal values: 'create_app\(foo\)'\./,
  ],
  [
    'calling what is not a function',
    [`${app('factory-async.mjs')}:value()`],
    new RegExp(`'value' in '${mod('factory-async.mjs')}' is not a function: it cannot be called as a factory`),
  ],
  [
    'a factory that returns undefined',
    [`${app('factory-async.mjs')}:nothing()`],
    /Failed to find application object: 'nothing\(\)' returned undefined\./,
  ],
  [
    'a factory that throws',
    [`${app('factory-async.mjs')}:explode()`],
    new RegExp(`The factory 'explode' in '${mod('factory-async.mjs')}' failed: DATABASE_URL is not set`),
  ],
  ['a factory that does not exist', [`${app('factory-async.mjs')}:missing()`], /Failed to find attribute 'missing'/],
];

t.test('what qilin cannot load: one clear line, exit 4', async (t) => {
  // A few at a time: each is an arbiter and a worker starting up.
  const results: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < LOAD_ERRORS.length; i += 3) {
    results.push(...(await Promise.all(LOAD_ERRORS.slice(i, i + 3).map(([, args]) => run(args)))));
  }
  LOAD_ERRORS.forEach(([what, , re], i) => {
    const r = results[i]!;
    t.test(what, async (t) => {
      t.equal(r.code, 4, 'exit 4 (APP_LOAD_ERROR)', { output: r.output });
      const lines = r.output.split('\n').filter((l) => re.test(l));
      t.equal(lines.length, 1, `one line matches ${re}`, { output: r.output });
      t.match(r.output, /Reason: App failed to load\./);
      t.notMatch(r.output, /Worker \(pid:\d+\) ready/, 'no worker got ready');
    });
  });
});
