// The platform's fetch classes (undici) cost up to ~10 MB of RSS on Node 20 and ~18 MB on Node 22+
// (measured in a bare process) the first time any is touched. qilin's light Request/Response serve
// the common path without them, so they are fetched here, on first use only, and qilin's classes
// are linked under them at that moment so that `instanceof Request` / `instanceof Response` keep
// holding.
//
// Node 20 defines `Request`/`Response`/`Headers` as lazy accessors whose getter, on first call,
// re-defines the global as the platform class: the descriptor is kept and the getter called only
// when the class is needed. Calling it would evict qilin's light `Response` from the global for the
// rest of the worker's life (every later `new Response` slow), so the light class is put back right
// after. Node 22+ define them as V8 lazy data properties, which load undici as soon as their
// descriptor is read: so the descriptors are read only when a worker installs the light classes
// (installLightGlobals, before it loads the app) or a class is first needed, never at import: a
// process that only imports qilin (a config file, an app's tooling) does not load undici.
import { delegateMissing } from './delegate.js';

type Getter<T> = (() => T) & { capture(): void };

function lazyGlobal<T>(name: 'Request' | 'Response' | 'Headers'): Getter<T> {
  let desc: PropertyDescriptor | undefined;
  let value: T | undefined;
  const get = (): T => {
    if (value !== undefined) return value;
    desc ??= Object.getOwnPropertyDescriptor(globalThis, name)!;
    const before = Object.getOwnPropertyDescriptor(globalThis, name)!;
    value = (desc.get ? desc.get.call(globalThis) : desc.value) as T;
    Object.defineProperty(globalThis, name, before); // whatever was installed stays installed
    return value;
  };
  /** Keep the platform's property before a light class takes its place. */
  get.capture = (): void => {
    desc ??= Object.getOwnPropertyDescriptor(globalThis, name)!;
  };
  return get;
}

const getRequest = lazyGlobal<typeof Request>('Request');
const getResponse = lazyGlobal<typeof Response>('Response');
const getHeaders = lazyGlobal<typeof Headers>('Headers');

interface Linkable {
  proto: object;
  ctor?: object;
  toNative: (self: never) => object;
}
let requestClass: Linkable | undefined;
let responseClass: Linkable | undefined;
let linked = false;

function link(): void {
  if (linked) return;
  linked = true;
  const NativeRequest = getRequest();
  const NativeResponse = getResponse();
  if (requestClass) delegateMissing(requestClass.proto, NativeRequest.prototype, requestClass.toNative);
  if (responseClass) {
    delegateMissing(responseClass.proto, NativeResponse.prototype, responseClass.toNative);
    Object.setPrototypeOf(responseClass.ctor!, NativeResponse);
  }
}

/** True once the platform classes are loaded (tests and the bench check the fast path survives it). */
export function platformLoaded(): boolean {
  return linked;
}

export function nativeRequest(): typeof Request {
  link();
  return getRequest();
}

export function nativeResponse(): typeof Response {
  link();
  return getResponse();
}

/** The platform's Headers class (loading it loads the platform's fetch classes). */
export function nativeHeaders(): typeof Headers {
  return getHeaders();
}

/** The platform's Headers with a light one's fields (names as given, in the order set); anything else as it is. */
type HeadersOf = (headers: unknown) => unknown;
let platformHeadersOf: HeadersOf = (h) => h;

/** Register how a light Headers becomes the platform's (see platformInit). */
export function registerHeadersClass(headersOf: HeadersOf): void {
  platformHeadersOf = headersOf;
}

/**
 * A plain init dictionary whose `headers` is a light Headers, with the platform's Headers in its
 * place: undici sends the fields of its own Headers in the order set, names as given (a light one,
 * as any other iterable, would go sorted and in lower case). Any other init as it is.
 */
function platformInit(init: unknown): unknown {
  if (typeof init !== 'object' || init === null) return init;
  const proto = Object.getPrototypeOf(init) as unknown;
  if (proto !== Object.prototype && proto !== null) return init;
  const given = (init as { headers?: unknown }).headers;
  const headers = platformHeadersOf(given);
  return headers === given ? init : { ...init, headers };
}

/** The platform object in place of a served request (throws when its body cannot go on); anything else as it is. */
type InputOf = (input: unknown) => unknown;
/** A platform Request was made from `input`: remember which served request it stands for. */
type MadeFrom = (made: object, input: unknown) => void;

/**
 * The global `Request`: the platform class, through a Proxy that hands it the platform object of a
 * served request given as input (undici reads the input's private state, which only its own objects
 * have). `instanceof`, statics, `prototype` and subclassing are the platform class's own.
 */
function requestConstructor(inputOf: InputOf, madeFrom: MadeFrom): typeof Request {
  const Native = nativeRequest();
  const proxy: typeof Request = new Proxy(Native, {
    construct(target, args: unknown[], newTarget) {
      const input = args[0];
      if (args.length > 0) args[0] = inputOf(input);
      if (args.length > 1) args[1] = platformInit(args[1]);
      const made = Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as object;
      madeFrom(made, input);
      return made;
    },
  });
  return proxy;
}

let requestGlobals: { inputOf: InputOf; madeFrom: MadeFrom } | undefined;

/** Register qilin's request class; it is linked under the platform Request when that is loaded. */
export function registerRequestClass(
  proto: object,
  toNative: (self: never) => object,
  inputOf: InputOf,
  madeFrom: MadeFrom,
): void {
  requestClass = { proto, toNative };
  requestGlobals = { inputOf, madeFrom };
}

/**
 * Before the light classes become the globals (lib/http/globals.ts): keep the platform's, and make
 * the global `Request` and `fetch` take a served request as input. On Node 22+ this loads undici.
 */
export function installPlatformGlobals(): void {
  getRequest.capture();
  getResponse.capture();
  getHeaders.capture();
  if (!requestGlobals) return;
  const { inputOf, madeFrom } = requestGlobals;
  // An app that reads the global `Request` (say, for instanceof) loads undici: link then.
  let ctor: typeof Request | undefined;
  Object.defineProperty(globalThis, 'Request', {
    configurable: true,
    enumerable: false,
    get: () => (ctor ??= requestConstructor(inputOf, madeFrom)),
    set: (v) =>
      Object.defineProperty(globalThis, 'Request', { value: v, writable: true, configurable: true, enumerable: false }),
  });
  // fetch(request) with a served request: the platform's fetch gets the platform object.
  const platformFetch = globalThis.fetch;
  if (typeof platformFetch === 'function') {
    const fetch = function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      let given: unknown;
      try {
        given = inputOf(input);
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the input check threw, passed on unchanged as the platform's fetch would
        return Promise.reject(err);
      }
      return platformFetch(given as RequestInfo | URL, platformInit(init) as RequestInit | undefined);
    };
    Object.defineProperty(globalThis, 'fetch', { value: fetch, writable: true, configurable: true, enumerable: true });
  }
}

export function registerResponseClass(ctor: object, proto: object, toNative: (self: never) => object): void {
  responseClass = { ctor, proto, toNative };
}
