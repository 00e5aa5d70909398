// Elysia's own server on Node: the app mounted in an Elysia on the @elysiajs/node adapter.
import { node } from '@elysiajs/node';
import { Elysia } from 'elysia';
import { app } from './app.js';

new Elysia({ adapter: node() }).use(app).listen({ port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '0.0.0.0' });
