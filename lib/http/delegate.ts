// Light stand-ins for Request and Response serve their fast members themselves and hand every
// other member to the platform object, built on first use.

/** Define on `proto` each method and getter of `nativeProto` it lacks, forwarding to `toNative(this)`. */
export function delegateMissing<T extends object>(proto: T, nativeProto: object, toNative: (self: T) => object): void {
  for (const key of Object.getOwnPropertyNames(nativeProto)) {
    if (key === 'constructor' || key in proto) continue;
    const desc = Object.getOwnPropertyDescriptor(nativeProto, key)!;
    if (typeof desc.value === 'function') {
      Object.defineProperty(proto, key, {
        value(this: T, ...args: unknown[]) {
          return (toNative(this) as Record<string, (...a: unknown[]) => unknown>)[key]!(...args);
        },
      });
    } else if (desc.get) {
      Object.defineProperty(proto, key, {
        get(this: T) { return (toNative(this) as Record<string, unknown>)[key]; },
      });
    }
  }
  Object.setPrototypeOf(proto, nativeProto);
}
