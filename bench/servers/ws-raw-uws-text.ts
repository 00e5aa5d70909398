// The WebSocket bench's equal-work anchor: raw uWebSockets.js doing what any WebSocket API does for
// its app (a text message decoded to a string, the string sent back encoded), and nothing else.
// Beside ws-raw-uws.ts (bytes echoed as they came), it shows what the string round trip costs.
import { loadUws } from '../../lib/engines/uws/load.js';

const { uws } = loadUws();
const port = Number(process.env.PORT);
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

uws
  .App()
  .ws('/*', {
    compression: 0,
    maxPayloadLength: 16 * 1024 * 1024,
    idleTimeout: 0,
    message: (ws, message, isBinary) => {
      ws.send(isBinary ? message.slice(0) : utf8.decode(message), isBinary);
    },
  })
  .any('/*', (res) => {
    res.end('Hello, World!');
  })
  .listen('127.0.0.1', port, (s) => {
    if (!s) {
      console.error(`cannot listen on ${port}`);
      process.exit(1);
    }
  });
