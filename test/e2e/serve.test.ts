// Serving fetch and Hono apps with the pool worker, on each engine: responses, headers, errors,
// both workers used, the access log.
import t from 'tap';
import { ENGINES, fixture, rawExchange, request, startQilin } from '../helpers.js';

// Two engines: more than the default time for one file when the machine is busy.
t.setTimeout(360_000);

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('fetch app on -w 2: responses, both workers get traffic', async (t) => {
      const q = await startQilin(t, ['-w', '2', '-k', 'pool', fixture('app.ts')], { engine });
      const r = await request(q.url + '/');
      t.equal(r.status, 200);
      t.equal(r.body, 'Hello, World!');
      t.equal(r.headers['content-type'], 'text/plain;charset=UTF-8');

      const workers = q.workerPids();
      t.equal(workers.length, 2, 'two workers forked');
      const seen = new Set<string>();
      for (let i = 0; i < 200 && seen.size < 2; i++) seen.add((await request(q.url + '/pid')).body);
      t.same([...seen].map(Number).sort(), workers.sort(), 'requests reached both workers');
    });

    t.test('requests and responses as a fetch app sees them', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });

      const info = JSON.parse(
        (await request(q.url + '/request?a=1&b=%20x', { headers: { 'x-one': '1', 'X-Two': 'two' } })).body,
      );
      t.equal(info.method, 'GET');
      t.equal(info.url, `http://127.0.0.1:${q.port}/request?a=1&b=%20x`, 'absolute URL from Host + raw target');
      t.ok(info.isRequest, 'request instanceof Request');
      t.same(
        info.headers.filter(([k]: [string]) => k.startsWith('x-')),
        [
          ['x-one', '1'],
          ['x-two', 'two'],
        ],
      );

      const echo = await request(q.url + '/echo', { method: 'POST', body: 'hello body' });
      t.equal(echo.body, 'hello body');
      t.equal(echo.headers['x-method'], 'POST');

      const json = await request(q.url + '/json-body', {
        method: 'PUT',
        body: '{"a":[1,2]}',
        headers: { 'content-type': 'application/json' },
      });
      t.same(JSON.parse(json.body), { a: [1, 2] });
      t.equal(json.headers['content-type'], 'application/json');

      const cookies = await request(q.url + '/cookies');
      t.equal(cookies.status, 201);
      t.same(cookies.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/'], 'Set-Cookie headers kept apart');

      const bytes = await request(q.url + '/bytes');
      t.equal(bytes.body, 'hi');
      t.equal(bytes.headers['content-type'], 'application/octet-stream');

      const empty = await request(q.url + '/empty');
      t.equal(empty.status, 204);
      t.equal(empty.body, '');

      const missing = await request(q.url + '/nope');
      t.equal(missing.status, 404);

      // HEAD never gets a body, on the plain path and the streamed path alike.
      for (const path of ['/', '/download?mb=1']) {
        const head = await rawExchange(q.port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        t.match(head.text, /^HTTP\/1\.1 200 OK\r\n/, `HEAD ${path} answered`);
        t.equal(head.text.split('\r\n\r\n')[1], '', `HEAD ${path} has no body`);
      }
    });

    t.test('an app that throws gets 500 for that request only', async (t) => {
      const q = await startQilin(t, [fixture('app.ts')], { engine });
      const pid = (await request(q.url + '/pid')).body;
      const r = await request(q.url + '/throw');
      t.equal(r.status, 500);
      t.match(r.body, /Internal Server Error/);
      await q.waitFor(/Error handling request \/throw\n[^]*boom from the app/);
      t.equal((await request(q.url + '/pid')).body, pid, 'the same worker still serves');
      const wrong = await request(q.url + '/not-a-response');
      t.equal(wrong.status, 500, 'an app that returns something else than a Response gets 500');
      await q.waitFor(/the app returned string, not a Response/);
      const stray = await request(q.url + '/stray');
      t.equal(stray.body, 'answered anyway');
      await q.waitFor(/Unhandled rejection in the app\n[^]*stray rejection/);
      t.equal((await request(q.url + '/pid')).body, pid, 'a stray rejection does not take the worker down');
    });

    t.test('a Hono app on -w 2', async (t) => {
      const q = await startQilin(t, ['-w', '2', `${fixture('hono-app.ts')}:default`], { engine });
      const r = await request(q.url + '/');
      t.equal(r.body, 'Hello, World!');
      t.match(r.headers['content-type'], /^text\/plain/);
      const j = await request(q.url + '/json');
      t.same(JSON.parse(j.body), { message: 'Hello, World!' });
      t.match(j.headers['content-type'], /^application\/json/);
      const post = await request(q.url + '/echo', { method: 'POST', body: 'via hono' });
      t.equal(post.body, 'via hono');
      t.equal((await request(q.url + '/missing')).status, 404);
      const seen = new Set<string>();
      for (let i = 0; i < 200 && seen.size < 2; i++) seen.add((await request(q.url + '/pid')).body);
      t.equal(seen.size, 2, 'both workers served the Hono app');
    });

    t.test('access log in Gunicorn format', async (t) => {
      const q = await startQilin(t, ['--access-logfile', '-', fixture('app.ts')], { engine });
      await request(q.url + '/pid?x=1', { headers: { 'user-agent': 'tap-test', referer: 'http://ref/' } });
      await q.waitFor(
        /127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/pid\?x=1 HTTP\/1\.1" 200 \d+ "http:\/\/ref\/" "tap-test"/,
      );
      t.pass('access line written');
      if (engine === 'node') {
        // The node engine answers HTTP/1.0 (uWS 20.30 cannot), and logs the version the client spoke.
        const old = await rawExchange(q.port, 'GET /pid HTTP/1.0\r\nUser-Agent: old-client\r\n\r\n');
        t.match(old.text, /\r\n\r\n\d+$/, 'HTTP/1.0 request answered');
        await q.waitFor(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/pid HTTP\/1\.0" 200 \d+ "-" "old-client"$/m);
        t.pass('HTTP/1.0 in the access line');
      }
    });
  });

// Loading apps does not depend on the engine.
t.test('CommonJS and ES module apps, default and named exports', async (t) => {
  const cjs = await startQilin(t, [fixture('app.cjs')]);
  t.equal((await request(cjs.url + '/')).body, 'from cjs');
  const mjs = await startQilin(t, [`${fixture('app.mjs')}:handler`]);
  t.equal((await request(mjs.url + '/', { method: 'DELETE' })).body, 'from mjs DELETE');
});
