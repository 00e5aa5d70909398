import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Hono 4',
  packages: ['hono', '@hono/node-server'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  requests: standardRequests(),
  differences: [
    {
      request: 'head',
      field: 'content-length',
      why: "Hono answers HEAD with `new Response(null, res)` of the GET response; qilin sends the Content-Length that GET sends (RFC 9110, 9.3.2), @hono/node-server sends none.",
    },
  ],
  notes: 'The same app on both: @hono/node-server adds nothing the app does not do itself (static files come from its serveStatic middleware, in the app).',
} satisfies FrameworkApp;
