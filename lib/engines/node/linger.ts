// Lingering close, as nginx's `lingering_close`: a connection the server closes after a response
// (Connection: close, HTTP/1.0, a refusal, keepalive 0) sends its FIN, then goes on reading what
// the client still sends until the client closes too or LINGER_MS pass.
//
// node:http closes such a socket with destroySoon(): shutdown, then close(2) as soon as the
// response is handed to the kernel. A request body the app never read may still be arriving then,
// and closing a socket with unread bytes makes the kernel send a reset, which discards whatever of
// the response it had not sent yet: the client loses the end of its response (measured: 1 in 10
// uploads of 2 MB answered with an 18 MB stream). Reading on (node:http's parser discards the rest
// of a body nobody reads) until the client's own FIN avoids that; the stream's autoDestroy then
// closes the socket once both directions have ended.
import type { Socket } from 'node:net';

/** How long a closing connection may go on receiving: nginx's lingering_timeout. */
export const LINGER_MS = 5000;

/** Make `socket` linger when node:http closes it. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = lingeringDestroySoon;
}

function lingeringDestroySoon(this: Socket): void {
  if (this.destroyed) return;
  if (this.writable) this.end();
  if (this.readableEnded) {
    // The client has closed its side already: nothing left to read.
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
    return;
  }
  const timer = setTimeout(() => this.destroy(), LINGER_MS);
  timer.unref();
  this.once('close', () => clearTimeout(timer));
  this.resume(); // a body paused for backpressure is read (and dropped) now
}
