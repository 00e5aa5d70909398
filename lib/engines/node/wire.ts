// The exchange's Wire over node:http: uWS-style calls (status, headers, then a whole body or
// chunks) onto one ServerResponse. Headers are collected and go out with the first byte, in one
// writeHead call with a flat list (repeated names such as Set-Cookie stay separate).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Wire } from '../../http/contracts.js';
import { linkValues } from '../../http/early-hints.js';
import { checkField } from '../../http/fields.js';
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
  /** Body bytes given to node (tryEnd). */
  private written = 0;
  /** A header value went in as the latin1 text of its UTF-8 bytes (see writeHeader). */
  private binaryHead = false;
  get peerReadableLate(): boolean {
    return true;
  }

  constructor(
    protected readonly req: IncomingMessage,
    protected readonly res: ServerResponse,
  ) {}

  /** Gunicorn's error page with `status`, the connection closed, nothing more served from it. */
  refuse(status: number, detail: string): void {
    refused.add(this.req.socket);
    rejectRequest(this, status, detail);
  }

  writeStatus(line: string | Uint8Array): void {
    const text = this.text(line);
    this.status = Number(text.slice(0, 3));
    this.reason = text.length > 4 ? text.slice(4) : undefined;
  }

  writeHeader(name: string, value: string | Uint8Array): void {
    this.headers.push(name, this.text(value));
  }

  /**
   * Head text as node:http takes it: bytes as latin1 characters, one per byte (as uWS writes bytes).
   * A string is UTF-8 on uWS's wire: past ASCII it goes in as the latin1 text of its UTF-8. Node
   * encodes the head as it encodes the first body chunk, so with such a head end() hands node no
   * string body.
   */
  private text(v: string | Uint8Array): string {
    if (typeof v !== 'string') {
      this.binaryHead = true;
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
    }
    if (NON_ASCII.test(v)) {
      this.binaryHead = true;
      return Buffer.from(v, 'utf8').toString('latin1');
    }
    return v;
  }

  private sendHead(): void {
    this.headSent = true;
    this.res.writeHead(this.status, this.reason, this.headers);
  }

  /** A 103 through node:http's writeEarlyHints, which keeps it in order on a pipelined connection. */
  writeEarlyHints(hints: Record<string, string | readonly string[]>): void {
    const fields = hintsForNode(hints);
    if (fields !== null) this.res.writeEarlyHints(fields);
  }

  end(body: PlainBody = EMPTY, closeConnection = false): void {
    const res = this.res;
    if (closeConnection) res.shouldKeepAlive = false; // node says `Connection: close` and closes after
    if (!this.headSent) {
      // writeHead sends the head as it is: the length must be in it (HTTP/1.0 keep-alive needs it).
      this.headers.push('content-length', String(byteLength(body)));
      this.sendHead();
    }
    res.end(
      body instanceof ArrayBuffer
        ? new Uint8Array(body)
        : this.binaryHead && typeof body === 'string'
          ? Buffer.from(body)
          : body,
    );
  }

  endWithoutBody(): void {
    this.sendHead();
    this.res.end();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.headSent) this.sendHead(); // no length: node frames it (chunked, or to the close on HTTP/1.0)
    return this.res.write(chunk);
  }

  /** Node takes the whole chunk (it buffers what the socket cannot take yet): not ok means wait for drain. */
  tryEnd(chunk: Uint8Array, total: number): [boolean, boolean] {
    if (!this.headSent) {
      this.headers.push('content-length', String(total));
      this.sendHead();
    }
    this.written += chunk.byteLength;
    if (this.written >= total) {
      this.res.end(chunk);
      return [true, true];
    }
    return [this.res.write(chunk), false];
  }

  getWriteOffset(): number {
    return this.written;
  }

  cork(fn: () => void): void {
    fn();
  }

  onWritable(fn: (offset: number) => boolean): void {
    this.res.once('drain', () => fn(0));
  }

  onAborted(fn: () => void): void {
    const res = this.res;
    // `on`, not `once`: a response closes once, and is dropped after; once's wrapper and its
    // removal would cost every async request a listener-array copy for nothing.
    res.on('close', () => {
      if (!res.writableFinished) fn();
    });
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

/**
 * Hint fields as node's `writeEarlyHints` (node:http's and node:http2's) must be given them, or null
 * when there is no Link (node writes no 103 without one). Node 20 writes the fields as given: names
 * and values other than Link unchecked (CR LF would split the response), and a Link value matched
 * against a pattern that lets CR LF through inside `<…>` but refuses a list (`</a>; rel=preload,
 * </b>; rel=preload`). So every field is checked here as a response header, a Link list goes in as
 * its link-values, and other repeated fields joined. Node writes each character as one byte, as it
 * writes headers.
 */
export function hintsForNode(
  hints: Record<string, string | readonly string[]>,
): Record<string, string | string[]> | null {
  const out = Object.create(null) as Record<string, string | string[]>;
  let links: string[] = [];
  for (const name in hints) {
    const given = hints[name]!;
    const values = typeof given === 'string' ? [given] : given;
    const checked = values.map((v) => checkField(name, v));
    const key = name.toLowerCase();
    if (key === 'link') links = links.concat(linkValues(checked));
    else out[key] = out[key] === undefined ? checked.join(', ') : [out[key], ...checked].join(', ');
  }
  if (links.length === 0) return null;
  out.link = links;
  return out;
}
