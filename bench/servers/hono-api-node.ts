// The bench's Hono API app on @hono/node-server.
import { serve } from '@hono/node-server';
import app from '../apps/hono-api.js';

serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
