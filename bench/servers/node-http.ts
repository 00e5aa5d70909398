// node:http, one process.
import http from 'node:http';

const JSON_HEADERS = { 'content-type': 'application/json' };
const TEXT_HEADERS = { 'content-type': 'text/plain;charset=UTF-8' };
http
  .createServer((req, res) => {
    if (req.url === '/json') res.writeHead(200, JSON_HEADERS).end(JSON.stringify({ message: 'Hello, World!' }));
    else res.writeHead(200, TEXT_HEADERS).end('Hello, World!');
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
