// The exchange's Wire over node's responses: uWS-style calls (status, headers, then a whole body or
// chunks) onto node:http's ServerResponse (NodeWire) or node:http2's compatibility response
// (Http2Wire, in http2-wire.ts), through the base they share.
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

/** Of node's request streams (node:http's and node:http2's), what a wire reads the body with. */
interface NodeRequestStream {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  once(event: 'end', fn: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}
/** Of node's responses (node:http's and node:http2's compatibility one), what a wire writes the body with. */
interface NodeResponseStream {
  write(chunk: Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  once(event: 'drain', fn: () => void): unknown;
}

/**
 * Head text as node takes it: bytes as latin1 characters, one per byte (as uWS writes bytes). A
 * string is UTF-8 on uWS's wire: past ASCII it goes in as the latin1 text of its UTF-8. An ASCII
 * string comes back as it is (the same string), so `headText(v) !== v` says it went in as bytes.
 */
export function headText(v: string | Uint8Array): string {
  if (typeof v !== 'string') return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
  return NON_ASCII.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

/**
 * The exchange's Wire over one node response (HTTP/1.1 in NodeWire, an HTTP/2 stream in Http2Wire):
 * uWS-style calls (status, headers, then a whole body or chunks) onto node's stream-style response.
 * The head is collected and goes out with the first byte (sendHead); node buffers what the socket
 * cannot take yet, so a write is never partial.
 */
export abstract class NodeResponseWire<Req extends NodeRequestStream, Res extends NodeResponseStream> implements Wire {
  protected headSent = false;
  /** Body bytes given to node (tryEnd). */
  private written = 0;
  get peerReadableLate(): boolean {
    return true;
  }

  constructor(
    readonly req: Req,
    readonly res: Res,
  ) {}

  abstract refuse(status: number, detail: string): void;
  abstract writeStatus(line: string | Uint8Array): void;
  abstract writeHeader(name: string, value: string | Uint8Array): void;
  abstract onAborted(fn: () => void): void;
  abstract close(): void;
  abstract getRemotePort(): number;
  abstract getRemoteAddressAsText(): string;
  /** Send the status and headers, with a Content-Length of `length` unless it is -1. */
  protected abstract sendHead(length: number): void;
  /** A whole body as node is given it (NodeWire: bytes when the head had bytes). */
  protected bodyOut(body: PlainBody): string | Uint8Array {
    return body instanceof ArrayBuffer ? new Uint8Array(body) : body;
  }

  end(body: PlainBody = EMPTY): void {
    // The length goes in the head: node sends it as it is (HTTP/1.0 keep-alive needs it).
    if (!this.headSent) this.sendHead(byteLength(body));
    this.res.end(this.bodyOut(body));
  }

  endWithoutBody(): void {
    this.sendHead(-1);
    this.res.end();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.headSent) this.sendHead(-1); // no length: node frames it (chunked, END_STREAM, or the close on HTTP/1.0)
    return this.res.write(chunk);
  }

  /** Node takes the whole chunk (it buffers what the socket cannot take yet): not ok means wait for drain. */
  tryEnd(chunk: Uint8Array, total: number): [boolean, boolean] {
    if (!this.headSent) this.sendHead(total);
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
}

/** The exchange's Wire over node:http: headers go out in one writeHead call with a flat list (repeated names such as Set-Cookie stay separate). */
export class NodeWire extends NodeResponseWire<IncomingMessage, ServerResponse> {
  private status = 200;
  private reason: string | undefined = undefined;
  private readonly headers: string[] = [];
  /** A header value went in as the latin1 text of its UTF-8 bytes (see headText). */
  private binaryHead = false;

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

  private text(v: string | Uint8Array): string {
    const text = headText(v);
    if (text !== v) this.binaryHead = true;
    return text;
  }

  protected sendHead(length: number): void {
    this.headSent = true;
    if (length >= 0) this.headers.push('content-length', String(length));
    this.res.writeHead(this.status, this.reason, this.headers);
  }

  /**
   * Node encodes the head as it encodes the first body chunk, so with a head of bytes past ASCII
   * end() hands node no string body.
   */
  protected override bodyOut(body: PlainBody): string | Uint8Array {
    return this.binaryHead && typeof body === 'string' ? Buffer.from(body) : super.bodyOut(body);
  }

  /** A 103 through node:http's writeEarlyHints, which keeps it in order on a pipelined connection. */
  writeEarlyHints(hints: Record<string, string | readonly string[]>): void {
    const fields = hintsForNode(hints);
    if (fields !== null) this.res.writeEarlyHints(fields);
  }

  override end(body?: PlainBody, closeConnection = false): void {
    if (closeConnection) this.res.shouldKeepAlive = false; // node says `Connection: close` and closes after
    super.end(body);
  }

  onAborted(fn: () => void): void {
    const res = this.res;
    // `on`, not `once`: a response closes once, and is dropped after; once's wrapper and its
    // removal would cost every async request a listener-array copy for nothing.
    res.on('close', () => {
      if (!res.writableFinished) fn();
    });
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
