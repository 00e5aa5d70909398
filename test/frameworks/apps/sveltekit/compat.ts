import { ROUTED_PATHS, standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

// adapter-node takes the site's origin from ORIGIN (its docs' advice behind anything but a plain
// listener); with it set the same on both servers, a form POST carrying that Origin passes
// SvelteKit's cross-site check on either, whatever port each listens on.
const ORIGIN = 'http://compat.test';
const env = { ORIGIN };

const paths = ROUTED_PATHS;

const app: FrameworkApp = {
  name: 'SvelteKit 2 (adapter-node handler)',
  packages: ['@sveltejs/kit', '@sveltejs/adapter-node', 'svelte', 'vite'],
  build: [{ argv: ['node', '../../node_modules/vite/bin/vite.js', 'build'] }],
  buildOutput: ['build', '.svelte-kit'],
  own: { argv: ['node', 'build'], env },
  qilin: { app: 'build/handler.js:handler', env, engines: ['node'] },
  requests: standardRequests(paths).map((r) =>
    r.method === 'POST' ? { ...r, headers: { ...r.headers, origin: ORIGIN } } : r,
  ),
  notes:
    "node build listens (PORT, HOST, SOCKET_PATH, systemd socket activation), applies IDLE_TIMEOUT and shuts down gracefully (SHUTDOWN_TIMEOUT); build/handler.js's handler serves the rest: pages, endpoints, prerendered pages and static/ and /_app/ through sirv",
  uwsNeeds: "adapter-node's handler is a Polka middleware chain over node:http's req and res (sirv for the statics)",
};

export default app;
