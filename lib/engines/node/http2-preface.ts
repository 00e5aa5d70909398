// Cleartext HTTP/2 with prior knowledge (RFC 9113 3.4) on a port that also serves HTTP/1.x: a
// trusted peer's connection must open with the HTTP/2 connection preface. Its first bytes are read
// here, then handed back (unshifted) with the socket to node:http2, which reads what the socket
// holds before its own reads. Gunicorn's rules (gunicorn/http2/negotiation.py): the whole preface
// within 1 s of the connection, and anything else from such a peer is a 400, never a silent
// HTTP/1.1, so that a misconfigured proxy fails loudly.
import type { Socket } from 'node:net';

export const H2C_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Gunicorn's H2C_PREFACE_TIMEOUT: the budget for the whole preface, from the connection's start. */
export const PREFACE_TIMEOUT_MS = 1000;

/** 1: the bytes are the whole preface (and maybe more), 0: a prefix of it so far, -1: not it. */
export function prefaceMatch(buf: Buffer): 1 | 0 | -1 {
  const n = Math.min(buf.length, H2C_PREFACE.length);
  if (buf.compare(H2C_PREFACE, 0, n, 0, n) !== 0) return -1;
  return buf.length >= H2C_PREFACE.length ? 1 : 0;
}

/**
 * Read the first bytes of `socket`: the preface → `h2(socket)` with every byte read put back;
 * anything else, or too little within PREFACE_TIMEOUT_MS → `refuse(socket, what)`.
 */
export function readPreface(
  socket: Socket,
  h2: (socket: Socket) => void,
  refuse: (socket: Socket, detail: string) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  const finish = () => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.pause();
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const state = prefaceMatch(buf);
    if (state === 0) return;
    finish();
    if (state === 1) {
      socket.unshift(buf);
      h2(socket);
    } else
      refuse(socket, `Invalid HTTP/2 connection preface: ${JSON.stringify(buf.subarray(0, 24).toString('latin1'))}`);
  };
  const onEnd = () => {
    finish();
    socket.destroy();
  };
  const onError = () => {
    finish();
    socket.destroy();
  };
  const timer = setTimeout(() => {
    finish();
    if (socket.destroyed) return;
    refuse(
      socket,
      buf.length === 0 ? 'No HTTP/2 connection preface within 1 s' : 'Incomplete HTTP/2 connection preface',
    );
  }, PREFACE_TIMEOUT_MS);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('error', onError);
}
