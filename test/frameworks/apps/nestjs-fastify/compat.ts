import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'NestJS 12 (Fastify)',
  packages: ['@nestjs/core', '@nestjs/common', '@nestjs/platform-fastify', 'fastify'],
  build: [{ argv: ['tsc', '-p', 'tsconfig.json'] }],
  buildOutput: ['dist'],
  own: { argv: ['node', 'dist/main.js'] },
  qilin: { app: 'dist/app.js:createApp()', engines: ['node'] },
  requests: standardRequests(),
  notes:
    "app.listen() calls init(), makes the Fastify instance ready() and listens on its server; qilin awaits init() " +
    'and then ready() (Nest does that only in listen()), serves the server\'s requests, and calls close() on graceful ' +
    'stop. The static file is a controller route: useStaticAssets() on Fastify needs @fastify/static.',
  uwsNeeds:
    "What Fastify needs (its own node:http Server, an IncomingMessage and a ServerResponse, see Fastify); Nest adds " +
    'nothing to them beyond reply.raw for @Sse() and middleware (Express-style middleware through @fastify/middie gets ' +
    'the raw req/res).',
} satisfies FrameworkApp;
