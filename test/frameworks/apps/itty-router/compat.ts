import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'itty-router 5',
  packages: ['itty-router', '@hono/node-server'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  requests: standardRequests(),
  notes:
    'itty-router has no server of its own: on Node its docs hand router.fetch to an adapter (here @hono/node-server), ' +
    'which adds nothing; qilin serves the exported router (an object with a fetch method, never awaited although ' +
    'every property of it, then included, is a function). The static file is a route: itty has no static middleware.',
} satisfies FrameworkApp;
