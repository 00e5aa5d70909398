// The WebSocket bench's limit: an echo on raw uWebSockets.js, the build qilin loads.
import { loadUws } from '../../lib/engines/uws/load.js';

const { uws } = loadUws();
const port = Number(process.env.PORT);

uws
  .App()
  .ws('/*', {
    compression: 0,
    maxPayloadLength: 16 * 1024 * 1024,
    idleTimeout: 0,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
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
