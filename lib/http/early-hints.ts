// 103 Early Hints (RFC 8297) for fetch apps: `earlyHints(request, { link: [...] })` sends an interim
// response with hint fields (Link, mostly) ahead of the final one, so that a browser fetches what the
// page will need while the app still works on it. The fields are checked here as response headers are
// (a bad one throws Headers' TypeError, and nothing goes out); whether a 103 may go out at all is the
// exchange's to say (Exchange.earlyHints), and how it is written the Wire's (Wire.writeEarlyHints).
// The exchange is found from the request only when this is called: requests pay nothing for it.
import { checkField, pairsOf } from './fields.js';
import { ownerOf, servedRequest, type RequestOwner } from './request.js';

/** Hint fields: what `new Headers(init)` takes, or a record whose values may be lists. */
export type EarlyHintsInit = HeadersInit | Record<string, string | readonly string[]>;

/** Checked hint fields: lower-case names, each with its values in order (no prototype: any name is a key). */
export type HintFields = Record<string, string[]>;

/** What the exchange of a served request offers (lib/http/exchange.ts). */
interface HintsOwner extends RequestOwner {
  earlyHints?(fields: HintFields): boolean;
}

/**
 * The fields of `init`, each name and value checked as `Headers.append` checks them (a value's edge
 * whitespace trimmed; a name that is no token, or a value with CR, LF, NUL or a character past U+00FF,
 * throws its TypeError). Empty values say nothing and are left out.
 */
export function hintFields(init: EarlyHintsInit): HintFields {
  if (init === null || typeof init !== 'object') {
    throw new TypeError('earlyHints: the hints must be a Headers, a list of [name, value] pairs or a record.');
  }
  const fields = Object.create(null) as HintFields;
  const add = (name: unknown, value: unknown) => {
    const n = String(name);
    const v = checkField(n, String(value));
    if (v !== '') (fields[n.toLowerCase()] ??= []).push(v);
  };
  const pairs = pairsOf(init); // a Headers, an array of pairs, any iterable of pairs
  if (pairs !== null) {
    for (const pair of pairs) {
      const p = Array.isArray(pair)
        ? (pair as unknown[])
        : typeof (pair as Iterable<unknown> | null)?.[Symbol.iterator] === 'function'
          ? [...(pair as Iterable<unknown>)]
          : null;
      if (p === null || p.length !== 2) throw new TypeError('earlyHints: expected name/value pairs of length 2.');
      add(p[0], p[1]);
    }
    return fields;
  }
  const record = init as Record<string, unknown>;
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    const value = record[name];
    if (Array.isArray(value)) for (const v of value as unknown[]) add(name, v);
    else add(name, value);
  }
  return fields;
}

/**
 * The link-values of Link field values, one a string: a value may be a comma-separated list
 * (`</a.css>; rel=preload, </b.js>; rel=preload`, as `Headers` joins repeated fields), split where
 * the comma is outside `<…>` and outside a quoted string (RFC 8288 section 3).
 */
export function linkValues(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let start = 0;
    let inUri = false;
    let inQuote = false;
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (inQuote) {
        if (c === '\\') i++;
        else if (c === '"') inQuote = false;
      } else if (inUri) {
        if (c === '>') inUri = false;
      } else if (c === '<') inUri = true;
      else if (c === '"') inQuote = true;
      else if (c === ',') {
        const piece = value.slice(start, i).trim();
        if (piece !== '') out.push(piece);
        start = i + 1;
      }
    }
    const piece = value.slice(start).trim();
    if (piece !== '') out.push(piece);
  }
  return out;
}

/**
 * Send a 103 Early Hints response with these fields before the final response of `request`, the
 * `Request` qilin handed the app (or one made from it: Hono's `c.req.raw`). Several calls send several
 * 103s. Returns whether one went out: false when the request is not one qilin serves, when the hints
 * have no Link field, when the final response has begun, the client left or speaks HTTP/1.0 (RFC 9110
 * 15.2), for a WebSocket upgrade, or when the engine cannot write an interim response (uws). A field
 * name or value that could not be sent as a response header throws a TypeError, whatever the request.
 */
export function earlyHints(request: Request, hints: EarlyHintsInit): boolean {
  const fields = hintFields(hints);
  if (fields.link === undefined) return false;
  const served = servedRequest(request);
  if (served === null) return false;
  const owner = ownerOf(served) as HintsOwner;
  return typeof owner.earlyHints === 'function' ? owner.earlyHints(fields) : false;
}
