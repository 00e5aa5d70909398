// A Fastify 5 app as its docs write one: the instance is the export (qilin app.ts, node engine;
// qilin awaits its ready()), server.ts is fastify.listen(). @fastify/static, @fastify/cookie and
// @fastify/formbody are separate plugins: the static file, the cookies and the form body are done here
// with Fastify's own API (a route, reply.header, addContentTypeParser).
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import Fastify from 'fastify';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];
const STATIC = path.resolve('static');

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

const fastify = Fastify();

fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => {
  done(null, Object.fromEntries(new URLSearchParams(body as string)));
});

fastify.get('/', async (req, reply) => {
  const c = cookies(req.headers.cookie);
  const name = (c.name ?? 'guest').replace(/[<>&"]/g, '');
  const theme = c.theme === 'dark' ? 'dark' : 'light';
  reply.type('text/html; charset=utf-8');
  return `<!doctype html>
<html><head><title>Fastify</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`;
});

fastify.get<{ Params: { id: string } }>('/api/items/:id', async (req, reply) => {
  const item = items.find((i) => i.id === Number(req.params.id));
  if (!item) return reply.code(404).send({ error: 'not found' });
  return item;
});

fastify.post('/api/echo', async (req) => ({ received: req.body }));

fastify.post<{ Body: Record<string, string> }>('/form', async (req) => ({ name: req.body.name, lang: req.body.lang }));

fastify.get<{ Params: { file: string } }>('/static/:file', async (req, reply) => {
  const file = path.join(STATIC, path.basename(req.params.file));
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) return reply.callNotFound();
  const body = await readFile(file);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  const lastModified = st.mtime.toUTCString();
  reply.header('etag', etag).header('last-modified', lastModified).header('cache-control', 'public, max-age=0');
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  if (inm ? inm === etag : ims !== undefined && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000) {
    return reply.code(304).send();
  }
  return reply.type(file.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/octet-stream').send(body);
});

fastify.get('/old', async (req, reply) => reply.redirect('/'));

fastify.get('/login', async (req, reply) => {
  reply.header('set-cookie', 'session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax');
  return 'logged in';
});

fastify.get('/stream', async (req, reply) => {
  const lines = Readable.from((async function* () {
    for (let i = 1; i <= 5; i++) {
      yield `line ${i}\n`;
      await sleep(5);
    }
  })());
  return reply.type('text/plain; charset=utf-8').send(lines);
});

export default fastify;
