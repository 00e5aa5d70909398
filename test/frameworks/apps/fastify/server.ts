// Fastify's own server: fastify.listen().
import fastify from './app.js';

await fastify.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '0.0.0.0' });
