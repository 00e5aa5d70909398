// An Elysia 1.4 app as its docs write one. On a fetch runtime other than Bun, Elysia's docs export the
// app and hand its fetch to the runtime: qilin serves it so (qilin app.ts, an object with a fetch
// method); server.ts mounts it in an Elysia on @elysiajs/node, Elysia's own Node server.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Elysia } from 'elysia';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];
const PUBLIC = path.resolve('public');

export const app = new Elysia()
  .get('/', ({ cookie: { name, theme }, set }) => {
    set.headers['content-type'] = 'text/html; charset=utf-8';
    const who = String(name.value ?? 'guest').replace(/[<>&"]/g, '');
    return `<!doctype html>
<html><head><title>Elysia</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme.value === 'dark' ? 'dark' : 'light'}"><h1>Hello, ${who}!</h1></body></html>`;
  })
  .get('/api/items/:id', ({ params, status }) => items.find((i) => i.id === Number(params.id)) ?? status(404, { error: 'not found' }))
  .post('/api/echo', ({ body }) => ({ received: body }))
  .post('/form', ({ body }) => {
    const form = body as Record<string, string>;
    return { name: form.name, lang: form.lang };
  })
  // @elysiajs/static is a separate plugin (not installed here): a route with the file's validators. Not
  // Elysia's file(): @elysiajs/node 1.4 sends it with both Content-Length and chunked framing, which
  // clients refuse.
  .get('/static/:file', async ({ params, headers, status }) => {
    const p = path.join(PUBLIC, path.basename(params.file));
    const st = await stat(p).catch(() => null);
    if (!st?.isFile()) return status(404, 'NOT_FOUND');
    const etag = `W/"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`;
    const validators = { etag, 'last-modified': st.mtime.toUTCString(), 'cache-control': 'public, max-age=0' };
    const inm = headers['if-none-match'];
    const ims = headers['if-modified-since'];
    if (inm ? inm === etag : ims !== undefined && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000) {
      return new Response(null, { status: 304, headers: validators });
    }
    return new Response(await readFile(p), { headers: { ...validators, 'content-type': 'text/css; charset=utf-8' } });
  })
  .get('/old', ({ redirect }) => redirect('/', 302))
  .get('/login', ({ cookie: { session } }) => {
    session.set({ value: 'abc123', path: '/', httpOnly: true, sameSite: 'lax', maxAge: 3600 });
    return 'logged in';
  })
  .get('/stream', async function* () {
    for (let i = 1; i <= 5; i++) {
      yield `line ${i}\n`;
      await new Promise((r) => setTimeout(r, 5));
    }
  });

export default app;
