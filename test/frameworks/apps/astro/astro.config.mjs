import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

// One app, two builds: @astrojs/node's standalone server (dist/) and, with ASTRO_NODE_MODE=middleware,
// the handler another server mounts (dist-middleware/).
const middleware = process.env.ASTRO_NODE_MODE === 'middleware';

export default defineConfig({
  output: 'server',
  adapter: node({ mode: middleware ? 'middleware' : 'standalone' }),
  outDir: middleware ? './dist-middleware' : './dist',
  // The host name the site is reached by: Astro takes a request's origin from its Host only when the
  // Host is allowed here (otherwise the origin is localhost), and checks a form POST's Origin against it.
  security: { allowedDomains: [{ hostname: 'compat.test' }] },
});
