// The part of the `ws` package (8.x) the node engine uses; the package ships no types of its own.
declare module 'ws' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage } from 'node:http';
  import type { Duplex } from 'node:stream';

  export class WebSocket extends EventEmitter {
    readonly bufferedAmount: number;
    readonly readyState: number;
    send(data: string | ArrayBuffer | ArrayBufferView, options?: { binary?: boolean }): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    ping(data?: unknown): void;
  }

  export interface ServerOptions {
    noServer?: boolean;
    server?: import('node:http').Server;
    maxPayload?: number;
    perMessageDeflate?: boolean;
    clientTracking?: boolean;
    handleProtocols?: (protocols: Set<string>, req: IncomingMessage) => string | false;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions);
    handleUpgrade(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      cb: (ws: WebSocket, req: IncomingMessage) => void,
    ): void;
  }
}
