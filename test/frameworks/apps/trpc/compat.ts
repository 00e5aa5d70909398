import { JSON_BODY } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

const input = (v: unknown) => encodeURIComponent(JSON.stringify(v));

export default {
  name: 'tRPC 11',
  packages: ['@trpc/server'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  readyPath: '/trpc/slow',
  requests: [
    { name: 'json', path: `/trpc/item?input=${input({ id: 1 })}` },
    { name: 'post-json', method: 'POST', path: '/trpc/echo', headers: { 'content-type': 'application/json' }, body: JSON_BODY },
    { name: 'set-cookie', method: 'POST', path: '/trpc/login', headers: { 'content-type': 'application/json' }, body: '' },
    { name: 'not-found', path: '/trpc/nope' },
    // httpBatchStreamLink: a batch answered as JSON lines, each procedure as it settles.
    { name: 'stream', path: `/trpc/slow,item?batch=1&input=${input({ 1: { id: 2 } })}`, headers: { 'trpc-accept': 'application/jsonl' } },
  ],
  notes:
    "The own server is tRPC's standalone adapter (createHTTPServer): a node:http server that turns each request into " +
    'a fetch Request and hands it to the same resolver the fetch adapter (fetchRequestHandler) uses, so the router and ' +
    'options are the same on both; qilin serves the fetch adapter. A page, a form, a static file, a redirect and HEAD ' +
    'have no natural form in a tRPC API.',
} satisfies FrameworkApp;
