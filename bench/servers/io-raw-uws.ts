// The I/O-bound case on raw uWebSockets.js (the build qilin loads): the same wait, 20 ms, then the
// answer, with no adapter or pool in between: the limit for this engine on one core.
import { loadUws } from '../../lib/engines/uws/load.js';

const { uws } = loadUws();
const port = Number(process.env.PORT);

uws
  .App()
  .any('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    setTimeout(() => {
      if (!aborted)
        res.cork(() => {
          res.writeHeader('content-type', 'text/plain;charset=UTF-8').end('Hello, World!');
        });
    }, 20);
  })
  .listen('127.0.0.1', port, (s) => {
    if (!s) {
      console.error(`cannot listen on ${port}`);
      process.exit(1);
    }
  });
