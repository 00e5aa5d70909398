// A Koa 3 app with @koa/router as their docs write one (JavaScript: @types/koa is not installed here):
// the app is the export (qilin app.js, node engine: qilin serves app.callback()), server.js is
// app.listen(). Koa has no body parser or static middleware of its own (@koa/bodyparser, koa-static
// are separate): the body is read from ctx.req and
// the static file is a route using Koa's own ctx.etag / ctx.lastModified / ctx.fresh.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Router from '@koa/router';
import Koa from 'koa';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];
const STATIC = path.resolve('static');

async function rawBody(ctx) {
  let body = '';
  for await (const chunk of ctx.req) body += chunk;
  return body;
}

const app = new Koa();
const router = new Router();

router.get('/', (ctx) => {
  const name = (ctx.cookies.get('name') ?? 'guest').replace(/[<>&"]/g, '');
  const theme = ctx.cookies.get('theme') === 'dark' ? 'dark' : 'light';
  ctx.body = `<!doctype html>
<html><head><title>Koa</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`;
});

router.get('/api/items/:id', (ctx) => {
  const item = items.find((i) => i.id === Number(ctx.params.id));
  if (item) ctx.body = item;
  else {
    ctx.status = 404;
    ctx.body = { error: 'not found' };
  }
});

router.post('/api/echo', async (ctx) => {
  ctx.body = { received: JSON.parse(await rawBody(ctx)) };
});

router.post('/form', async (ctx) => {
  const form = new URLSearchParams(await rawBody(ctx));
  ctx.body = { name: form.get('name'), lang: form.get('lang') };
});

router.get('/static/:file', async (ctx) => {
  const file = path.join(STATIC, path.basename(ctx.params.file));
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) return;
  ctx.status = 200;
  ctx.lastModified = st.mtime;
  ctx.etag = `W/"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`;
  ctx.set('cache-control', 'public, max-age=0');
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.type = path.extname(file);
  ctx.length = st.size;
  ctx.body = createReadStream(file);
});

router.get('/old', (ctx) => ctx.redirect('/'));

router.get('/login', (ctx) => {
  ctx.cookies.set('session', 'abc123', { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 3600_000 });
  ctx.body = 'logged in';
});

router.get('/stream', (ctx) => {
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = Readable.from((async function* () {
    for (let i = 1; i <= 5; i++) {
      yield `line ${i}\n`;
      await sleep(5);
    }
  })());
});

app.use(router.routes()).use(router.allowedMethods());

export default app;
