// The router behind tRPC's fetch adapter, as its docs write it for fetch runtimes: qilin serves the
// export (qilin app.ts: an object with a fetch method).
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { appRouter, responseMeta } from './router.js';

export default {
  fetch: (req: Request) =>
    fetchRequestHandler({ endpoint: '/trpc', req, router: appRouter, createContext: () => ({}), responseMeta }),
};
