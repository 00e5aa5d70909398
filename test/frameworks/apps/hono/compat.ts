import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Hono 4',
  packages: ['hono', '@hono/node-server'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  requests: standardRequests(),
  notes: 'The same app on both: @hono/node-server adds nothing the app does not do itself (static files come from its serveStatic middleware, in the app).',
} satisfies FrameworkApp;
