// An h3 2 app as its docs write one: `export default app` (an H3 instance, whose fetch qilin serves:
// qilin app.ts), server.ts is h3's serve() (srvx).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { H3, getCookie, html, readBody, redirect, serveStatic, setCookie } from 'h3';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];
const PUBLIC = path.resolve('public');

const app = new H3();

app.get('/static/**', (event) =>
  serveStatic(event, {
    indexNames: [],
    getContents: (id) => readFile(path.join(PUBLIC, path.basename(id))),
    getMeta: async (id) => {
      const st = await stat(path.join(PUBLIC, path.basename(id))).catch(() => null);
      if (!st?.isFile()) return undefined;
      return { size: st.size, mtime: st.mtime, etag: `W/"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`, type: 'text/css; charset=utf-8' };
    },
  }),
);

app.get('/', (event) => {
  const name = getCookie(event, 'name') ?? 'guest';
  const theme = getCookie(event, 'theme') === 'dark' ? 'dark' : 'light';
  return html`<!doctype html>
<html><head><title>h3</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`;
});

app.get('/api/items/:id', (event) => {
  const item = items.find((i) => i.id === Number(event.context.params?.id));
  if (!item) {
    event.res.status = 404;
    return { error: 'not found' };
  }
  return item;
});

app.post('/api/echo', async (event) => ({ received: await readBody(event) }));

app.post('/form', async (event) => {
  const body = await readBody<Record<string, string>>(event);
  return { name: body?.name, lang: body?.lang };
});

app.get('/old', () => redirect('/'));

app.get('/login', (event) => {
  setCookie(event, 'session', 'abc123', { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 3600 });
  return 'logged in';
});

app.get('/stream', () => {
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

export default app;
