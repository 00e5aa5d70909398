// Addresses in settings: where to listen (`bind`, `metrics_bind`), parsed from what the user wrote
// and formatted as Gunicorn logs them, and where to send statsd lines (`statsd_host`).
import { isIP } from 'node:net';
import { ConfigError } from './settings.js';

/** Where to listen: a TCP address, a unix socket path, or a socket inherited as a file descriptor. */
export type BindAddress =
  | { kind: 'tcp'; host: string; port: number; text: string }
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'fd'; fd: number; text: string };

/**
 * `HOST:PORT`, `[IPv6]:PORT`, `:PORT`, `PORT`, `unix:PATH` or `fd://N`, as Gunicorn's bind.
 * `text` keeps what the user wrote, for logs and to match binds across a reload.
 */
export function parseBind(text: string): BindAddress {
  const bad = (why: string): never => {
    throw new ConfigError('bind', `Invalid value for bind: ${JSON.stringify(text)} (${why})`);
  };
  if (text.startsWith('unix:')) {
    const path = text.slice(5).replace(/^\/\/(?=\/)/, ''); // unix:/run/x.sock or unix:///run/x.sock
    if (path === '') bad('unix: needs a path');
    return { kind: 'unix', path, text };
  }
  if (text.startsWith('fd://')) {
    const fd = Number(text.slice(5));
    if (!/^\d+$/.test(text.slice(5)) || fd < 3) bad('fd:// needs a file descriptor number >= 3');
    return { kind: 'fd', fd, text };
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (/^\d+$/.test(text)) {
    host = '0.0.0.0';
    portText = text;
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) return { kind: 'tcp', host: text || bad('empty'), port: 8000, text };
    host = text.slice(0, i) || '0.0.0.0';
    portText = text.slice(i + 1);
    if (host.includes(':')) bad('IPv6 addresses go in brackets: [::1]:8000');
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) bad('port must be 0-65535');
  return { kind: 'tcp', host, port, text };
}

/** `metrics_bind`: a TCP address or a unix socket path (no fd://: the arbiter makes this socket). */
export function parseMetricsBind(text: string): BindAddress {
  let b: BindAddress;
  try {
    b = parseBind(text);
  } catch (err) {
    throw new ConfigError('metrics_bind', (err as Error).message.replace('for bind:', 'for metrics_bind:'));
  }
  if (b.kind === 'fd')
    throw new ConfigError(
      'metrics_bind',
      `Invalid value for metrics_bind: ${JSON.stringify(text)} (HOST:PORT or unix:PATH)`,
    );
  return b;
}

/** As Gunicorn logs it: `127.0.0.1:8000`, `[::1]:8000`, `unix:/run/app.sock`, `fd://3`. */
export function formatBind(b: BindAddress): string {
  if (b.kind === 'unix') return `unix:${b.path}`;
  if (b.kind === 'fd') return `fd://${b.fd}`;
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/** The URL a bind is served at, for the start-up log. */
export function bindUrl(b: BindAddress): string {
  return b.kind === 'tcp' ? `http://${formatBind(b)}` : formatBind(b);
}

export interface StatsdTarget {
  host: string;
  port: number;
}

/** `HOST:PORT` (`[v6]:PORT` too) → its parts, or an error message. Node has no unix datagram sockets. */
export function parseStatsdHost(text: string): StatsdTarget | string {
  if (text.startsWith('unix:')) {
    return 'Node.js has no unix datagram sockets (node:dgram speaks UDP only): use HOST:PORT';
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) return 'expected HOST:PORT';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${m[3]} is out of range`;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  return { host, port };
}
