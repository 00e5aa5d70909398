// PROXY protocol (HAProxy's, v1 text and v2 binary) on the node engine: a front-end that passes
// connections on at the TCP level (HAProxy, nginx's stream `proxy_protocol on`, AWS NLB, stunnel)
// first sends who the client is. The header is read off each new connection before node:http sees
// it; the client it names becomes the socket's remoteAddress/remotePort, so the app (fetch `info`,
// Express's req.ip), the access log and the forwarded headers' checks all see the client.
import { isIP, type Socket } from 'node:net';
import { formatPeerAddress } from '../../http/address.js';
import { allows, type AllowList } from '../../config/allow-list.js';
import type { Settings } from '../../config/settings.js';

/** The address of the front-end that sent a PROXY header, kept on the socket it rewrote. */
const kProxyPeer = Symbol('qilin.proxyPeer');

/**
 * The peer that connected, as forwarded_allow_ips judges it (the front-end, not the client a PROXY
 * header named, as Gunicorn does); undefined for a unix socket peer.
 */
export function socketPeer(socket: Socket): string | undefined {
  const own = (socket as Socket & { [kProxyPeer]?: string })[kProxyPeer];
  const addr = own ?? socket.remoteAddress;
  if (addr !== undefined) return formatPeerAddress(addr);
  // No address: a unix socket (trusted, as Gunicorn trusts it), or a TCP socket already gone ('': nobody).
  return (socket as Socket & { _handle?: object | null })._handle?.constructor.name === 'Pipe' ? undefined : '';
}

/**
 * node:https wraps each connection in a TLSSocket that reads its peer from the kernel: give it what
 * the PROXY header said of the connection it wraps (its `_parent`).
 */
export function carryProxyPeer(secure: Socket): void {
  const raw = (secure as Socket & { _parent?: Socket | null })._parent;
  if (raw == null || (raw as Socket & { [kProxyPeer]?: string })[kProxyPeer] === undefined) return;
  (secure as Socket & { [kProxyPeer]?: string })[kProxyPeer] = (raw as Socket & { [kProxyPeer]?: string })[kProxyPeer];
  Object.defineProperties(secure, {
    remoteAddress: { value: raw.remoteAddress, configurable: true },
    remotePort: { value: raw.remotePort, configurable: true },
    remoteFamily: { value: raw.remoteFamily, configurable: true },
  });
}

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_PREFIX = Buffer.from('PROXY ');
/** The longest v1 line, CRLF included (the specification's 107 bytes). */
const V1_MAX = 107;

export type ProxyMode = Settings['proxy_protocol'];

/** What the start of a connection holds. */
export type ProxyHeader =
  /** Not enough bytes yet to tell. */
  | { kind: 'more' }
  /** No PROXY header: plain HTTP. */
  | { kind: 'none' }
  /** A header of `length` bytes; the client it names, or null (LOCAL, UNKNOWN, UNSPEC: the peer is the client). */
  | { kind: 'header'; length: number; client: { address: string; port: number; family: 'IPv4' | 'IPv6' } | null }
  | { kind: 'invalid'; detail: string };

/** Read a PROXY header of `mode` at the start of `buf`. */
export function parseProxyHeader(buf: Buffer, mode: ProxyMode): ProxyHeader {
  if (mode === 'v2' || mode === 'auto') {
    const n = Math.min(buf.length, V2_SIGNATURE.length);
    if (buf.compare(V2_SIGNATURE, 0, n, 0, n) === 0) return n < V2_SIGNATURE.length ? { kind: 'more' } : parseV2(buf);
  }
  if (mode === 'v1' || mode === 'auto') {
    const n = Math.min(buf.length, V1_PREFIX.length);
    if (buf.compare(V1_PREFIX, 0, n, 0, n) === 0) return n < V1_PREFIX.length ? { kind: 'more' } : parseV1(buf);
  }
  return { kind: 'none' };
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end < 0 || end + 2 > V1_MAX)
    return end < 0 && buf.length < V1_MAX
      ? { kind: 'more' }
      : { kind: 'invalid', detail: 'Invalid PROXY line: too long' };
  const line = buf.toString('latin1', 0, end);
  const bad = (): ProxyHeader => ({ kind: 'invalid', detail: `Invalid PROXY line: '${line}'` });
  const bits = line.split(' ');
  // UNKNOWN: the front-end does not know the client (a health check): the connection's own peer stands.
  if (bits[1] === 'UNKNOWN') return { kind: 'header', length: end + 2, client: null };
  if (bits.length !== 6 || (bits[1] !== 'TCP4' && bits[1] !== 'TCP6')) return bad();
  const family = bits[1] === 'TCP4' ? 4 : 6;
  if (isIP(bits[2]!) !== family || isIP(bits[3]!) !== family) return bad();
  const ports = [bits[4]!, bits[5]!];
  if (!ports.every((p) => /^\d{1,5}$/.test(p) && Number(p) <= 65535)) return bad();
  return {
    kind: 'header',
    length: end + 2,
    client: { address: formatPeerAddress(bits[2]!), port: Number(bits[4]), family: family === 4 ? 'IPv4' : 'IPv6' },
  };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { kind: 'more' };
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2) return { kind: 'invalid', detail: `Invalid PROXY header: unsupported version ${version}` };
  if (command > 1) return { kind: 'invalid', detail: `Invalid PROXY header: unsupported command ${command}` };
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return { kind: 'more' };
  // LOCAL: the front-end's own connection (a health check); the peer is the client.
  if (command === 0) return { kind: 'header', length, client: null };
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  // UNSPEC and UNIX: no address qilin can use; the peer stands (the specification says to accept them).
  if (family === 0 || family === 3) return { kind: 'header', length, client: null };
  if (transport !== 1) return { kind: 'invalid', detail: 'Invalid PROXY header: only TCP is supported' };
  if (family === 1) {
    if (length < 16 + 12)
      return { kind: 'invalid', detail: 'Invalid PROXY header: insufficient address data for IPv4' };
    const address = `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`;
    return { kind: 'header', length, client: { address, port: buf.readUInt16BE(24), family: 'IPv4' } };
  }
  if (family === 2) {
    if (length < 16 + 36)
      return { kind: 'invalid', detail: 'Invalid PROXY header: insufficient address data for IPv6' };
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(16 + i * 2).toString(16));
    return {
      kind: 'header',
      length,
      client: { address: formatPeerAddress(groups.join(':')), port: buf.readUInt16BE(48), family: 'IPv6' },
    };
  }
  return { kind: 'invalid', detail: `Invalid PROXY header: unsupported address family ${family}` };
}

/**
 * Read the PROXY header off a new connection, then hand the connection to `deliver` (node:http's
 * own connection listener) with the bytes after the header put back. A header that cannot be read
 * gets 400, one from a peer not in proxy_allow_ips 403 (Gunicorn's answers), and a closed connection.
 * A connection that sends nothing within `timeoutMs` is closed.
 */
export function readProxyHeader(
  socket: Socket,
  mode: ProxyMode,
  allowFrom: AllowList,
  timeoutMs: number,
  /** Hand the connection on, paused, any bytes after the header put back; resume it unless TLS takes it. */
  deliver: (socket: Socket) => void,
  refuse: (socket: Socket, status: number, detail: string) => void,
): void {
  let buf: Buffer | null = null;
  const finish = () => {
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.setTimeout(0);
    socket.pause();
  };
  const onEnd = () => {
    finish();
    socket.destroy();
  };
  const onError = () => socket.destroy();
  const onData = (chunk: Buffer) => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    const h = parseProxyHeader(buf, mode);
    if (h.kind === 'more') return;
    finish();
    let rest = buf;
    if (h.kind === 'invalid') {
      refuse(socket, 400, h.detail);
      return;
    }
    if (h.kind === 'header') {
      const peer = socketPeer(socket);
      if (peer !== undefined && !allows(allowFrom, peer)) {
        refuse(socket, 403, 'Request forbidden');
        return;
      }
      if (h.client !== null) {
        (socket as Socket & { [kProxyPeer]?: string })[kProxyPeer] = socket.remoteAddress;
        Object.defineProperties(socket, {
          remoteAddress: { value: h.client.address, configurable: true },
          remotePort: { value: h.client.port, configurable: true },
          remoteFamily: { value: h.client.family, configurable: true },
        });
      }
      rest = buf.subarray(h.length);
    }
    if (rest.length > 0) socket.unshift(rest);
    // `deliver` resumes the socket when it reads it as it is (plain HTTP). Over TLS it must not: a
    // TLSSocket reads the connection's handle itself (and takes what was unshifted), and resuming
    // the raw socket under it stalls the handshake (measured: most connections whose PROXY line
    // came in a packet of its own never completed it).
    deliver(socket);
  };
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
}
