// Response header fields and status text, checked as the platform's Headers and Response check
// them (so an app gets the same TypeError from `new Response(...)` as on Node's own classes), and
// what the writer needs to put them on the wire byte for byte as node:http does.

/** RFC 9110 token: a field name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a field value may not hold (the platform's Headers: NUL, CR, LF; a ByteString: nothing past U+00FF). */
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;
/** RFC 9112 reason-phrase: HTAB, SP, VCHAR, obs-text. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Leading or trailing HTTP whitespace, which Headers strips from a value. */
const EDGE_SPACE = /^[\t\n\r ]|[\t\n\r ]$/;
const NON_ASCII = /[^\x00-\x7f]/;

export function isToken(name: string): boolean {
  return TOKEN.test(name);
}

/** A field name and value as `Headers.append` would take them; throws its TypeError otherwise. */
export function checkField(name: string, value: string): string {
  if (!TOKEN.test(name)) throw new TypeError(`Headers.append: "${name}" is an invalid header name.`);
  if (EDGE_SPACE.test(value)) value = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  if (BAD_VALUE.test(value)) throw new TypeError(`Headers.append: "${value}" is an invalid header value.`);
  return value;
}

/** `init.statusText` as the Response constructor takes it; throws its TypeError otherwise. */
export function checkStatusText(text: string): string {
  if (!REASON.test(text)) throw new TypeError('Response constructor: Invalid statusText');
  return text;
}

/** Header pairs of an array or any other iterable (a Map, say), else null for a record. */
export function pairsOf(headers: object): Iterable<unknown> | null {
  if (Array.isArray(headers)) return headers as unknown[];
  const it = (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  return typeof it === 'function' ? (headers as Iterable<unknown>) : null;
}

/**
 * Check `HeadersInit` that is not a `Headers` (a record, a list of pairs, an iterable) the way
 * `new Headers(init)` would, without building one: the light Response keeps such init as given and
 * the writer sends it as it is.
 */
export function checkHeadersInit(init: unknown): void {
  if (init === null || (typeof init !== 'object' && typeof init !== 'function')) {
    throw new TypeError('Headers constructor: Expected init to be a sequence or a record.');
  }
  const pairs = pairsOf(init);
  if (pairs !== null) {
    for (const pair of pairs) {
      if (
        typeof pair !== 'object' ||
        pair === null ||
        typeof (pair as Iterable<unknown>)[Symbol.iterator] !== 'function'
      ) {
        throw new TypeError('Headers constructor: expected a sequence of name/value pairs.');
      }
      const p = Array.isArray(pair) ? pair : [...(pair as Iterable<unknown>)];
      if (p.length !== 2)
        throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${p.length}.`);
      checkField(String(p[0]), String(p[1]));
    }
    return;
  }
  for (const name in init) {
    if (!Object.hasOwn(init, name)) continue;
    checkField(name, String((init as Record<string, unknown>)[name]));
  }
}

/**
 * A value as the wire should carry it. A `Headers` value is a ByteString: node:http writes each
 * character as one byte (latin1); uWS writes a string's UTF-8, so a value past ASCII goes to uWS as
 * its latin1 bytes, and both engines send what Node's own server sends.
 */
export function wireValue(value: string): string | Buffer {
  return NON_ASCII.test(value) ? Buffer.from(value, 'latin1') : value;
}
