import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Fastify 5',
  packages: ['fastify'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['node'] },
  requests: standardRequests(),
  notes:
    "fastify.listen() makes the instance ready() and listens on its own node:http server; qilin awaits ready() " +
    'and hands that server\'s requests to it, and calls close() on graceful stop (its onClose hooks run). ' +
    'The static file is a route of the app (@fastify/static is a separate plugin, not installed here).',
  uwsNeeds:
    "Fastify's own node:http Server: it builds it at creation (fastify.server) and routes its 'request' events; " +
    'the handler reads req.headers, req.method, req.url, req.socket (remoteAddress, encrypted), reads the body as a ' +
    'stream (on data/end/error), and answers with res.writeHead(status, headers) and res.end or a pipe of a stream ' +
    'into res (it watches res "finish"/"close" and req "aborted"/"close" for its onResponse and onRequestAbort hooks).',
} satisfies FrameworkApp;
