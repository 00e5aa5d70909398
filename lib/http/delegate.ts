// Light stand-ins for Request and Response serve their fast members themselves and hand every
// other member to the platform object, built on first use.

function forwardMethod<T>(proto: object, key: string, toNative: (self: T) => object): void {
  Object.defineProperty(proto, key, {
    configurable: true,
    value(this: T, ...args: unknown[]) {
      return (toNative(this) as Record<string, (...a: unknown[]) => unknown>)[key]!(...args);
    },
  });
}

function forwardGetter<T>(proto: object, key: string, toNative: (self: T) => object): void {
  Object.defineProperty(proto, key, {
    configurable: true,
    get(this: T) {
      return (toNative(this) as Record<string, unknown>)[key];
    },
  });
}

/** Forward the named members (known up front, so the platform class need not be loaded yet). */
export function forwardMembers<T>(
  proto: object,
  methods: string[],
  getters: string[],
  toNative: (self: T) => object,
): void {
  for (const key of methods) if (!Object.hasOwn(proto, key)) forwardMethod(proto, key, toNative);
  for (const key of getters) if (!Object.hasOwn(proto, key)) forwardGetter(proto, key, toNative);
}

/** Forward each member of `nativeProto` that `proto` lacks, then put `proto` under `nativeProto`. */
export function delegateMissing<T>(proto: object, nativeProto: object, toNative: (self: T) => object): void {
  for (const key of Object.getOwnPropertyNames(nativeProto)) {
    if (key === 'constructor' || Object.hasOwn(proto, key)) continue;
    const desc = Object.getOwnPropertyDescriptor(nativeProto, key)!;
    if (typeof desc.value === 'function') forwardMethod(proto, key, toNative);
    else if (desc.get) forwardGetter(proto, key, toNative);
  }
  Object.setPrototypeOf(proto, nativeProto);
}
