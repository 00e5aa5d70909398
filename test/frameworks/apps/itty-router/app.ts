// An itty-router 5 app as its docs write one: an AutoRouter, exported default (qilin app.ts: an
// object with a fetch method); server.ts serves its fetch with @hono/node-server, as itty's docs do on Node.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AutoRouter, error, html, json, text, withCookies, type IRequest } from 'itty-router';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];
const PUBLIC = path.resolve('public');

const router = AutoRouter();

router
  .get('/', withCookies, ({ cookies }: IRequest) => {
    const name = String(cookies.name ?? 'guest').replace(/[<>&"]/g, '');
    const theme = cookies.theme === 'dark' ? 'dark' : 'light';
    return html(`<!doctype html>
<html><head><title>itty-router</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`);
  })
  .get('/api/items/:id', ({ params }) => items.find((i) => i.id === Number(params.id)) ?? error(404, 'not found'))
  .post('/api/echo', async (request) => ({ received: await request.json() }))
  .post('/form', async (request) => {
    const form = await request.formData();
    return { name: form.get('name'), lang: form.get('lang') };
  })
  .get('/static/:file', async ({ params, headers }) => {
    const file = path.join(PUBLIC, path.basename(params.file!));
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return error(404);
    const etag = `W/"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`;
    const validators = { etag, 'last-modified': st.mtime.toUTCString(), 'cache-control': 'public, max-age=0' };
    const ims = headers.get('if-modified-since');
    const inm = headers.get('if-none-match');
    if (inm ? inm === etag : ims !== null && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000) {
      return new Response(null, { status: 304, headers: validators });
    }
    return text(await readFile(file, 'utf8'), { headers: { ...validators, 'content-type': 'text/css; charset=utf-8' } });
  })
  .get('/old', () => new Response(null, { status: 302, headers: { location: '/' } }))
  .get('/login', () => text('logged in', { headers: { 'set-cookie': 'session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax' } }))
  .get('/stream', () => {
    const encoder = new TextEncoder();
    let i = 0;
    return new Response(
      new ReadableStream({
        async pull(controller) {
          i++;
          controller.enqueue(encoder.encode(`line ${i}\n`));
          await new Promise((r) => setTimeout(r, 5));
          if (i === 5) controller.close();
        },
      }),
      { headers: { 'content-type': 'text/plain; charset=utf-8' } },
    );
  });

export default router;
