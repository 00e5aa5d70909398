// The I/O-bound case on plain node:http: the same handler, wait 20 ms, then answer. Listens with
// qilin's default backlog, as listen.ts does (node's 511 overflows under a burst of 1000 connections).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const TEXT_HEADERS = { 'content-type': 'text/plain;charset=UTF-8' };
http
  // An async handler, as apps are written for node:http (nothing in it rejects).
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the bench serves the handler as users write it
  .createServer(async (_req, res) => {
    await sleep(20);
    res.writeHead(200, TEXT_HEADERS).end('Hello, World!');
  })
  .listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: 2048 });
