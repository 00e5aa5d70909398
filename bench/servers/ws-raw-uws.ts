// The WebSocket bench's limit: an echo on raw uWebSockets.js, the build qilin loads. With
// WS_TEXT=1 it is the equal-work anchor: it does what any WebSocket API does for its app (a text
// message decoded to a string, the string sent back encoded), and nothing else, which shows what
// the string round trip costs beside the bytes echoed as they came.
import { loadUws, type WebSocket } from '../../lib/engines/uws/load.js';

const { uws } = loadUws();
const port = Number(process.env.PORT);
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

const asBytes = (ws: WebSocket<unknown>, message: ArrayBuffer, isBinary: boolean) => {
  ws.send(message, isBinary);
};
const asText = (ws: WebSocket<unknown>, message: ArrayBuffer, isBinary: boolean) => {
  ws.send(isBinary ? message.slice(0) : utf8.decode(message), isBinary);
};

uws
  .App()
  .ws('/*', {
    compression: 0,
    maxPayloadLength: 16 * 1024 * 1024,
    idleTimeout: 0,
    message: process.env.WS_TEXT === '1' ? asText : asBytes,
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
