import { ROUTED_PATHS, standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

const env = { NUXT_TELEMETRY_DISABLED: '1' };
const nuxi = ['node', '../../node_modules/nuxt/bin/nuxt.mjs', 'build'];

const paths = { ...ROUTED_PATHS, stream: '/api/stream' } as const;

const app: FrameworkApp = {
  name: 'Nuxt 3 (Nitro node-listener)',
  packages: ['nuxt', 'nitropack', 'vue'],
  build: [
    { argv: nuxi, env },
    { argv: nuxi, env: { ...env, NITRO_PRESET: 'node-listener' } },
  ],
  buildOutput: ['.output', '.output-listener', '.nuxt', 'node_modules/.cache'],
  own: { argv: ['node', '.output/server/index.mjs'], env },
  qilin: { app: '.output-listener/server/index.mjs:listener', env, engines: ['node'] },
  requests: standardRequests(paths),
  // Each build draws its own buildId (a UUID in window.__NUXT__.config); the two servers run two builds.
  bodyVaries: [/buildId:"[0-9a-f-]{36}"/g],
  differences: [
    {
      request: 'static',
      field: 'last-modified',
      why: "Nitro takes a public asset's Last-Modified from the copy each build makes of public/: the node-server and node-listener outputs are two builds, made seconds apart",
    },
  ],
  notes:
    "The node-server preset's entry listens (PORT/NITRO_PORT, NITRO_UNIX_SOCKET, HTTPS from NITRO_SSL_CERT/NITRO_SSL_KEY), shuts down gracefully (NITRO_SHUTDOWN_TIMEOUT) and serves public/ and /_nuxt/ by default; the node-listener preset's `listener` is the app alone, and serves those assets only with Nitro's `serveStatic: true`, set in this app's listener build",
  uwsNeeds: "the listener is h3's toNodeListener: it reads node:http's req and writes its res",
};

export default app;
