// tRPC's own Node server: the standalone adapter's createHTTPServer, on the same router.
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { appRouter, responseMeta } from './router.js';

createHTTPServer({ router: appRouter, basePath: '/trpc/', createContext: () => ({}), responseMeta })
  .listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0');
