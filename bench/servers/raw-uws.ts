// Raw uWebSockets.js, the same build qilin loads: the limit for this engine.
import { loadUws } from '../../lib/engines/uws/load.js';

const { uws } = loadUws();
const port = Number(process.env.PORT);

uws
  .App()
  .get('/json', (res) => {
    res.writeHeader('content-type', 'application/json').end(JSON.stringify({ message: 'Hello, World!' }));
  })
  .get('/*', (res) => {
    res.writeHeader('content-type', 'text/plain;charset=UTF-8').end('Hello, World!');
  })
  .listen('127.0.0.1', port, (s) => {
    if (!s) {
      console.error(`cannot listen on ${port}`);
      process.exit(1);
    }
  });
