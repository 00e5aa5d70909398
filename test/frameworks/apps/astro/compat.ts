import { ROUTED_PATHS, standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

const env = { ASTRO_TELEMETRY_DISABLED: '1' };
const astro = ['node', '../../node_modules/astro/astro.js', 'build'];
// Astro refuses a form POST whose Origin is not the request's own origin (security.checkOrigin):
// one Host for both servers (allowed in astro.config.mjs), whatever port each listens on, and the
// Origin a browser would send.
const site = { host: 'compat.test', origin: 'http://compat.test' };

// In middleware mode the handler serves what Astro renders, not dist/client: @astrojs/node's docs
// mount it after express.static('dist/client/'). Served alone, the public file is Astro's 404 page.
const statics = "@astrojs/node's middleware handler does not serve dist/client (public/ and /_astro/): its docs put express.static('dist/client/') in front of it, as the standalone server does itself; alone it answers Astro's 404 page";
const staticFields = ['status', 'content-type', 'content-length', 'etag', 'cache-control', 'last-modified', 'body'];

const paths = ROUTED_PATHS;

const app: FrameworkApp = {
  name: 'Astro 5 (@astrojs/node middleware handler)',
  packages: ['astro', '@astrojs/node'],
  build: [
    { argv: astro, env },
    { argv: astro, env: { ...env, ASTRO_NODE_MODE: 'middleware' } },
  ],
  buildOutput: ['dist', 'dist-middleware', '.astro'],
  own: { argv: ['node', 'dist/server/entry.mjs'], env },
  qilin: { app: 'dist-middleware/server/entry.mjs:handler', env, engines: ['node'] },
  requests: standardRequests(paths).map((r) =>
    r.method === 'POST' ? { ...r, headers: { ...r.headers, ...site } } : r,
  ),
  differences: (['static', 'static-304'] as const).flatMap((request) =>
    staticFields.map((field) => ({ request, field, why: statics })),
  ),
  notes:
    "The standalone server (dist/server/entry.mjs) listens on PORT/HOST (HTTPS with a key and cert in its options) and serves dist/client itself (public/ files with ETag and Last-Modified, /_astro/ with a year's immutable Cache-Control) before the SSR handler; the middleware build's handler is the SSR handler alone",
  uwsNeeds: "the middleware handler takes node:http's req and res (and an optional next), as Express and Connect call it",
};

export default app;
