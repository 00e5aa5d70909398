// Address lists in settings (`forwarded_allow_ips`, `proxy_allow_ips`): IPs, CIDR networks and `*`,
// parsed as Gunicorn reads them, checked at start (a typo stops qilin, exit 1) and matched against
// peers by lib/http/forwarded.ts and the node engine's PROXY protocol reader.
import { BlockList, isIP } from 'node:net';
import { ConfigError } from './settings.js';

/** forwarded_allow_ips, proxy_allow_ips: addresses and networks, or `*`. */
export interface AllowList {
  /** `*`: any peer. */
  readonly any: boolean;
  /** The addresses and networks listed (not `*`). */
  readonly listed: BlockList;
  readonly empty: boolean;
}

/** Whether `ip` (an address as formatPeerAddress writes it) is listed (or the list is `*`). */
export function allows(list: AllowList, ip: string): boolean {
  return list.any || listed(list, ip);
}

/** Whether `ip` is one of the addresses or networks listed (`*` aside). */
export function listed(list: AllowList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.listed.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * A comma list of IPs, CIDR networks (v4 and v6) and `*`, as Gunicorn reads it; a network with
 * host bits set (`10.0.0.1/8`) is refused, as Python's ip_network does.
 */
export function parseAllowList(setting: string, text: string): AllowList {
  const listed = new BlockList();
  let any = false;
  let empty = true;
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    empty = false;
    if (entry === '*') {
      any = true;
      continue;
    }
    const bad = (why: string): never => {
      throw new ConfigError(
        setting,
        `Invalid value for ${setting}: ${JSON.stringify(text)} (${JSON.stringify(entry)}: ${why})`,
      );
    };
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) bad('not an IP address or network');
    // Peers are compared in IPv4 form (formatPeerAddress): an IPv4-mapped entry would never match.
    if (family === 6 && addr.includes('.')) bad('write an IPv4 address in IPv4 form');
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      listed.addAddress(addr, type);
      continue;
    }
    const bits = Number(entry.slice(slash + 1));
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(entry.slice(slash + 1)) || bits > max) bad(`prefix length must be 0-${max}`);
    if (hostBitsSet(addr, family, bits)) bad('host bits set');
    listed.addSubnet(addr, bits, type);
  }
  return { any, listed, empty };
}

function hostBitsSet(addr: string, family: number, bits: number): boolean {
  const groups = family === 4 ? addr.split('.').map(Number) : expand(addr.toLowerCase())!;
  const width = family === 4 ? 8 : 16;
  return groups.some((g, i) => {
    const keep = Math.max(0, Math.min(width, bits - i * width));
    return (g & ((1 << (width - keep)) - 1)) !== 0;
  });
}

/** The eight 16-bit groups of an IPv6 address, or null. */
export function expand(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const out = [...head, ...Array<number>(fill).fill(0), ...tail];
  return out.some((g) => Number.isNaN(g) || g > 0xffff) ? null : out;
}
