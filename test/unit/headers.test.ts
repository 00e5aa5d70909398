// The light Headers (lib/http/headers.ts) against the platform's (undici's, the global Headers
// here: the light class is installed as the global in workers only): the same answers, the same
// order, the same TypeErrors, the same inspection, for the edge cases the web-platform-tests touch
// lightly or not at all; instanceof both ways; a light Headers as HeadersInit of the platform's
// Response, Request and fetch; the writer's view (lightFields).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import t, { type Test } from 'tap';
import {
  LightHeaders,
  isLightHeaders,
  platformHeaders,
  requestHeaders,
  sentCookies,
  sortedFields,
} from '../../lib/http/headers.js';
import { writeHeaders } from '../../lib/http/write.js';

const Platform = globalThis.Headers;
const Light = LightHeaders as unknown as typeof Headers;

/** What a Headers says about itself after `steps`: iteration, keys, values, getSetCookie, inspection; or the error. */
function outcome(H: typeof Headers, steps: (h: Headers) => void, init?: HeadersInit): unknown {
  try {
    const h = new H(init);
    steps(h);
    return {
      entries: [...h],
      keys: [...h.keys()],
      values: [...h.values()],
      cookies: h.getSetCookie(),
      shown: inspect(h),
    };
  } catch (err) {
    return { error: (err as Error).constructor.name, message: (err as Error).message };
  }
}

/** Run the same steps on both classes; the light one must give what the platform gives. */
function same(t: Test, what: string, steps: (h: Headers) => void, init?: HeadersInit): void {
  const platform = outcome(Platform, steps, init);
  t.same(outcome(Light, steps, init), platform, what);
}

t.test('set-cookie: kept apart, in order, each its own entry in iteration; get() joins them', async (t) => {
  const steps = (h: Headers) => {
    h.append('Set-Cookie', 'a=1');
    h.append('set-cookie', ' b=2 ');
    h.append('x-z', 'z');
    h.append('SET-COOKIE', 'c=3; Path=/');
  };
  same(t, 'three cookies between other fields', steps);
  const h = new Light();
  steps(h);
  t.same(h.getSetCookie(), ['a=1', 'b=2', 'c=3; Path=/'], 'values normalised, in order');
  t.equal(h.get('set-cookie'), 'a=1, b=2, c=3; Path=/', 'get() joins them');
  t.not(h.getSetCookie(), h.getSetCookie(), 'a new array each time');
  h.getSetCookie().push('x=9');
  t.same(h.getSetCookie().length, 3, 'the array handed out is a copy');
  same(t, 'set() replaces all cookies', (h) => {
    steps(h);
    h.set('set-cookie', 'only=1');
  });
  same(t, 'delete() removes all cookies', (h) => {
    steps(h);
    h.delete('Set-Cookie');
  });
  same(t, 'an empty cookie, and set-cookie2 is no cookie', (h) => {
    h.append('set-cookie', '');
    h.append('set-cookie', 'a');
    h.append('set-cookie2', 'b');
  });
  same(t, 'from a record and from pairs', () => {}, [
    ['set-cookie', 'a'],
    ['Set-Cookie', 'b'],
  ]);
});

t.test('sort and combine: sorted lower-case names, repeated names joined (Cookie with "; ")', async (t) => {
  same(t, 'names of mixed case, appended in any order', (h) => {
    h.append('Zeta', '1');
    h.append('alpha', '2');
    h.append('ALPHA', '3');
    h.append('Mid', ' 4\t');
    h.append('cookie', 'a=1');
    h.append('Cookie', 'b=2');
    h.append('b', '');
    h.append('b', 'x');
    h.append('c', 'x');
    h.append('c', '');
  });
  same(t, 'set() keeps the first place, replaces the name as shown', (h) => {
    h.append('A', '1');
    h.append('b', '2');
    h.set('a', '3');
  });
  // A copy appends each value again: a value joined with an empty one loses its trailing space.
  same(
    t,
    'a copy of a Headers with "x, " values',
    () => {},
    (() => {
      const h = new Light();
      h.append('a', 'x');
      h.append('a', '');
      h.append('set-cookie', 'c');
      h.append('set-cookie', '');
      return new Light(h);
    })(),
  );
  const sources: [string, () => HeadersInit][] = [
    ['a light Headers', () => new Light({ b: '2', A: '1' })],
    ['a platform Headers', () => new Platform({ b: '2', A: '1' })],
    [
      'a Map',
      () =>
        new Map([
          ['b', '2'],
          ['A', '1'],
        ]) as unknown as HeadersInit,
    ],
    ['a record with a non-string value', () => ({ b: 2, A: { toString: () => ' 1 ' } }) as unknown as HeadersInit],
  ];
  for (const [what, init] of sources) t.same([...new Light(init())], [...new Platform(init())], `from ${what}`);
  const many: [string, string][] = [];
  for (let i = 0; i < 300; i++) many.push([`x-${(i * 7919) % 300}`, String(i)]);
  many.push(['x-5', 'again']);
  same(
    t,
    'hundreds of names (looked up through an index, sorted by Array.sort)',
    (h) => {
      h.delete('x-17');
      h.set('x-18', 'set');
      h.append('x-400', 'new');
    },
    many,
  );
});

t.test('iteration is live: the view is read again at each step', async (t) => {
  const init = { a: '1', b: '2', c: '3', d: '4' };
  const walk = (H: typeof Headers, change: (h: Headers, key: string) => void) => {
    const h = new H(init);
    const seen: string[] = [];
    for (const [k, v] of h) {
      seen.push(`${k}=${v}`);
      change(h, k);
    }
    return seen;
  };
  const cases: [string, (h: Headers, key: string) => void][] = [
    ['deleting the next one skips it', (h, k) => k === 'a' && h.delete('b')],
    ['deleting the current one skips the next', (h, k) => k === 'b' && h.delete('b')],
    ['appending after reaches it', (h, k) => k === 'a' && h.append('z', '26')],
    ['adding before shows the current one again', (h, k) => k === 'b' && h.append('0', 'zero')],
    ['set-cookie appended while walking', (h, k) => k === 'a' && h.append('set-cookie', 'x=1')],
  ];
  for (const [what, change] of cases) t.same(walk(Light, change), walk(Platform, change), what);
  const forEach = (H: typeof Headers) => {
    const h = new H(init);
    const seen: unknown[] = [];
    h.forEach(function (this: unknown, value, key, parent) {
      seen.push([key, value, parent === h, this === globalThis]);
      if (key === 'a') h.delete('c');
    });
    return seen;
  };
  t.same(forEach(Light), forEach(Platform), 'forEach: value, key, the Headers, globalThis; live as well');
  const it = new Light(init).keys();
  t.equal(it[Symbol.iterator](), it, 'an iterator is its own iterable');
  t.equal(Object.prototype.toString.call(it), '[object Headers Iterator]');
  t.equal(inspect(it), inspect(new Platform(init).keys()), 'an iterator shows as the platform one');
  t.same(it.next(), { value: 'a', done: false });
  const next = Object.getPrototypeOf(it).next as () => unknown;
  t.throws(() => next.call({}), {
    name: 'TypeError',
    message: "'next' called on an object that does not implement interface Headers Iterator.",
  });
});

t.test('invalid names and values: the TypeError and message undici gives', async (t) => {
  const cases: [string, (h: Headers) => void][] = [
    ['append, a space in the name', (h) => h.append('a b', 'c')],
    ['append, an empty name', (h) => h.append('', 'c')],
    ['append, a colon', (h) => h.append('a:', 'c')],
    ['append, a non-ASCII name', (h) => h.append('é', 'c')],
    ['append, a name past U+00FF', (h) => h.append('aĀ', 'c')],
    ['append, a value past U+00FF', (h) => h.append('a', 'xĀ')],
    ['append, NUL in the value', (h) => h.append('a', 'b\0c')],
    ['append, CR inside the value', (h) => h.append('a', 'b\rc')],
    ['append, LF inside the value', (h) => h.append('a', ' b\nc ')],
    ['append, LF at the edges is stripped', (h) => h.append('a', '\nb\r\n')],
    ['append, other controls are taken', (h) => h.append('a', 'b\x01\x7fc')],
    ['append, latin1 is taken', (h) => h.append('a', 'café')],
    ['append, bad name and bad value: the name is said', (h) => h.append('a b', 'b\0c')],
    ['set, a bad name', (h) => h.set('a b', 'c')],
    ['set, a bad value', (h) => h.set('a', 'b\0')],
    ['get, a bad name', (h) => h.get('a b')],
    ['has, an empty name', (h) => h.has('')],
    ['delete, a bad name', (h) => h.delete('a:')],
    ['append, one argument', (h) => (h.append as (n: string) => void)('a')],
    ['append, no argument', (h) => (h.append as () => void)()],
    ['get, no argument', (h) => (h.get as unknown as () => void)()],
    ['forEach, not a function', (h) => h.forEach(1 as never)],
    ['forEach, no argument', (h) => (h.forEach as () => void)()],
    ['append, a number and an object are strings', (h) => h.append(1 as never, { toString: () => 'x' } as never)],
  ];
  for (const [what, steps] of cases) same(t, what, steps);
  // Node 24's wording (Node 20's undici says "contructor" in these; the light class spells it right).
  t.throws(() => new Light([['a']] as never), {
    name: 'TypeError',
    message: 'Headers constructor: expected name/value pair to be length 2, found 1.',
  });
  t.throws(() => new Light(['ab'] as never), {
    name: 'TypeError',
    message: 'Headers constructor: init[0] ("ab") is not iterable.',
  });
  t.throws(() => new Light(null as never), {
    name: 'TypeError',
    message:
      'Headers constructor: Argument 1 could not be converted to one of: sequence<sequence<ByteString>>, record<ByteString, ByteString>.',
  });
  t.throws(() => new Light({ [Symbol('s')]: 'a' } as never), {
    message: 'Headers constructor: Key Symbol(s) in init is a symbol, which cannot be converted to a ByteString.',
  });
  t.throws(() => new Light().get(Symbol('s') as never), {
    message: 'Headers.get: name is a symbol, which cannot be converted to a ByteString.',
  });
  const brand = t.throws(() => Light.prototype.get.call({}, 'a'), { name: 'TypeError', message: 'Illegal invocation' });
  t.equal((brand as { code?: string }).code, 'ERR_INVALID_THIS', 'the code Node gives');
  same(t, 'a bad pair after good ones: nothing of it is kept', () => {}, [
    ['a', '1'],
    ['b c', '2'],
  ]);
});

t.test("inspection and shape: what Node shows and lists for the platform's", async (t) => {
  const build = (H: typeof Headers) => {
    const h = new H({ b: '2', 'X-Given-Case': 'v' });
    h.append('set-cookie', 'a=1');
    h.append('Set-Cookie', 'b=2');
    h.append('cookie', 'c1');
    h.append('cookie', 'c2');
    return h;
  };
  t.equal(inspect(build(Light)), inspect(build(Platform)), 'names as given, values joined');
  t.equal(inspect(new Light()), 'Headers {}');
  t.equal(
    inspect({ deep: { h: build(Light) } }, { depth: 0 }),
    inspect({ deep: { h: build(Platform) } }, { depth: 0 }),
  );
  t.equal(inspect(build(Light), { depth: -1 }), inspect(build(Platform), { depth: -1 }));
  t.equal(Object.prototype.toString.call(build(Light)), '[object Headers]');
  t.equal(Light.name, 'Headers');
  t.equal(Light.length, Platform.length, 'constructor length');
  t.equal(JSON.stringify(build(Light)), '{}');
  t.same(Reflect.ownKeys(build(Light)), [], 'no own property');
  t.same(Object.keys(Light.prototype), Object.keys(Platform.prototype), 'the same enumerable methods');
  for (const m of Object.keys(Platform.prototype)) {
    const fn = (Light.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!;
    const theirs = (Platform.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!;
    t.equal(fn.length, theirs.length, `${m}.length`);
  }
  t.equal(Light.prototype[Symbol.iterator], Light.prototype.entries, 'the iterator is entries()');
  class Sub extends Light {
    extra(): string {
      return 'x';
    }
  }
  const s = new Sub({ a: '1' });
  t.equal(s.get('a'), '1', 'a subclass works');
  t.ok(s instanceof Sub && s instanceof Light, 'a subclass instance is both');
  t.notOk(new Light() instanceof Sub, 'a base instance is not the subclass');
});

t.test('instanceof Headers holds for light and platform objects; nothing else', async (t) => {
  t.ok(new Light() instanceof Light, 'light');
  t.ok(new Platform() instanceof Light, 'platform, against the light class');
  t.ok(new Response('x').headers instanceof Light, "a platform Response's headers");
  t.notOk({} instanceof Light, 'a plain object');
  t.notOk({ [Symbol.toStringTag]: 'Headers' } instanceof Light, 'an object that only says it is one');
  t.notOk((null as unknown) instanceof Light);
  t.notOk(('Headers' as unknown) instanceof Light);
  t.notOk(new Map() instanceof Light);
  t.ok(isLightHeaders(new Light()));
  t.notOk(isLightHeaders(new Platform()));
  t.notOk(isLightHeaders(new Proxy(new Light(), {})), 'a proxy of one is not one (its private state is not there)');
});

t.test("a light Headers as HeadersInit of the platform's Response, Request and fetch", async (t) => {
  const h = new Light({ 'X-One': '1', accept: 'a' });
  h.append('set-cookie', 'a=1');
  h.append('set-cookie', 'b=2');
  h.append('Accept', 'b');
  const res = new Response('body', { headers: h });
  t.equal(res.headers.get('x-one'), '1', 'platform Response');
  t.same(res.headers.getSetCookie(), ['a=1', 'b=2'], 'platform Response: cookies kept apart');
  t.equal(res.headers.get('accept'), 'a, b');
  const req = new Request('http://example.com/', { headers: h });
  t.same([...req.headers], [...h], 'platform Request: the same fields');
  t.same([...new Platform(h)], [...h], 'platform Headers');
  // platformHeaders: what qilin hands the platform's Request and fetch in a worker.
  const copy = platformHeaders(h) as Headers;
  t.notOk(isLightHeaders(copy));
  t.same([...copy], [...h], 'a platform copy with the same fields');
  t.equal(inspect(copy), inspect(h), 'names as given, in the order set');
  t.equal(platformHeaders('x'), 'x', 'anything else as it is');

  // A real fetch to a real server: the fields go on the wire.
  const seen: string[][] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.rawHeaders);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const sent = new Light({ 'X-Trace': 't1', 'x-other': 'o' });
  const r1 = await fetch(url, { headers: sent });
  t.equal(await r1.text(), 'ok');
  const r2 = await fetch(new Request(url, { headers: sent }));
  t.equal(await r2.text(), 'ok');
  const r3 = await fetch(url, { headers: platformHeaders(sent) });
  t.equal(await r3.text(), 'ok');
  for (const raw of seen) {
    const got: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) got[raw[i]!.toLowerCase()] = raw[i + 1]!;
    t.equal(got['x-trace'], 't1', 'fetch sent X-Trace');
    t.equal(got['x-other'], 'o', 'fetch sent x-other');
  }
  t.ok(seen[2]!.includes('X-Trace'), 'through platformHeaders the name goes as given');
});

t.test('requestHeaders: the lines as sent, joined as the platform joins them, without checks', async (t) => {
  const raw = ['host', 'x', 'accept', 'a', 'cookie', 'c=1', 'accept', '', 'cookie', 'd=2', 'x-e', ''];
  const h = requestHeaders(raw);
  const platform = new Platform();
  for (let i = 0; i < raw.length; i += 2) platform.append(raw[i]!, raw[i + 1]!);
  t.same([...h], [...platform]);
  t.equal(h.get('Accept'), 'a, ');
  t.equal(h.get('cookie'), 'c=1; d=2');
  t.equal(inspect(h), inspect(platform));
  t.same([...new Light(h)], [...new Platform(platform)], 'a copy strips the edge of a joined empty value');
});

t.test("sortedFields, sentCookies: the writer's view, sorted, cookies apart, kept until a change", async (t) => {
  const h = new Light({ b: '2', a: '1' });
  h.append('set-cookie', 'x=1');
  h.append('set-cookie', 'y=2');
  const first = sortedFields(h)!;
  t.same(first, ['a', '1', 'b', '2', 'set-cookie', 'x=1', 'set-cookie', 'y=2']);
  t.same(sentCookies(h), ['x=1', 'y=2']);
  t.same(sentCookies(new LightHeaders()), [], 'none');
  t.equal(sortedFields(h), first, 'the same array while nothing changes');
  t.equal([...h].length, 4);
  t.equal(sortedFields(h), first, 'iterating does not rebuild it');
  const copy = new Light(h);
  t.equal(sortedFields(copy), first, 'a copy starts with the same view');
  copy.set('c', '3');
  t.same(sortedFields(copy)!.slice(0, 6), ['a', '1', 'b', '2', 'c', '3'], 'a change gives a new view');
  t.same(first.length, 8, 'the old view is not changed in place');
  t.equal(sortedFields(new Platform()), null, 'null for a platform Headers');
  t.equal(sortedFields({}), null);
});

t.test('writeHeaders: a light Headers goes out field for field as the platform one does', async (t) => {
  const fill = (h: Headers) => {
    h.set('X-Frame-Options', 'DENY');
    h.append('set-cookie', 'b=2');
    h.append('Content-Type', 'application/json');
    h.append('Vary', 'Origin');
    h.append('vary', 'Accept');
    h.append('Set-Cookie', 'a=1');
    h.set('content-length', '12'); // the engine frames the body: skipped
    h.set('date', 'Mon, 01 Jan 2024 00:00:00 GMT');
    h.set('x-latin', 'café'); // past ASCII: written as its latin1 bytes
    h.append('accept-ranges', 'bytes');
  };
  const written = (H: typeof Headers, ownDate: boolean) => {
    const h = new H();
    fill(h);
    const lines: [string, string][] = [];
    const sink = {
      writeHeader(name: string, value: string | Uint8Array) {
        lines.push([name, typeof value === 'string' ? value : `bytes:${Buffer.from(value).toString('hex')}`]);
      },
    };
    return { flags: writeHeaders(sink as never, h, ownDate), lines };
  };
  for (const ownDate of [false, true]) {
    const light = written(Light, ownDate);
    t.same(light, written(Platform, ownDate), `the same calls, in the same order (ownDate ${ownDate})`);
    t.same(light.lines.slice(-2), [
      ['set-cookie', 'b=2'],
      ['set-cookie', 'a=1'],
    ]);
  }
});
