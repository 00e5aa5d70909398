import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// One app, two Nitro builds: the default node-server preset (nuxi build) for Nuxt's own server, and
// NITRO_PRESET=node-listener for the handler another server runs, into its own output directory.
const listener = process.env.NITRO_PRESET === 'node-listener';

// The server routes' auto-imports (defineEventHandler, readBody, setCookie…) are `from 'h3'`,
// resolved from the app. The packages next to this app hoist h3 2 (for another framework's app),
// which Nitro 2 does not run on: point 'h3' at the h3 1 that nitropack itself depends on, as a Nuxt 3
// project's own node_modules would have it.
const nitropack = createRequire(import.meta.url).resolve('nitropack/package.json');
const h3 = dirname(createRequire(nitropack).resolve('h3/package.json'));

export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  devtools: { enabled: false },
  telemetry: false,
  // No source maps: nothing reads them here, and they are a good part of the build's time.
  sourcemap: false,
  nitro: {
    alias: { h3 },
    ...(listener
      ? {
          output: { dir: '.output-listener' },
          // Nitro's option for serving public/ and the built /_nuxt/ assets from the server bundle,
          // as the node-server preset does by default; the listener preset leaves them to a CDN.
          serveStatic: true,
        }
      : {}),
  },
});
