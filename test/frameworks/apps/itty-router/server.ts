// itty-router on Node: its fetch, served by @hono/node-server.
import { serve } from '@hono/node-server';
import router from './app.js';

serve({ fetch: router.fetch, port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '0.0.0.0' });
