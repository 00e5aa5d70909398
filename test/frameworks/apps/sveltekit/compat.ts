import type { FrameworkApp } from '../../types.ts';

// adapter-node takes the site's origin from ORIGIN (its docs' advice behind anything but a plain
// listener); with it set the same on both servers, a form POST carrying that Origin passes
// SvelteKit's cross-site check on either, whatever port each listens on.
const ORIGIN = 'http://compat.test';
const env = { ORIGIN };

const app: FrameworkApp = {
  name: 'SvelteKit 2 (adapter-node handler)',
  packages: ['@sveltejs/kit', '@sveltejs/adapter-node', 'svelte', 'vite'],
  build: [{ argv: ['node', '../../node_modules/vite/bin/vite.js', 'build'] }],
  buildOutput: ['build', '.svelte-kit'],
  own: { argv: ['node', 'build'], env },
  qilin: { app: 'build/handler.js:handler', env, engines: ['node'] },
  requests: [
    { name: 'page', path: '/' },
    { name: 'page-cookie', path: '/', headers: { cookie: 'name=Ada' } },
    { name: 'json', path: '/api/json' },
    {
      name: 'post-json',
      method: 'POST',
      path: '/api/echo',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: '{"hello":"world","n":1}',
    },
    {
      name: 'post-form',
      method: 'POST',
      path: '/api/echo',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
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
    "node build listens (PORT, HOST, SOCKET_PATH, systemd socket activation), applies IDLE_TIMEOUT and shuts down gracefully (SHUTDOWN_TIMEOUT); build/handler.js's handler serves the rest: pages, endpoints, prerendered pages and static/ and /_app/ through sirv",
  uwsNeeds: "adapter-node's handler is a Polka middleware chain over node:http's req and res (sirv for the statics)",
};

export default app;
