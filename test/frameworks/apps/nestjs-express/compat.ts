import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'NestJS 12 (Express)',
  packages: ['@nestjs/core', '@nestjs/common', '@nestjs/platform-express', 'express'],
  build: [{ argv: ['tsc', '-p', 'tsconfig.json'] }],
  buildOutput: ['dist'],
  own: { argv: ['node', 'dist/main.js'] },
  qilin: { app: 'dist/app.js:createApp()', engines: ['node'] },
  requests: standardRequests(),
  notes:
    "app.listen() calls init() and listens on the Express server Nest built; qilin awaits init() and serves that " +
    "server's requests, and calls close() on graceful stop (onModuleDestroy, beforeApplicationShutdown and " +
    'onApplicationShutdown hooks run), where main.ts needs enableShutdownHooks() for them. Static files: ' +
    'useStaticAssets() (express.static), in createApp(), so both serve them.',
  uwsNeeds:
    'What Express needs (an IncomingMessage and a ServerResponse with their prototypes, see Express), and the node:http ' +
    "Server Nest's ExpressAdapter creates (getHttpServer()), whose 'request' listener is the Express app.",
} satisfies FrameworkApp;
