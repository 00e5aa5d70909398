// What a trusted front-end (nginx, a load balancer) says about a request: the scheme the client
// used (`secure_scheme_headers`) and the client's address (`X-Forwarded-For`, `Forwarded: for=`).
// Gunicorn's forwarded_allow_ips decides whom to believe; from any other peer these headers are
// ignored. Engines only look here when checkHeaders saw one of the headers (`RequestHead.watched`).
import { isIP } from 'node:net';
import { allows, listed, parseAllowList, type AllowList } from '../config/allow-list.js';
import type { Settings } from '../config/settings.js';
import { formatPeerAddress } from './address.js';
import { lengthBit, type HeaderWatch, type Refusal } from './rules.js';

/** What a bind trusts: null when nobody can be (forwarded_allow_ips empty). */
export interface ForwardedPolicy {
  readonly trusted: AllowList;
  /** secure_scheme_headers: lower-case name → the value that means https. */
  readonly secure: ReadonlyMap<string, string>;
  readonly watch: HeaderWatch;
}

export function forwardedPolicy(s: Settings): ForwardedPolicy | null {
  const trusted = parseAllowList('forwarded_allow_ips', s.forwarded_allow_ips);
  if (trusted.empty) return null;
  const secure = new Map(Object.entries(s.secure_scheme_headers).map(([k, v]) => [k.toLowerCase(), v]));
  const names = new Set(['x-forwarded-for', 'forwarded', ...secure.keys()]);
  let lengths = 0;
  for (const n of names) lengths |= lengthBit(n.length);
  return { trusted, secure, watch: { lengths, names } };
}

/**
 * What a trusted front-end said of one request (applyForwarded fills it): the scheme (`https`/`http`,
 * null: not said) and the client (null: the peer is the client). The caller owns it, as it owns
 * the RequestHead.
 */
export class ForwardedFacts {
  scheme: string | null = null;
  client: string | null = null;
  clientPort = 0;
}

/**
 * Apply the forwarded headers of a request from `peer` (undefined: a unix socket peer, trusted as
 * Gunicorn trusts it) into `said`. Contradictory scheme headers: 400.
 *
 * The client is the nearest address not in forwarded_allow_ips, walking X-Forwarded-For (or,
 * without it, Forwarded's `for=`) from the right: each listed hop is passed, the first one that is
 * not listed is the client. An entry that is no address (`unknown`, an obfuscated name, garbage)
 * stops the walk at the hop before it. `*` trusts any peer but lists no hop: the client is then the
 * right-most entry, the address the front-end itself saw.
 */
export function applyForwarded(
  policy: ForwardedPolicy,
  raw: readonly string[],
  peer: string | undefined,
  lowerCase: boolean,
  said: ForwardedFacts,
): Refusal | null {
  said.scheme = null;
  said.client = null;
  said.clientPort = 0;
  if (peer !== undefined && !allows(policy.trusted, peer)) return null;
  let xff: string | null = null;
  let fwd: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    let name = raw[i]!;
    if (!policy.watch.names.has(name) && !(lowerCase && policy.watch.names.has((name = name.toLowerCase())))) continue;
    const value = raw[i + 1]!;
    const secure = policy.secure.get(name);
    if (secure !== undefined) {
      const scheme = value.trim() === secure ? 'https' : 'http';
      if (said.scheme !== null && said.scheme !== scheme) return [400, 'Contradictory scheme headers'];
      said.scheme = scheme;
    }
    if (name === 'x-forwarded-for') xff = xff === null ? value : `${xff},${value}`;
    else if (name === 'forwarded') fwd = fwd === null ? value : `${fwd},${value}`;
  }
  const hops = xff !== null ? xff.split(',') : fwd !== null ? forwardedFor(fwd) : null;
  if (hops === null) return null;
  // The peer is trusted here: take the hop it names, and go on while that hop is listed too.
  let host = '';
  let port = 0;
  let moved = false;
  for (let i = hops.length - 1; i >= 0; i--) {
    const node = parseNode(hops[i]!);
    if (node === null) break;
    host = node.host;
    port = node.port;
    moved = true;
    if (!listed(policy.trusted, host)) break;
  }
  if (moved) {
    said.client = host;
    said.clientPort = port;
  }
  return null;
}

/** The `for=` of each element of a Forwarded header (RFC 7239), in order; `-` where one has none. */
function forwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(',')) {
    let node = '-';
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') node = pair.slice(eq + 1).trim();
    }
    out.push(node);
  }
  return out;
}

/** `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`, quoted or not; null for anything else. */
function parseNode(text: string): { host: string; port: number } | null {
  let t = text.trim();
  if (t.length > 1 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34) t = t.slice(1, -1).trim();
  let port = 0;
  if (t.charCodeAt(0) === 91 /* [ */) {
    const end = t.indexOf(']');
    if (end < 0) return null;
    const rest = t.slice(end + 1);
    if (rest !== '' && !(rest.charCodeAt(0) === 58 && (port = portOf(rest.slice(1))) >= 0)) return null;
    t = t.slice(1, end);
    return isIP(t) === 6 ? { host: formatPeerAddress(t), port } : null;
  }
  const colon = t.indexOf(':');
  if (colon > 0 && t.indexOf(':', colon + 1) < 0) {
    port = portOf(t.slice(colon + 1));
    if (port < 0) return null;
    t = t.slice(0, colon);
    return isIP(t) === 4 ? { host: t, port } : null;
  }
  const family = isIP(t);
  return family === 4 ? { host: t, port: 0 } : family === 6 ? { host: formatPeerAddress(t), port: 0 } : null;
}

function portOf(text: string): number {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : -1;
}
