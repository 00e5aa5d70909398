// The exchange's Wire over node:http: uWS-style calls (status, headers, then a whole body or
// chunks) onto one ServerResponse. Headers are collected and go out with the first byte, in one
// writeHead call with a flat list (repeated names such as Set-Cookie stay separate).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Wire } from '../../http/exchange.js';
import { byteLength, type PlainBody } from '../../http/response.js';
import { rejectRequest } from '../../http/write.js';

/** Connections a request was refused on (see refuse). */
const refused = new WeakSet<Socket>();

/**
 * Nothing after a refused request may be served from its connection: node:http has already parsed
 * and will still emit what the client pipelined behind it (a request hidden by two Hosts or
 * contradictory scheme headers). The handlers drop those unanswered; the connection closes once
 * the refusal is written (Connection: close).
 */
export function refusedBefore(req: IncomingMessage): boolean {
  return refused.has(req.socket);
}

const EMPTY = Buffer.alloc(0);
const NON_ASCII = /[^\x00-\x7f]/;

export class NodeWire implements Wire {
  private status = 200;
  private reason: string | undefined = undefined;
  private readonly headers: string[] = [];
  private headSent = false;
  /** A header value went in as the latin1 text of its UTF-8 bytes (see writeHeader). */
  private binaryHead = false;
  get peerReadableLate(): boolean { return true; }

  constructor(protected readonly req: IncomingMessage, protected readonly res: ServerResponse) {}

  /** Gunicorn's error page with `status`, the connection closed, nothing more served from it. */
  refuse(status: number, detail: string): void {
    refused.add(this.req.socket);
    rejectRequest(this, status, detail);
  }

  writeStatus(line: string): void {
    this.status = Number(line.slice(0, 3));
    let reason = line.length > 4 ? line.slice(4) : undefined;
    if (reason !== undefined && NON_ASCII.test(reason)) { reason = Buffer.from(reason, 'utf8').toString('latin1'); this.binaryHead = true; }
    this.reason = reason;
  }

  writeHeader(name: string, value: string): void {
    // uWS writes a value's UTF-8 bytes. Node refuses characters past U+00FF (a cut connection) and
    // encodes the head as it encodes the first body chunk; so such a value (or status text) goes in
    // as the latin1 text of its UTF-8 bytes, and the head then goes out as latin1 (end() hands node
    // no string).
    if (NON_ASCII.test(value)) { value = Buffer.from(value, 'utf8').toString('latin1'); this.binaryHead = true; }
    this.headers.push(name, value);
  }

  private sendHead(): void {
    this.headSent = true;
    this.res.writeHead(this.status, this.reason, this.headers);
  }

  end(body: PlainBody = EMPTY, closeConnection = false): void {
    const res = this.res;
    if (closeConnection) res.shouldKeepAlive = false; // node says `Connection: close` and closes after
    if (!this.headSent) {
      // writeHead sends the head as it is: the length must be in it (HTTP/1.0 keep-alive needs it).
      this.headers.push('content-length', String(byteLength(body)));
      this.sendHead();
    }
    res.end(body instanceof ArrayBuffer ? new Uint8Array(body) : this.binaryHead && typeof body === 'string' ? Buffer.from(body) : body);
  }

  endWithoutBody(): void {
    this.sendHead();
    this.res.end();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.headSent) this.sendHead(); // no length: node frames it (chunked, or to the close on HTTP/1.0)
    return this.res.write(chunk);
  }

  cork(fn: () => void): void {
    fn();
  }

  onWritable(fn: (offset: number) => boolean): void {
    this.res.once('drain', () => fn(0));
  }

  onAborted(fn: () => void): void {
    const res = this.res;
    res.once('close', () => { if (!res.writableFinished) fn(); });
  }

  onData(fn: (chunk: Uint8Array, isLast: boolean) => void): void {
    this.req.on('data', (chunk: Buffer) => fn(chunk, false));
    this.req.once('end', () => fn(EMPTY, true));
  }

  pause(): void {
    this.req.pause();
  }

  resume(): void {
    this.req.resume();
  }

  close(): void {
    this.res.destroy();
  }

  getRemotePort(): number {
    return this.req.socket.remotePort ?? 0;
  }

  getRemoteAddressAsText(): string {
    return this.req.socket.remoteAddress ?? ''; // a unix socket peer has no address (Gunicorn logs it empty too)
  }
}
