// The bench's POST-JSON fetch app, the same module qilin runs, on @hono/node-server.
import { serve } from '@hono/node-server';
import app from '../apps/post-json.js';

serve({ fetch: app, port: Number(process.env.PORT), hostname: '127.0.0.1' });
