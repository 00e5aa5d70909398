// Yoga's own server on Node, as its docs run it: node:http's createServer with the yoga instance as
// the request listener.
import { createServer } from 'node:http';
import { yoga } from './app.js';

createServer(yoga).listen(Number(process.env.PORT ?? 4000), process.env.HOST ?? '0.0.0.0');
