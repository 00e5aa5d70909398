// The request rules every engine applies before the app runs (lib/http/rules.ts): Gunicorn's
// limit_request_* limits, with Gunicorn's boundaries, and RFC 9112's framing rules, on header
// lists as the engines hand them over. The refusals are what docs/http-rules.md promises.
import t from 'tap';
import { defaultSettings } from '../../lib/config/settings.js';
import {
  addressOf,
  bodyTooLarge,
  checkHeaders,
  checkTrailers,
  lineTooLong,
  requestLimits,
  validHost,
  type RequestLimits,
} from '../../lib/http/rules.js';
import { addressSeen, head, headersSeen } from './seen.js';

const LIMITS: RequestLimits = requestLimits(defaultSettings({}));
const limits = (over: Partial<RequestLimits>): RequestLimits => ({ ...LIMITS, ...over });
/** A flat header list from `name: value` lines. */
const H = (...lines: string[]): string[] =>
  lines.flatMap((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
const status = (r: readonly [number, string] | object | null) => (Array.isArray(r) ? (r[0] as number) : null);

t.test('requestLimits: the settings, 0 meaning what Gunicorn makes of it', async (t) => {
  t.same(LIMITS, { line: 4094, fields: 100, fieldSize: 8190, body: 0 }, 'the defaults');
  const zero = requestLimits({
    ...defaultSettings({}),
    limit_request_line: 0,
    limit_request_fields: 0,
    limit_request_field_size: 0,
  });
  t.same(
    zero,
    { line: 0, fields: 32768, fieldSize: 8190, body: 0 },
    'no line limit; MAX_HEADERS; the default field size',
  );
});

t.test('lineTooLong: the request line as sent, Gunicorn refusing only past the limit', async (t) => {
  // `GET /x HTTP/1.1` is 15 bytes.
  t.equal(lineTooLong(limits({ line: 15 }), 'GET', '/x'), null, 'exactly at the limit');
  const refused = lineTooLong(limits({ line: 14 }), 'GET', '/x');
  t.same(refused, [400, 'Request Line is too large (15 > 14)'], 'one byte over: 400');
  t.equal(lineTooLong(limits({ line: 0 }), 'GET', '/' + 'x'.repeat(100_000)), null, '0: no limit');
});

t.test("checkHeaders: field count and size (431), with Gunicorn's boundaries", async (t) => {
  const three = H('a: 1', 'b: 2', 'c: 3');
  t.equal(checkHeaders(three, limits({ fields: 3 }), false), null, 'as many fields as allowed');
  t.same(checkHeaders(three, limits({ fields: 2 }), false), [431, "Error parsing headers: 'Too many headers (3 > 2)'"]);
  // `x-long: vvvvvvvvvv` and its CRLF: 6 + 2 + 10 + 2 = 20 bytes.
  const field = H(`x-long: ${'v'.repeat(10)}`);
  t.equal(checkHeaders(field, limits({ fieldSize: 20 }), false), null, 'a field exactly at limit_request_field_size');
  t.equal(status(checkHeaders(field, limits({ fieldSize: 19 }), false)), 431, 'one byte over');
});

t.test('checkHeaders: control characters in a value (400), HTAB allowed', async (t) => {
  t.equal(checkHeaders(['x-a', 'one\ttwo'], LIMITS, false), null, 'HTAB');
  for (const bad of ['\x00', '\x01', '\x0b', '\x1f', '\x7f', '\n']) {
    t.same(checkHeaders(['x-a', `a${bad}b`], LIMITS, false), [400, 'Invalid header value in x-a'], JSON.stringify(bad));
  }
  t.equal(
    checkHeaders(['x-a', 'a\x01b'], LIMITS, false, true),
    null,
    'left to a parser that refuses them itself (llhttp)',
  );
});

t.test('checkHeaders: one Host, one Content-Type', async (t) => {
  t.same(checkHeaders(H('host: a', 'host: b'), LIMITS, false), [400, 'Duplicate Host header']);
  t.same(
    checkHeaders(H('host: a', 'host: a'), LIMITS, false),
    [400, 'Duplicate Host header'],
    'even the same value twice',
  );
  t.same(checkHeaders(H('content-type: text/plain', 'content-type: text/html'), LIMITS, false), [
    400,
    'Duplicate Content-Type header',
  ]);
  t.same(
    checkHeaders(['Host', 'a', 'HOST', 'b'], LIMITS, false, false, true),
    [400, 'Duplicate Host header'],
    "names in the client's case",
  );
  t.equal(checkHeaders(H('host: a', 'accept: x', 'accept: y'), LIMITS, false), null, 'other fields may repeat');
});

t.test('checkHeaders: Content-Length, one, of plain digits', async (t) => {
  t.equal(checkHeaders(H('content-length: 12'), LIMITS, false), null);
  t.equal(
    checkHeaders(['content-length', ' 12 '], LIMITS, false),
    null,
    'surrounding spaces are not part of the value',
  );
  t.same(checkHeaders(H('content-length: 1', 'content-length: 1'), LIMITS, false), [
    400,
    'More than one Content-Length header',
  ]);
  for (const bad of ['+3', '-1', '0x10', '1e3', '1.0', '', '1,1', '1 2', '1234567890123456']) {
    t.equal(status(checkHeaders(['content-length', bad], LIMITS, false)), 400, `Content-Length ${JSON.stringify(bad)}`);
  }
  t.equal(checkHeaders(['content-length', '123456789012345'], LIMITS, false), null, '15 digits');
});

t.test('checkHeaders: Transfer-Encoding ends in one chunked, alone', async (t) => {
  const te = (...values: string[]) =>
    checkHeaders(
      values.flatMap((v) => ['transfer-encoding', v]),
      LIMITS,
      false,
    );
  t.equal(te('chunked'), null);
  t.equal(te('CHUNKED'), null, 'codings are case-insensitive');
  t.equal(te('identity, chunked'), null, 'identity before chunked changes nothing');
  t.equal(te('identity', 'chunked'), null, 'over two fields');
  t.same(te('gzip, chunked'), [501, 'Unsupported transfer coding: gzip'], 'a coding qilin cannot decode: 501');
  t.same(te('gzip', 'chunked'), [501, 'Unsupported transfer coding: gzip'], 'the same over two fields');
  for (const bad of ['chunked, identity', 'chunked, gzip', 'chunked, chunked', 'gzip', 'identity']) {
    t.equal(status(te(bad)), 400, `${bad}: not ending in one chunked`);
  }
  t.same(
    te('chunked', 'chunked'),
    [400, 'Transfer-Encoding must end in one chunked: chunked,chunked'],
    'two fields of chunked',
  );
  for (const bad of ['', ' , ', 'chun ked', 'chunked;q=1', 'chunked\x01']) {
    t.equal(
      status(checkHeaders(['transfer-encoding', bad], LIMITS, false, true)),
      400,
      `${JSON.stringify(bad)}: no coding list`,
    );
  }
  t.same(
    checkHeaders(H('transfer-encoding: chunked', 'content-length: 3'), LIMITS, false),
    [400, 'Content-Length with Transfer-Encoding'],
    'both framings: the shape of request smuggling',
  );
  t.same(checkHeaders(H('transfer-encoding: chunked'), LIMITS, true), [
    400,
    'Transfer-Encoding in an HTTP/1.0 request',
  ]);
});

t.test('checkHeaders notes what the engine needs of a request it passes', async (t) => {
  t.equal(checkHeaders(H('host: example.com', 'content-length: 5'), LIMITS, false, false, false, null, head), null);
  t.same(headersSeen(), { host: 'example.com', length: '5', hasBody: true, chunked: false, forwarded: false });
  t.equal(checkHeaders(H('content-length: 0'), LIMITS, false, false, false, null, head), null);
  t.same(
    headersSeen(),
    { host: null, length: '0', hasBody: false, chunked: false, forwarded: false },
    'Content-Length 0: no body',
  );
  t.equal(checkHeaders(H('Transfer-Encoding: chunked'), LIMITS, false, false, true, null, head), null);
  t.match(headersSeen(), { length: null, hasBody: true, chunked: true }, "chunked, names in the client's case");
  t.equal(checkHeaders([], LIMITS, false, false, false, null, head), null);
  t.same(
    headersSeen(),
    { host: null, length: null, hasBody: false, chunked: false, forwarded: false },
    'nothing from the request before',
  );
  const watch = { lengths: 1 << 'x-forwarded-for'.length, names: new Set(['x-forwarded-for']) };
  checkHeaders(H('X-Forwarded-For: 1.2.3.4'), LIMITS, false, false, true, watch, head);
  t.equal(headersSeen().forwarded, true, 'a watched header, in any case');
  checkHeaders(H('x-forwarded-fox: 1.2.3.4'), LIMITS, false, false, false, watch, head);
  t.equal(headersSeen().forwarded, false, 'a name of the same length is not the watched one');
});

t.test('checkTrailers: no framing, routing or authentication fields after the body', async (t) => {
  t.equal(checkTrailers(['x-checksum', 'abc', 'Content-Type', 'text/plain']), null, 'ordinary fields pass');
  for (const name of [
    'Transfer-Encoding',
    'content-length',
    'HOST',
    'Trailer',
    'TE',
    'Connection',
    'Authorization',
    'Cookie',
    'Expect',
    'If-Match',
    'if-none-match',
  ]) {
    t.equal(status(checkTrailers([name, 'x'])), 400, name);
  }
  t.same(checkTrailers(['x-a', 'b\x00']), [400, 'Invalid trailer value in x-a']);
});

t.test('validHost: one authority that makes a valid URL', async (t) => {
  for (const ok of [
    'example.com',
    'example.com:8080',
    'localhost:',
    '127.0.0.1',
    '[::1]',
    '[::1]:80',
    'xn--caf-dma.example',
    'a_b.example',
    'EXAMPLE.COM',
  ]) {
    t.ok(validHost(ok), ok);
  }
  for (const bad of [
    '',
    'a b',
    'a/b',
    'a:99999',
    'a:65536',
    'user@host',
    'a%2f',
    '999.1.1.1',
    '[::1',
    'a:b:c',
    'café.example',
    'a?b',
    'a#b',
  ]) {
    t.notOk(validHost(bad), JSON.stringify(bad));
  }
  t.ok(validHost('a:65535'), 'the last port');
  t.ok(validHost('example.com'), 'asked again: the same answer (from the cache)');
});

t.test('addressOf: the absolute-form authority, else Host, else the listener', async (t) => {
  const address = (headers: string[], target: string, fallback = '127.0.0.1:8000') => {
    t.equal(checkHeaders(headers, LIMITS, false, false, false, null, head), null);
    const refused = addressOf(fallback, target, head);
    return refused ?? addressSeen();
  };
  t.same(address(H('host: example.com'), '/p?q=1'), { authority: 'example.com', target: '/p?q=1' });
  t.same(address([], '/p'), { authority: '127.0.0.1:8000', target: '/p' }, 'no Host (HTTP/1.0): the listener');
  t.same(address(H('host: '), '/p'), { authority: '127.0.0.1:8000', target: '/p' }, 'an empty Host: the listener');
  t.same(address(H('host: a b'), '/'), [400, 'Invalid Host header']);
  // RFC 9112 3.2.2: the target's authority wins over Host.
  t.same(address(H('host: example.com'), 'http://other.example:81/p?q'), {
    authority: 'other.example:81',
    target: '/p?q',
  });
  t.same(address([], 'HTTPS://other.example'), { authority: 'other.example', target: '/' });
  t.same(address([], 'http://other.example?x=1'), { authority: 'other.example', target: '/?x=1' });
  t.same(address([], '*'), { authority: '127.0.0.1:8000', target: '*' }, 'OPTIONS *');
  t.equal(status(address([], 'ftp://other.example/')), 400, 'another scheme');
  t.equal(status(address([], 'http://user:pass@other.example/')), 400, 'userinfo hides the real authority');
  t.equal(status(address([], 'http:///p')), 400, 'no authority');
  t.equal(status(address([], 'other.example/p')), 400, 'neither a path nor a URL');
});

t.test('bodyTooLarge: a Content-Length over limit_request_body is 413', async (t) => {
  t.equal(bodyTooLarge(limits({ body: 0 }), '999999999999'), null, '0: no limit');
  t.equal(bodyTooLarge(limits({ body: 10 }), null), null, 'no Content-Length (chunked: checked as it arrives)');
  t.equal(bodyTooLarge(limits({ body: 10 }), '10'), null, 'at the limit');
  t.same(bodyTooLarge(limits({ body: 10 }), '11'), [413, 'Request body exceeds limit_request_body (11 > 10 bytes)']);
});
