// The one place unit tests read what the request checks noted for the engine that called them
// (the Host, the body framing, the address the URL is built from, what a trusted front-end said).
// Those notes are not part of any check's return value, so reading them is kept here: should
// the checks come to report them another way, only this file follows.
import { seen } from '../../lib/http/rules.js';

/** What the last checkHeaders that passed found. */
export function headersSeen(): { host: string | null; length: string | null; hasBody: boolean; chunked: boolean; forwarded: boolean } {
  return { host: seen.host, length: seen.length, hasBody: seen.hasBody, chunked: seen.chunked, forwarded: seen.forwarded };
}

/** Where the last addressOf that passed said the request is addressed. */
export function addressSeen(): { authority: string; target: string } {
  return { authority: seen.authority, target: seen.target };
}

/** What the last applyForwarded took from a trusted front-end (null: nothing said, the peer stands). */
export function forwardedSeen(): { scheme: string | null; client: string | null; clientPort: number } {
  return { scheme: seen.scheme, client: seen.client, clientPort: seen.clientPort };
}
