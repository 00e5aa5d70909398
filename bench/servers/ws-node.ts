// The WebSocket bench's Node anchor: an echo with the ws package on node:http, as most Node apps serve WebSockets.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT);
const server = http.createServer((_req, res) => {
  res.end('Hello, World!');
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    ws.send(data, { binary: isBinary });
  });
});
server.listen(port, '127.0.0.1', 2048);
