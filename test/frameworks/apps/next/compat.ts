import type { FrameworkApp } from '../../types.ts';

const env = { NEXT_TELEMETRY_DISABLED: '1' };

const app: FrameworkApp = {
  name: 'Next.js 16 (App Router, custom server)',
  packages: ['next', 'react', 'react-dom'],
  build: [{ argv: ['node', '../../node_modules/next/dist/bin/next', 'build'], env }],
  buildOutput: ['.next', 'cache'],
  own: {
    argv: ['node', '../../node_modules/next/dist/bin/next', 'start', '-H', '127.0.0.1'],
    env,
  },
  qilin: { app: 'server.mjs:handler', env, engines: ['node'] },
  requests: [
    { name: 'page', path: '/' },
    { name: 'page-cookie', path: '/', headers: { cookie: 'name=Ada' } },
    { name: 'json', path: '/api/json' },
    {
      name: 'post-json',
      method: 'POST',
      path: '/api/echo',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":"world","n":1}',
    },
    {
      name: 'post-form',
      method: 'POST',
      path: '/api/echo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'hello=world&n=1',
    },
    { name: 'static', path: '/hello.txt' },
    { name: 'static-304', path: '/hello.txt', conditionalOn: 'static' },
    { name: 'redirect', path: '/go' },
    { name: 'set-cookie', path: '/api/cookie' },
    { name: 'not-found', path: '/nope' },
    { name: 'head', method: 'HEAD', path: '/' },
    { name: 'stream', path: '/stream' },
  ],
  notes:
    "next start listens (-p, -H, --keepAliveTimeout); everything it answers comes from the request handler a custom server gets too: pages, route handlers, public/ and .next/static, redirects, and gzip (Next compresses itself, compress: true by default). A custom server does not go with output: 'standalone'",
  uwsNeeds: 'getRequestHandler() takes node:http IncomingMessage and ServerResponse objects',
};

export default app;
