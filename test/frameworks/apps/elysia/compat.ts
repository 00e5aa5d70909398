import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Elysia 1.4',
  packages: ['elysia', '@elysiajs/node'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  requests: standardRequests(),
  differences: (['page', 'page-cookie', 'head'] as const).map((request) => ({
    request,
    field: 'content-type',
    why:
      "@elysiajs/node 1.4 writes a handler's string with `text/plain`, whatever set.headers['content-type'] says; " +
      "Elysia's web-standard adapter, which qilin serves, keeps the app's `text/html; charset=utf-8`.",
  })),
  notes:
    "@elysiajs/node is Elysia's adapter for node:http (it turns each request into a fetch Request, and writes the " +
    "Response back); qilin serves the app's own fetch (Elysia's web-standard adapter, its default off Bun). " +
    'The static file is a route (@elysiajs/static is a separate plugin) answering a Response: file() on ' +
    "@elysiajs/node 1.4 goes out with both Content-Length and chunked framing, which clients refuse. Elysia's " +
    "redirect('/') is Response.redirect('/'), which needs an absolute URL off Bun: a 500 on both servers.",
} satisfies FrameworkApp;
