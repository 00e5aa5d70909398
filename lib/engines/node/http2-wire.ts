// The exchange's Wire over one HTTP/2 stream (node:http2's compatibility response): the same
// uWS-style calls as NodeWire over HTTP/1.1, with HTTP/2's framing. There is no status text and no
// connection to close per response: headers go out as one HEADERS frame with the first byte, the
// fields RFC 9113 8.2.2 forbids (Connection, Keep-Alive, Transfer-Encoding, ...) are left out, and
// "close the connection" means reset this stream only.
import type { Http2ServerRequest, Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import { constants } from 'node:http2';
import type { Wire } from '../../http/contracts.js';
import { byteLength, type PlainBody } from '../../http/response.js';
import { rejectRequest } from '../../http/write.js';

const EMPTY = Buffer.alloc(0);
const NON_ASCII = /[^\x00-\x7f]/;

/** Response fields that are HTTP/1.1's connection management: node:http2 throws on them (RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class Http2Wire implements Wire {
  private status = 200;
  private headers: OutgoingHttpHeaders = {};
  private headSent = false;
  /** Body bytes given to node (tryEnd). */
  private written = 0;
  get peerReadableLate(): boolean {
    return true;
  }

  constructor(
    readonly req: Http2ServerRequest,
    readonly res: Http2ServerResponse,
  ) {}

  /** Gunicorn's error page with `status`; the connection serves on (other streams are not this request's). */
  refuse(status: number, detail: string): void {
    rejectRequest(this, status, detail);
  }

  writeStatus(line: string | Uint8Array): void {
    const text = typeof line === 'string' ? line : Buffer.from(line).toString('latin1');
    this.status = Number(text.slice(0, 3)); // HTTP/2 has no reason phrase
  }

  writeHeader(name: string, value: string | Uint8Array): void {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key)) return;
    // Bytes as latin1 characters, one per byte, as on HTTP/1.1 (HPACK carries octets).
    const text =
      typeof value !== 'string'
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
        : NON_ASCII.test(value)
          ? Buffer.from(value, 'utf8').toString('latin1')
          : value;
    const had = this.headers[key];
    this.headers[key] = had === undefined ? text : Array.isArray(had) ? [...had, text] : [String(had), text];
  }

  /** An informational 103 before the response (RFC 8297), in node's `res.writeEarlyHints` shape. */
  writeEarlyHints(hints: Record<string, string | readonly string[]>): void {
    if (this.headSent || this.res.stream.destroyed) return;
    this.res.writeEarlyHints(hints as Record<string, string | string[]>);
  }

  private sendHead(): void {
    this.headSent = true;
    this.res.writeHead(this.status, this.headers);
  }

  end(body: PlainBody = EMPTY): void {
    if (!this.headSent) {
      this.headers['content-length'] = String(byteLength(body));
      this.sendHead();
    }
    this.res.end(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
  }

  endWithoutBody(): void {
    this.sendHead();
    this.res.end();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.headSent) this.sendHead(); // no length: END_STREAM frames it
    return this.res.write(chunk);
  }

  /** Node takes the whole chunk (it buffers what the stream's window cannot take yet): not ok means wait for drain. */
  tryEnd(chunk: Uint8Array, total: number): [boolean, boolean] {
    if (!this.headSent) {
      this.headers['content-length'] = String(total);
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

  /** The stream closed before all of the response was written: the client reset it, or its connection went. */
  onAborted(fn: () => void): void {
    const stream = this.res.stream;
    stream.once('close', () => {
      if (!stream.writableFinished) fn();
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

  /** Cut this request: RST_STREAM (INTERNAL_ERROR), the connection's other streams go on. */
  close(): void {
    const stream = this.res.stream;
    if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  getRemotePort(): number {
    return this.res.stream.session?.socket?.remotePort ?? 0;
  }

  getRemoteAddressAsText(): string {
    return this.res.stream.session?.socket?.remoteAddress ?? '';
  }
}
