// h3's own server on Node: serve() (srvx's Node adapter).
import { serve } from 'h3';
import app from './app.js';

serve(app, { port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '0.0.0.0', silent: true });
