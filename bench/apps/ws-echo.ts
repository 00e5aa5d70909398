// The WebSocket bench's fetch app: every message is sent back as it came (text or binary).
import { upgradeWebSocket } from '../../lib/index.js';

export default function wsEcho(request: Request): Response {
  if (request.headers.get('upgrade') !== 'websocket') return new Response('Hello, World!');
  const { socket, response } = upgradeWebSocket(request);
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (ev) => socket.send((ev as MessageEvent).data as string | ArrayBuffer);
  return response;
}
