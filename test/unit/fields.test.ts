// Response header fields and status text (lib/http/fields.ts): checked as the platform's Headers
// and Response check them, so an app gets the same TypeError from qilin's light Response as from
// Node's own. Each verdict here is compared with what the platform class does with the same input.
import t from 'tap';
import { checkField, checkHeadersInit, checkStatusText, isToken, pairsOf, wireValue } from '../../lib/http/fields.js';

/** What the platform's Headers makes of one field: the value it keeps, or 'TypeError'. */
function platform(name: string, value: string): string {
  try {
    return new Headers([[name, value]]).get(name)!;
  } catch (err) {
    return (err as Error).name;
  }
}
function ours(name: string, value: string): string {
  try {
    return checkField(name, value);
  } catch (err) {
    return (err as Error).name;
  }
}

t.test('isToken: RFC 9110 field names', async (t) => {
  for (const ok of ['content-type', 'X-Custom_1', "!#$%&'*+-.^_`|~", 'a']) t.ok(isToken(ok), ok);
  for (const bad of ['', 'a b', 'a:b', 'a(b)', 'é', 'a\tb', 'a"b', 'a,b', 'a/b', '[a]']) t.notOk(isToken(bad), JSON.stringify(bad));
});

t.test('checkField: the same verdict and value as the platform Headers', async (t) => {
  const cases: [string, string][] = [
    ['x-a', 'plain'],
    ['x-a', '  padded\t'],
    ['x-a', '\r\npadded\n'],
    ['x-a', 'in side'],
    ['x-a', 'tab\tinside'],
    ['x-a', 'caf\u00e9'], // latin1: a ByteString may hold it
    ['x-a', '\u20ac'], // past U+00FF: not a ByteString
    ['x-a', 'a\0b'],
    ['x-a', 'a\rb'],
    ['x-a', 'a\nb'],
    ['x-a', 'a\x01b'], // other controls are allowed by Headers
    ['x-a', ''],
    ['bad name', 'v'],
    ['', 'v'],
    ['x:a', 'v'],
    ['é', 'v'],
  ];
  for (const [name, value] of cases) {
    t.equal(ours(name, value), platform(name, value), `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
  t.throws(() => checkField('bad name', 'v'), { name: 'TypeError', message: /invalid header name/ });
  t.throws(() => checkField('x-a', 'a\nb'), { name: 'TypeError', message: /invalid header value/ });
});

t.test('checkStatusText: a reason-phrase, as the Response constructor takes it', async (t) => {
  const platformTakes = (text: string) => {
    try { new Response(null, { statusText: text }); return true; } catch { return false; }
  };
  for (const text of ['OK', 'Not Found', '', 'tab\there', 'caf\u00e9', 'a\rb', 'a\nb', 'a\x00b', 'a\x7fb', '\u20ac']) {
    let takes = true;
    try { t.equal(checkStatusText(text), text); } catch (err) { takes = false; t.equal((err as Error).name, 'TypeError'); }
    t.equal(takes, platformTakes(text), `${JSON.stringify(text)}: as the platform`);
  }
});

t.test('pairsOf: arrays and other iterables are pairs, a plain object is a record', async (t) => {
  const list = [['a', '1']];
  t.equal(pairsOf(list), list);
  const map = new Map([['a', '1']]);
  t.equal(pairsOf(map), map);
  t.equal(pairsOf({ a: '1' }), null);
});

t.test('checkHeadersInit: throws where new Headers(init) throws', async (t) => {
  const platformThrows = (init: unknown) => { try { new Headers(init as HeadersInit); return false; } catch { return true; } };
  const inits: [string, unknown][] = [
    ['a record', { 'x-a': '1', 'x-b': 2 }],
    ['a record with a bad name', { 'bad name': '1' }],
    ['a record with a bad value', { 'x-a': 'a\nb' }],
    ['pairs', [['x-a', '1'], ['x-a', '2']]],
    ['a pair of three', [['x-a', '1', '2']]],
    ['a pair of one', [['x-a']]],
    ['a pair that is a string', ['ab']],
    ['a Map', new Map([['x-a', '1']])],
    ['a Map with a bad name', new Map([['bad name', '1']])],
    ['null', null],
    ['a number', 5],
    ['a string', 'x-a: 1'],
  ];
  for (const [what, init] of inits) {
    let threw = false;
    try { checkHeadersInit(init); } catch (err) { threw = true; t.equal((err as Error).name, 'TypeError', `${what}: a TypeError`); }
    t.equal(threw, platformThrows(init), `${what}: ${threw ? 'refused' : 'taken'}, as the platform`);
  }
  const inherited = Object.create({ 'bad name': 'x' }) as Record<string, string>;
  inherited['x-own'] = '1';
  t.doesNotThrow(() => checkHeadersInit(inherited), 'only own properties count');
});

t.test('wireValue: what the wire carries, as node:http writes it (latin1 bytes past ASCII)', async (t) => {
  t.equal(wireValue('plain'), 'plain', 'ASCII stays a string');
  const v = wireValue('caf\u00e9');
  t.ok(Buffer.isBuffer(v), 'past ASCII: bytes');
  t.same([...(v as Buffer)], [0x63, 0x61, 0x66, 0xe9], 'one byte per character, latin1');
});
