// The node engine (node:http) in this process, without an arbiter: the shared engine suite, and what
// only this engine does: llhttp's refusals answered with Gunicorn's page, HTTP/1.0, keepalive 0.
import t from 'tap';
import { RawClient } from './client.js';
import { serve } from './serve.js';
import { engineSuite } from './suite.js';

engineSuite(t, 'node');

t.test('what llhttp cannot parse: 400 with its reason, a closed connection', async (t) => {
  const served = await serve('node', () => new Response('never'));
  t.teardown(() => served.stop());
  for (const [what, bytes] of [
    ['a header line with no colon', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n'],
    ['no request line at all', 'HELLO\r\n\r\n'],
    ['a Content-Length that is no number', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
  ]) {
    const c = await RawClient.connect(served.port);
    c.write(bytes!);
    t.ok(await c.until(() => c.closed), `${what}: closed`);
    const [res] = c.responses();
    t.equal(res?.status, 400, `${what}: 400`);
    t.match(
      res?.body,
      /^<html><head><title>Bad Request<\/title><\/head><body><h1><p>Bad Request<\/p><\/h1>.+<\/body><\/html>$/,
      `${what}: Gunicorn's page, with llhttp's reason`,
    );
  }
  t.equal(served.done(), 0, 'the app never ran');
});

t.test('HTTP/1.0: served, closed after the response unless kept alive', async (t) => {
  const served = await serve('node', (request) => new Response(request.url));
  t.teardown(() => served.stop());
  const c = await RawClient.connect(served.port);
  c.write('GET /old HTTP/1.0\r\n\r\n');
  t.ok(await c.until(() => c.closed), 'closed');
  t.match(c.text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(c.responses()[0]?.body, `http://127.0.0.1:${served.port}/old`, "no Host: the URL is the listener's address");
  const k = await RawClient.connect(served.port);
  t.teardown(() => k.destroy());
  k.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await k.waitResponses(1);
  k.write('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  const [, second] = await k.waitResponses(2);
  t.match(second?.body, /\/b$/, 'kept alive when the client asks for it');
});

t.test('keepalive 0: every response closes its connection', async (t) => {
  const served = await serve('node', () => new Response('x'), { settings: { keepalive: 0 } });
  t.teardown(() => served.stop());
  const c = await RawClient.connect(served.port);
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await c.until(() => c.closed));
  t.equal(c.responses()[0]?.headers.connection, 'close');
});
