import { ROUTED_PATHS, standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

const env = { NEXT_TELEMETRY_DISABLED: '1' };

const paths = ROUTED_PATHS;

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
  requests: standardRequests(paths),
  notes:
    "next start listens (-p, -H, --keepAliveTimeout); everything it answers comes from the request handler a custom server gets too: pages, route handlers, public/ and .next/static, redirects, and gzip (Next compresses itself, compress: true by default). A custom server does not go with output: 'standalone'",
  uwsNeeds: 'getRequestHandler() takes node:http IncomingMessage and ServerResponse objects',
};

export default app;
