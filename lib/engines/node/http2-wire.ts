// The exchange's Wire over one HTTP/2 stream (node:http2's compatibility response): the same
// uWS-style calls as NodeWire over HTTP/1.1, with HTTP/2's framing. There is no status text and no
// connection to close per response: headers go out as one HEADERS frame with the first byte, the
// fields RFC 9113 8.2.2 forbids (Connection, Keep-Alive, Transfer-Encoding, ...) are left out, and
// "close the connection" means reset this stream only.
import type { Http2ServerRequest, Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import { constants } from 'node:http2';
import { rejectRequest } from '../../http/write.js';
import { headText, hintsForNode, NodeResponseWire } from './wire.js';

/** Response fields that are HTTP/1.1's connection management: node:http2 throws on them (RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class Http2Wire extends NodeResponseWire<Http2ServerRequest, Http2ServerResponse> {
  private status = 200;
  private headers: OutgoingHttpHeaders = {};

  /** Gunicorn's error page with `status`; the connection serves on (other streams are not this request's). */
  refuse(status: number, detail: string): void {
    rejectRequest(this, status, detail);
  }

  writeStatus(line: string | Uint8Array): void {
    this.status = Number(headText(line).slice(0, 3)); // HTTP/2 has no reason phrase
  }

  writeHeader(name: string, value: string | Uint8Array): void {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key)) return;
    // Bytes as latin1 characters, one per byte, as on HTTP/1.1 (HPACK carries octets).
    const text = headText(value);
    const had = this.headers[key];
    this.headers[key] = had === undefined ? text : Array.isArray(had) ? [...had, text] : [String(had), text];
  }

  /** An informational 103 before the response (RFC 8297), in node's `res.writeEarlyHints` shape. */
  writeEarlyHints(hints: Record<string, string | readonly string[]>): void {
    if (this.headSent || this.res.stream.destroyed) return;
    const fields = hintsForNode(hints);
    if (fields !== null) this.res.writeEarlyHints(fields);
  }

  protected sendHead(length: number): void {
    this.headSent = true;
    if (length >= 0) this.headers['content-length'] = String(length);
    this.res.writeHead(this.status, this.headers);
  }

  /** The stream closed before all of the response was written: the client reset it, or its connection went. */
  onAborted(fn: () => void): void {
    const stream = this.res.stream;
    stream.once('close', () => {
      if (!stream.writableFinished) fn();
    });
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
