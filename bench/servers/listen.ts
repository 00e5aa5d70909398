// A Node-style app module from bench/apps on its framework's own listen(), the way its docs start
// it: `node listen.js APP.cjs`. The app is the last argument, so cluster.js and PM2 run this file
// unchanged.
import { createRequire } from 'node:module';
import path from 'node:path';

// qilin's default backlog rather than node's 511: with 511, the burst of 1000 connections a load
// generator opens overflows the accept queue, and the dropped ones wait for SYN retransmits (1 s,
// 3 s, ...), which measures the backlog, not the server.
const BACKLOG = 2048;

interface Fastify {
  ready(): unknown;
  listen(opts: { port: number; host: string; backlog: number }): Promise<unknown>;
}
interface Listens {
  listen(port: number, host: string, backlog: number): unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  (typeof v === 'object' && v !== null) || typeof v === 'function';
const isFastify = (v: unknown): v is Fastify =>
  isObj(v) && typeof v.ready === 'function' && typeof v.listen === 'function' && 'server' in v;
const listens = (v: unknown): v is Listens => isObj(v) && typeof v.listen === 'function';

const file = path.resolve(process.argv.at(-1)!);
const app: unknown = createRequire(import.meta.url)(file);
const port = Number(process.env.PORT);
if (isFastify(app)) await app.listen({ port, host: '127.0.0.1', backlog: BACKLOG });
else if (listens(app)) app.listen(port, '127.0.0.1', BACKLOG);
else throw new Error(`${file} does not export an app with listen()`);
