// The WebSocket bench's load generator: `node ws-load.js PORT CONNECTIONS WINDOW WARMUP_MS DURATION_MS`.
// Each connection does the handshake, then keeps WINDOW text messages of 13 bytes in flight: every
// echo that comes back is answered by another message. Frames are built once and counted by size
// (a server's frame of a 13-byte text message is 15 bytes), so the client costs next to nothing
// per message and the server is what is measured. Prints {"messages": N, "seconds": S} as JSON.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

const [port, connections, window, warmupMs, durationMs] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
  number,
  number,
];
const PAYLOAD = Buffer.from('Hello, World!');
const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);
const frame = Buffer.concat([
  Buffer.from([0x81, 0x80 | PAYLOAD.length]),
  MASK,
  Buffer.from(PAYLOAD.map((b, i) => b ^ MASK[i % 4]!)),
]);
const batch = Buffer.concat(Array.from({ length: window }, () => frame));
const ECHO = 2 + PAYLOAD.length;

let received = 0;

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    let head = '';
    let upgraded = false;
    let bytes = 0;
    let inFlight = 0;
    sock.on('connect', () => {
      sock.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on('data', (chunk: Buffer) => {
      if (!upgraded) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!head.startsWith('HTTP/1.1 101')) {
          reject(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
          sock.destroy();
          return;
        }
        upgraded = true;
        bytes = head.length - end - 4; // frames that came with the head
        inFlight = window;
        sock.write(batch);
        resolve();
      } else {
        bytes += chunk.length;
      }
      const echoes = Math.floor(bytes / ECHO);
      if (echoes === 0) return;
      bytes -= echoes * ECHO;
      received += echoes;
      inFlight -= echoes;
      const more = window - inFlight;
      if (more > 0) {
        inFlight += more;
        sock.write(more === window ? batch : batch.subarray(0, more * frame.length));
      }
    });
    sock.on('error', reject);
  });
}

await Promise.all(Array.from({ length: connections }, open));
await new Promise((r) => setTimeout(r, warmupMs));
process.stdout.write('measuring\n'); // the bench reads the server's CPU time now, and at the result
const start = received;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, durationMs));
const messages = received - start;
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ messages, seconds }) + '\n');
process.exit(0);
