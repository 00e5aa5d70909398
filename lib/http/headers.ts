// A light `Headers`: the Fetch standard's class, as the platform's (undici's) behaves, built to be
// cheap on what every response of a middleware stack does (Hono's secureHeaders() sets a dozen
// fields, cors() a few more, the re-wrap `new Response(res.body, res)` copies them all, and the
// writer walks them in sorted order). The platform class spends much of a worker's CPU there: a
// regex per name and value, a Map entry object per field, a sorted copy on every walk.
//
// Here a Headers is one flat array, [lower-case name, name as given, value, ...], one entry per name
// (a repeated name's values joined in it, as the spec's "get" joins them) and the Set-Cookie values
// apart. Names are checked and lower-cased once per distinct name through a small table of names
// seen before; the sorted view the iterators and the writer read is kept until the next change.
// Installed as the global `Headers` in workers, so what an app constructs is light too; the
// request's and the light Response's headers are light. `instanceof Headers` holds for light and
// platform objects alike, and a light Headers is `HeadersInit` for the platform's classes (an
// iterable of pairs).
import { formatWithOptions, inspect, types, type InspectOptions } from 'node:util';
import { nativeHeaders, registerHeadersClass } from './platform.js';

/** Per character code below 128: 0 not a token character, 1 a token character, 2 an upper-case letter. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TOKEN_CHARS[c.charCodeAt(0)] = 1;
for (let c = 65; c <= 90; c++) TOKEN_CHARS[c] = 2;

/**
 * Names already checked, as given → lower case. Apps set the same few names over and over (mostly
 * string literals, whose hash V8 keeps), so most names cost one lookup. Bounded: names a client
 * sends and an app echoes cannot grow it without end.
 */
const knownNames = new Map<string, string>();
const KNOWN_NAMES_MAX = 1024;

/** A field name in lower case, or null when it is not a token (RFC 9110). */
function lowerName(name: string): string | null {
  const known = knownNames.get(name);
  if (known !== undefined) return known;
  const n = name.length;
  if (n === 0) return null;
  let upper = false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    const kind = c < 128 ? TOKEN_CHARS[c]! : 0;
    if (kind === 0) return null;
    if (kind === 2) upper = true;
  }
  const lower = upper ? name.toLowerCase() : name;
  if (knownNames.size < KNOWN_NAMES_MAX) knownNames.set(name, lower);
  return lower;
}

/** HTTP whitespace: HTAB, LF, CR, SP. */
const isHttpSpace = (c: number) => c === 9 || c === 10 || c === 13 || c === 32;

/**
 * A value normalised (leading and trailing HTTP whitespace stripped), or null when it is no header
 * value: a NUL, CR or LF inside, or a character past U+00FF (not a ByteString).
 */
function normalValue(value: string): string | null {
  let end = value.length;
  if (end > 0 && (isHttpSpace(value.charCodeAt(0)) || isHttpSpace(value.charCodeAt(end - 1)))) {
    let start = 0;
    while (end > start && isHttpSpace(value.charCodeAt(end - 1))) end--;
    while (end > start && isHttpSpace(value.charCodeAt(start))) start++;
    value = value.substring(start, end);
    end = value.length;
  }
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c < 14 ? c === 0 || c === 10 || c === 13 : c > 255) return null;
  }
  return value;
}

/** The platform's TypeError for a string that is no ByteString, or null when it is one. */
function byteStringError(s: string): TypeError | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255)
      return new TypeError(
        `Cannot convert argument to a ByteString because the character at index ${i} has a value of ${c} which is greater than 255.`,
      );
  }
  return null;
}

/** WebIDL ByteString conversion of an argument that is not a string already. */
function toByteString(v: unknown, prefix: string, argument: string): string {
  if (typeof v === 'symbol')
    throw new TypeError(`${prefix}: ${argument} is a symbol, which cannot be converted to a ByteString.`);
  return String(v);
}

/** The error for a field that failed the quick checks, in the platform's order: conversions, then name, then value. */
function fieldError(prefix: string, name: string, value: string): TypeError {
  const err = byteStringError(name) ?? byteStringError(value);
  if (err !== null) return err;
  if (lowerName(name) === null) return new TypeError(`${prefix}: "${name}" is an invalid header name.`);
  let start = 0;
  let end = value.length;
  while (end > start && isHttpSpace(value.charCodeAt(end - 1))) end--;
  while (end > start && isHttpSpace(value.charCodeAt(start))) start++;
  return new TypeError(`${prefix}: "${value.substring(start, end)}" is an invalid header value.`);
}

function nameError(prefix: string, name: string): TypeError {
  return byteStringError(name) ?? new TypeError(`${prefix}: "${name}" is an invalid header name.`);
}

function illegalInvocation(): TypeError {
  const err = new TypeError('Illegal invocation') as TypeError & { code: string };
  err.code = 'ERR_INVALID_THIS'; // as Node's own classes say it
  return err;
}

function argumentsError(prefix: string, required: number, given: number): TypeError {
  return new TypeError(
    `${prefix}: ${required} argument${required === 1 ? '' : 's'} required, but${given ? ' only' : ''} ${given} found.`,
  );
}

const CONVERSION_FAILED =
  'Headers constructor: Argument 1 could not be converted to one of: sequence<sequence<ByteString>>, record<ByteString, ByteString>.';

/** How WebIDL names a value in a conversion error. */
function stringify(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (typeof v === 'symbol') return `Symbol(${v.description})`;
  if ((typeof v === 'object' && v !== null) || typeof v === 'function') return inspect(v);
  return String(v);
}

const ARRAY_ITERATOR = Array.prototype[Symbol.iterator];

/** One `sequence<ByteString>` of a HeadersInit sequence: the pair's items, converted. */
function pairOf(pair: unknown, index: number): unknown[] {
  if ((typeof pair !== 'object' || pair === null) && typeof pair !== 'function') {
    throw new TypeError(`Headers constructor: init[${index}] (${stringify(pair)}) is not iterable.`);
  }
  if (Array.isArray(pair) && pair[Symbol.iterator] === ARRAY_ITERATOR) return pair as unknown[];
  const method = (pair as { [Symbol.iterator]?: () => Iterator<unknown> })[Symbol.iterator];
  const it = typeof method === 'function' ? method.call(pair) : undefined;
  if (it === undefined || typeof it.next !== 'function')
    throw new TypeError(`Headers constructor: init[${index}] is not iterable.`);
  const items: unknown[] = [];
  for (let r = it.next(); !r.done; r = it.next()) items.push(r.value);
  return items;
}

/** The items of a pair as ByteStrings (conversion errors as WebIDL's sequence<ByteString> gives them). */
function convertPair(items: unknown[]): unknown[] {
  let out = items;
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v === 'string') continue;
    if (out === items) out = items.slice();
    out[i] = toByteString(v, 'Headers constructor', `init[${i}]`);
  }
  return out;
}

/** A record's key → value, as WebIDL's record<ByteString, ByteString> reads it: [name, value, ...]. */
function recordEntries(init: object): string[] {
  const out: string[] = [];
  if (types.isProxy(init)) {
    // A proxy sees each step (WPT's headers-record): own keys, then per key its descriptor and value.
    for (const key of Reflect.ownKeys(init)) {
      const desc = Reflect.getOwnPropertyDescriptor(init, key);
      if (desc === undefined || !desc.enumerable) continue;
      // Each conversion is whole before the next step: a key that is no ByteString is never read.
      const name =
        typeof key === 'string' ? key : toByteString(key, 'Headers constructor', `Key ${String(key)} in init`);
      const nameErr = byteStringError(name);
      if (nameErr !== null) throw nameErr;
      const given: unknown = Reflect.get(init, key);
      const value = typeof given === 'string' ? given : toByteString(given, 'Headers constructor', 'init');
      const valueErr = byteStringError(value);
      if (valueErr !== null) throw valueErr;
      out.push(name, value);
    }
    return out;
  }
  // An ordinary object as undici reads it: every own string key (enumerable or not), and no symbol key.
  const symbols = Object.getOwnPropertySymbols(init);
  if (symbols.length > 0)
    throw new TypeError(
      `Headers constructor: Key ${String(symbols[0])} in init is a symbol, which cannot be converted to a ByteString.`,
    );
  const record = init as Record<string, unknown>;
  const keys = Object.getOwnPropertyNames(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = record[key];
    out.push(key, typeof value === 'string' ? value : toByteString(value, 'Headers constructor', 'init'));
  }
  return out;
}

/** Entries in #fields past which names are looked up through a Map. */
const INDEX_FROM = 3 * 24;

/** A light Headers of trusted [name, value, ...] lines (see requestHeaders); set by the class. */
let fromRaw: (raw: readonly string[]) => LightHeaders;
/** The platform's Headers with a light one's fields; set by the class. */
let platformCopy: (h: LightHeaders) => Headers;
/** The sorted view of a light Headers (see LightHeaders.#sortedFields); set by the class. */
let sortedOf: (h: LightHeaders) => readonly string[];
/** The Set-Cookie values of a light Headers, not copied; set by the class. */
let cookiesOf: (h: LightHeaders) => readonly string[];
/** A light Headers, told by its private state (no proxy, no look-alike passes). */
let isLightHeaders: (v: unknown) => v is LightHeaders;

const NO_COOKIES: readonly string[] = Object.freeze([]);

export class LightHeaders {
  /** [lower-case name, name as given, value] per name, in the order first added. */
  #fields: string[];
  /** Every Set-Cookie value, apart (the combined one is in #fields too, for get()). */
  #cookies: string[] | null;
  /** The spec's "sort and combine" as [name, value, ...], kept until the next change; never changed in place. */
  #sorted: string[] | null;
  /** A value in #fields may have HTTP whitespace at an edge: one joined with an empty value ("a, "). */
  #untrimmed: boolean;
  /** Lower-case name → its entry in #fields, once there are many names (a linear scan is quicker below that). */
  #index: Map<string, number> | null;

  // `init = undefined` keeps the constructor's length 0, as the platform's.
  constructor(init: HeadersInit | undefined = undefined) {
    this.#fields = [];
    this.#cookies = null;
    this.#sorted = null;
    this.#index = null;
    this.#untrimmed = false;
    if (init === undefined) return;
    if ((typeof init !== 'object' || init === null) && typeof init !== 'function')
      throw new TypeError(CONVERSION_FAILED);
    if (#fields in init && (init as Iterable<unknown>)[Symbol.iterator] === ENTRIES) {
      // A copy of another light Headers: its checked fields and sorted view as they are. The spec
      // appends each value again, which strips the edge of a value joined with an empty one.
      this.#fields = init.#fields.slice();
      this.#cookies = init.#cookies === null ? null : init.#cookies.slice();
      if (init.#untrimmed) this.#trimValues();
      else this.#sorted = init.#sorted;
      if (init.#index !== null) this.#index = new Map(init.#index);
      return;
    }
    const method = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof method === 'function') {
      let pairs: unknown[];
      if (Array.isArray(init) && method === ARRAY_ITERATOR) {
        pairs = init as unknown[];
        for (let i = 0; i < pairs.length; i++) {
          const p = pairOf(pairs[i], i);
          const converted = convertPair(p);
          if (converted !== pairs[i]) {
            if (pairs === init) pairs = pairs.slice();
            pairs[i] = converted;
          }
        }
      } else {
        const it = (method as () => Iterator<unknown>).call(init);
        if (typeof it !== 'object' || it === null || typeof it.next !== 'function')
          throw new TypeError('Headers constructor: init is not iterable.');
        pairs = [];
        for (let r = it.next(); !r.done; r = it.next()) pairs.push(convertPair(pairOf(r.value, pairs.length)));
      }
      for (let i = 0; i < pairs.length; i++) {
        const p = pairs[i] as string[];
        if (p.length !== 2)
          throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${p.length}.`);
        this.#add(p[0]!, p[1]!, 'Headers.append');
      }
      return;
    }
    const entries = recordEntries(init);
    for (let i = 0; i < entries.length; i += 2) this.#add(entries[i]!, entries[i + 1]!, 'Headers.append');
  }

  // `x instanceof Headers` holds for light and platform objects alike.
  static [Symbol.hasInstance](this: unknown, v: unknown): boolean {
    if (this !== LightHeaders) return Function.prototype[Symbol.hasInstance].call(this, v); // a subclass
    if (isLightHeaders(v)) return true;
    // Only an object that says it is a Headers can be a platform one: anything else is answered
    // without loading the platform's classes.
    if (
      typeof v !== 'object' ||
      v === null ||
      (v as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] !== 'Headers'
    )
      return false;
    return v instanceof nativeHeaders();
  }

  /** The entry of a lower-case name in #fields, or -1. */
  #find(lower: string): number {
    const f = this.#fields;
    if (f.length > INDEX_FROM) return this.#indexed(lower);
    for (let i = 0; i < f.length; i += 3) if (f[i] === lower) return i;
    return -1;
  }

  #indexed(lower: string): number {
    let index = this.#index;
    if (index === null) {
      index = this.#index = new Map();
      const f = this.#fields;
      for (let i = 0; i < f.length; i += 3) index.set(f[i]!, i);
    }
    return index.get(lower) ?? -1;
  }

  #trimValues(): void {
    const f = this.#fields;
    // Set-Cookie values are appended one by one: their join stays as it was.
    for (let i = 0; i < f.length; i += 3) if (f[i] !== 'set-cookie') f[i + 2] = normalValue(f[i + 2]!)!;
  }

  /** A new name's entry, at the end. */
  #push(lower: string, name: string, value: string): void {
    const f = this.#fields;
    this.#index?.set(lower, f.length);
    f.push(lower, name, value);
  }

  #add(name: string, value: string, prefix: string): void {
    const lower = lowerName(name);
    const v = normalValue(value);
    if (lower === null || v === null) throw fieldError(prefix, name, value);
    this.#sorted = null;
    const at = this.#find(lower);
    const f = this.#fields;
    if (at < 0) this.#push(lower, name, v);
    else {
      const old = f[at + 2]!;
      f[at + 2] = `${old}${lower === 'cookie' ? '; ' : ', '}${v}`; // undici joins Cookie values with '; '
      if (old === '' || v === '') this.#untrimmed = true;
    }
    if (lower === 'set-cookie') (this.#cookies ??= []).push(v);
  }

  append(name: string, value: string): void {
    if (!(#fields in this)) throw illegalInvocation();
    if (value === undefined && arguments.length < 2) throw argumentsError('Headers.append', 2, arguments.length);
    if (typeof name !== 'string') name = toByteString(name, 'Headers.append', 'name');
    if (typeof value !== 'string') value = toByteString(value, 'Headers.append', 'value');
    this.#add(name, value, 'Headers.append');
  }

  delete(name: string): void {
    if (!(#fields in this)) throw illegalInvocation();
    if (name === undefined && arguments.length < 1) throw argumentsError('Headers.delete', 1, 0);
    if (typeof name !== 'string') name = toByteString(name, 'Headers.delete', 'name');
    const lower = lowerName(name);
    if (lower === null) throw nameError('Headers.delete', name);
    const at = this.#find(lower);
    if (at < 0) return;
    this.#sorted = null;
    this.#fields.splice(at, 3);
    this.#index = null; // the entries after it moved
    if (lower === 'set-cookie') this.#cookies = null;
  }

  get(name: string): string | null {
    if (!(#fields in this)) throw illegalInvocation();
    if (name === undefined && arguments.length < 1) throw argumentsError('Headers.get', 1, 0);
    if (typeof name !== 'string') name = toByteString(name, 'Headers.get', 'name');
    const lower = lowerName(name);
    if (lower === null) throw nameError('Headers.get', name);
    const at = this.#find(lower);
    return at < 0 ? null : this.#fields[at + 2]!;
  }

  has(name: string): boolean {
    if (!(#fields in this)) throw illegalInvocation();
    if (name === undefined && arguments.length < 1) throw argumentsError('Headers.has', 1, 0);
    if (typeof name !== 'string') name = toByteString(name, 'Headers.has', 'name');
    const lower = lowerName(name);
    if (lower === null) throw nameError('Headers.has', name);
    return this.#find(lower) >= 0;
  }

  set(name: string, value: string): void {
    if (!(#fields in this)) throw illegalInvocation();
    if (value === undefined && arguments.length < 2) throw argumentsError('Headers.set', 2, arguments.length);
    if (typeof name !== 'string') name = toByteString(name, 'Headers.set', 'name');
    if (typeof value !== 'string') value = toByteString(value, 'Headers.set', 'value');
    const lower = lowerName(name);
    const v = normalValue(value);
    if (lower === null || v === null) throw fieldError('Headers.set', name, value);
    this.#sorted = null;
    const f = this.#fields;
    const at = this.#find(lower);
    if (at < 0) this.#push(lower, name, v);
    else {
      f[at + 1] = name; // undici keeps the name as last set
      f[at + 2] = v;
    }
    if (lower === 'set-cookie') this.#cookies = [v];
  }

  getSetCookie(): string[] {
    if (!(#fields in this)) throw illegalInvocation();
    return this.#cookies === null ? [] : this.#cookies.slice();
  }

  keys(): HeadersIterator<string> {
    if (!(#fields in this)) throw illegalInvocation();
    return new FieldIterator(this, KEYS) as unknown as HeadersIterator<string>;
  }

  values(): HeadersIterator<string> {
    if (!(#fields in this)) throw illegalInvocation();
    return new FieldIterator(this, VALUES) as unknown as HeadersIterator<string>;
  }

  entries(): HeadersIterator<[string, string]> {
    if (!(#fields in this)) throw illegalInvocation();
    return new FieldIterator(this, PAIRS) as unknown as HeadersIterator<[string, string]>;
  }

  declare [Symbol.iterator]: () => HeadersIterator<[string, string]>;

  // The platform's default `this` for the callback is the global object.
  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg: unknown = globalThis): void {
    if (!(#fields in this)) throw illegalInvocation();
    if (callback === undefined && arguments.length < 1) throw argumentsError('Headers.forEach', 1, 0);
    if (typeof callback !== 'function')
      throw new TypeError("Failed to execute 'forEach' on 'Headers': parameter 1 is not of type 'Function'.");
    // Live, as the iterators: each step reads the view as it is now.
    for (let i = 0; ; i += 2) {
      const s = this.#sortedFields();
      if (i >= s.length) return;
      callback.call(thisArg, s[i + 1]!, s[i]!, this as unknown as Headers);
    }
  }

  /**
   * The spec's "sort and combine": names in lower case, sorted, each once with its values joined,
   * but each Set-Cookie value on its own, in the order set.
   */
  #sortedFields(): string[] {
    const cached = this.#sorted;
    if (cached !== null) return cached;
    const f = this.#fields;
    const s: string[] = [];
    if (f.length <= 96) {
      // Insertion into place: a few dozen names, mostly in a handful of runs.
      for (let i = 0; i < f.length; i += 3) {
        const name = f[i]!;
        let j = s.length;
        s.push(name, f[i + 2]!);
        while (j > 0 && s[j - 2]! > name) {
          s[j] = s[j - 2]!;
          s[j + 1] = s[j - 1]!;
          j -= 2;
        }
        s[j] = name;
        s[j + 1] = f[i + 2]!;
      }
    } else {
      const order: number[] = [];
      for (let i = 0; i < f.length; i += 3) order.push(i);
      order.sort((a, b) => (f[a]! < f[b]! ? -1 : 1));
      for (const i of order) s.push(f[i]!, f[i + 2]!);
    }
    const cookies = this.#cookies;
    if (cookies !== null && cookies.length > 1) {
      let at = 0;
      while (s[at] !== 'set-cookie') at += 2;
      const spread: string[] = [];
      for (const c of cookies) spread.push('set-cookie', c);
      s.splice(at, 2, ...spread);
    }
    return (this.#sorted = s);
  }

  /** What Node shows for the platform's Headers: names as given, values joined. */
  [inspect.custom](depth: number, options: InspectOptions): string {
    const shown: Record<string, string> = {};
    const f = this.#fields;
    for (let i = 0; i < f.length; i += 3) shown[f[i + 1]!] = f[i + 2]!;
    return `Headers ${formatWithOptions({ ...options, depth: options.depth ?? depth }, shown)}`;
  }

  static {
    fromRaw = (raw) => {
      const h = new LightHeaders();
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        const value = raw[i + 1]!;
        const at = h.#find(name);
        if (at < 0) h.#push(name, name, value);
        else {
          const old = h.#fields[at + 2]!;
          h.#fields[at + 2] = `${old}${name === 'cookie' ? '; ' : ', '}${value}`;
          if (old === '' || value === '') h.#untrimmed = true;
        }
        if (name === 'set-cookie') (h.#cookies ??= []).push(value);
      }
      return h;
    };
    platformCopy = (h) => {
      const copy = new (nativeHeaders())();
      const f = h.#fields;
      for (let i = 0; i < f.length; i += 3) {
        if (f[i] === 'set-cookie') for (const c of h.#cookies!) copy.append(f[i + 1]!, c);
        else copy.append(f[i + 1]!, f[i + 2]!);
      }
      return copy;
    };
    sortedOf = (h) => h.#sortedFields();
    cookiesOf = (h) => h.#cookies ?? NO_COOKIES;
    isLightHeaders = (v): v is LightHeaders => typeof v === 'object' && v !== null && #fields in v;
  }
}

const ENTRIES = LightHeaders.prototype.entries;
Object.defineProperty(LightHeaders.prototype, Symbol.iterator, {
  value: ENTRIES,
  writable: true,
  enumerable: false,
  configurable: true,
});
// The platform's methods are enumerable properties of its prototype.
for (const key of ['append', 'delete', 'get', 'has', 'set', 'getSetCookie', 'keys', 'values', 'entries', 'forEach']) {
  Object.defineProperty(LightHeaders.prototype, key, { enumerable: true });
}
Object.defineProperty(LightHeaders.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });
Object.defineProperty(LightHeaders, 'name', { value: 'Headers' });

const KEYS = 0;
const VALUES = 1;
const PAIRS = 2;

/**
 * The iterator of keys(), values(), entries(): an index into the sorted view, read afresh at each
 * step, so that fields added or removed while it runs are seen as the spec says.
 */
class FieldIterator {
  #target: LightHeaders;
  #kind: number;
  #index: number;

  constructor(target: LightHeaders, kind: number) {
    this.#target = target;
    this.#kind = kind;
    this.#index = 0;
  }

  next(): IteratorResult<string | [string, string], undefined> {
    if (typeof this !== 'object' || this === null || !(#target in this))
      throw new TypeError("'next' called on an object that does not implement interface Headers Iterator.");
    const s = sortedOf(this.#target);
    const i = this.#index;
    if (i >= s.length) return { value: undefined, done: true };
    this.#index = i + 2;
    const kind = this.#kind;
    return { value: kind === PAIRS ? [s[i]!, s[i + 1]!] : kind === KEYS ? s[i]! : s[i + 1]!, done: false };
  }
}
// %IteratorPrototype% under it (so `[Symbol.iterator]()` returns itself), named as the platform's.
Object.setPrototypeOf(
  FieldIterator.prototype,
  Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object,
);
Object.defineProperty(FieldIterator.prototype, Symbol.toStringTag, { value: 'Headers Iterator', configurable: true });
Object.defineProperty(FieldIterator.prototype, 'next', { enumerable: true });
// Shown as the platform's iterator is, `Object [Headers Iterator] {}`: no constructor of its own.
Reflect.deleteProperty(FieldIterator.prototype, 'constructor');

/**
 * A light Headers made from the request's flat [name, value, ...] list: names are lower-case tokens
 * and values were checked by the request rules, so nothing is checked again.
 */
export function requestHeaders(raw: readonly string[]): Headers {
  return fromRaw(raw) as unknown as Headers;
}

/**
 * What the writer sends of a light Headers, without copying or allocating: its sorted view,
 * [name, value, ...] (names lower-case tokens, values checked), kept until the next change; null
 * for any other Headers. Set-Cookie entries are in it; the writer takes them from sentCookies.
 */
export function sortedFields(h: unknown): readonly string[] | null {
  return isLightHeaders(h) ? sortedOf(h) : null;
}

/** The Set-Cookie values of a light Headers (one sortedFields took), in order, not copied (the writer's). */
export function sentCookies(h: object): readonly string[] {
  return cookiesOf(h as LightHeaders);
}

export { isLightHeaders };

/**
 * For the platform's classes: a light Headers as the platform's own, its fields in the order set
 * and names as given (what undici sends for its own Headers); anything else as it is.
 */
export function platformHeaders<T>(h: T): T | Headers {
  return isLightHeaders(h) ? platformCopy(h) : h;
}
registerHeadersClass(platformHeaders);

/** Make `new Headers(...)` in app code the light one. */
export function installLightHeaders(): void {
  (globalThis as { Headers: unknown }).Headers = LightHeaders;
}
