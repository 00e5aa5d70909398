// What the request checks note for the engine that called them (the Host, the body framing, the
// address the URL is built from, what a trusted front-end said) lands in objects the caller owns: a
// RequestHead and a ForwardedFacts. The unit tests share one of each, kept here.
import { ForwardedFacts } from '../../lib/http/forwarded.js';
import { RequestHead } from '../../lib/http/rules.js';

/** Passed to checkHeaders and addressOf by the tests that read what they noted. */
export const head = new RequestHead();
/** Passed to applyForwarded. */
export const said = new ForwardedFacts();

/** What the last checkHeaders given `head` found. */
export function headersSeen(): {
  host: string | null;
  length: string | null;
  hasBody: boolean;
  chunked: boolean;
  forwarded: boolean;
} {
  return {
    host: head.host,
    length: head.length,
    hasBody: head.hasBody,
    chunked: head.chunked,
    forwarded: head.watched,
  };
}

/** Where the last addressOf given `head` said the request is addressed. */
export function addressSeen(): { authority: string; target: string } {
  return { authority: head.authority, target: head.target };
}

/** What the last applyForwarded given `said` took from a trusted front-end (null: nothing said, the peer stands). */
export function forwardedSeen(): { scheme: string | null; client: string | null; clientPort: number } {
  return { scheme: said.scheme, client: said.client, clientPort: said.clientPort };
}
