// Peer addresses as people read them. uWS gives IPv6 peers fully expanded
// (`0000:0000:0000:0000:0000:0000:0000:0001`) and IPv4 peers of a dual-stack socket v4-mapped.
import { expand } from '../config/allow-list.js';

const MAPPED_V4 = '0000:0000:0000:0000:0000:ffff:';

/** `127.0.0.1` for an IPv4 peer (mapped or not), RFC 5952 form (`::1`) for an IPv6 one. */
export function formatPeerAddress(raw: ArrayBuffer | string): string {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('latin1');
  if (!text.includes(':')) return text;
  const lower = text.toLowerCase();
  if (lower.startsWith(MAPPED_V4) && lower.length === 39) {
    const hi = parseInt(lower.slice(30, 34), 16);
    const lo = parseInt(lower.slice(35, 39), 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  const groups = expand(lower);
  return groups ? compress(groups) : text;
}

/** RFC 5952: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function compress(g: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
