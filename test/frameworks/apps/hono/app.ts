// A Hono app as its docs write one: `export default app` is what qilin serves (qilin app.ts),
// server.ts is @hono/node-server's serve() around the same app.
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { etag } from 'hono/etag';
import { html } from 'hono/html';
import { streamText } from 'hono/streaming';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];

const app = new Hono();

app.use('/static/*', etag(), serveStatic({ root: './' }));

app.get('/', (c) => {
  const name = getCookie(c, 'name') ?? 'guest';
  const theme = getCookie(c, 'theme') === 'dark' ? 'dark' : 'light';
  return c.html(html`<!doctype html>
<html><head><title>Hono</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`);
});

app.get('/api/items/:id', (c) => {
  const item = items.find((i) => i.id === Number(c.req.param('id')));
  return item ? c.json(item) : c.json({ error: 'not found' }, 404);
});

app.post('/api/echo', async (c) => c.json({ received: await c.req.json() }));

app.post('/form', async (c) => {
  const body = await c.req.parseBody();
  return c.json({ name: body.name, lang: body.lang });
});

app.get('/old', (c) => c.redirect('/'));

app.get('/login', (c) => {
  setCookie(c, 'session', 'abc123', { path: '/', httpOnly: true, sameSite: 'Lax', maxAge: 3600 });
  return c.text('logged in');
});

app.get('/stream', (c) =>
  streamText(c, async (stream) => {
    for (let i = 1; i <= 5; i++) {
      await stream.writeln(`line ${i}`);
      await stream.sleep(5);
    }
  }),
);

export default app;
