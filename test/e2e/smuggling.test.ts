// A refusal is final: once qilin answers a request with an error status, nothing more is served
// from that connection. Every refusal qilin makes, and the hidden-request class (CL.CL, CL.TE,
// TE.CL, TE.TE), each followed by a pipelined request on raw sockets: that request must never
// reach the app, on either engine.
import t from 'tap';
import { ENGINES, fixture, rawExchange, request, startQilin } from '../helpers.js';

const APP = fixture('seen-app.mjs');
const SMUGGLED = 'GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n';
const head = (lines: string[]) => lines.join('\r\n') + '\r\n\r\n';

/**
 * [what, bytes, the status a lone copy gets on the node engine, and on the uws engine (null: uWS's
 * own parser refuses it before qilin sees it: 20.30 closes the connection or holds it without an
 * answer until its idle timeout, as the engine table in docs/design.md says; 20.57 answers 400 or 505)]
 */
const REFUSED: [string, string, number, number | null][] = [
  [
    'CL.CL: two different Content-Length',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 45']) + 'hello',
    400,
    400,
  ],
  [
    'CL.CL: the same Content-Length twice',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 5']) + 'hello',
    400,
    400,
  ],
  [
    'CL.CL: a list in Content-Length',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5, 45']) + 'hello',
    400,
    null,
  ],
  ['CL: a sign', head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: +5']) + 'hello', 400, null],
  [
    'CL.TE: both',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Transfer-Encoding: chunked']) + '0\r\n\r\n',
    400,
    null,
  ],
  [
    'TE.CL: both, TE first',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Content-Length: 30']) + '0\r\n\r\n',
    400,
    null,
  ],
  [
    'TE.TE: chunked twice',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']) + '0\r\n\r\n',
    400,
    400,
  ],
  [
    'TE.TE: chunked, identity',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked, identity']) + '0\r\n\r\n',
    400,
    400,
  ],
  [
    'TE.TE: an obfuscated coding',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: xchunked']) + '0\r\n\r\n',
    400,
    400,
  ],
  [
    'TE.TE: gzip, then no chunked',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: gzip']) + '0\r\n\r\n',
    400,
    400,
  ],
  [
    'TE.TE: a space before the colon',
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding : chunked']) + '0\r\n\r\n',
    400,
    null,
  ],
  ['two Host headers', head(['GET / HTTP/1.1', 'Host: x', 'Host: y']), 400, 400],
  [
    'two Content-Type headers',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Type: a/b', 'Content-Type: c/d', 'Content-Length: 0']),
    400,
    400,
  ],
  ['an invalid Host', head(['GET / HTTP/1.1', 'Host: a b']), 400, 400],
  [
    'contradictory scheme headers',
    head(['GET / HTTP/1.1', 'Host: x', 'X-Forwarded-Proto: https', 'X-Forwarded-Ssl: off']),
    400,
    400,
  ],
  ['a control character in a value', head(['GET / HTTP/1.1', 'Host: x', 'X-A: a\x01b']), 400, null],
  [
    'too many header fields',
    head(['GET / HTTP/1.1', 'Host: x', ...Array.from({ length: 40 }, (_, i) => `X-F${i}: v`)]),
    431,
    431,
  ],
  ['a header field over the limit', head(['GET / HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(600)}`]), 431, 431],
  ['a request line over the limit', head([`GET /${'a'.repeat(700)} HTTP/1.1`, 'Host: x']), 400, 400],
  [
    'a body over limit_request_body',
    head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 2000']) + 'x'.repeat(2000),
    413,
    413,
  ],
  ['an invalid absolute target', head(['GET http://a b/ HTTP/1.1', 'Host: x']), 400, null],
];

// Limits small enough that one request passes them: 32 fields, 512-byte fields, a 512-byte line, 1 KB bodies.
const LIMITS = [
  '--limit-request-fields',
  '32',
  '--limit-request-field_size',
  '512',
  '--limit-request-line',
  '512',
  '--limit-request-body',
  '1024',
];

for (const engine of ENGINES) {
  t.test(engine, async (t) => {
    const q = await startQilin(t, [...LIMITS, '--forwarded-allow-ips', '*', APP], { engine });
    const served = async () => (await request(`${q.url}/seen`)).body;
    for (const [what, bytes, nodeStatus, uwsStatus] of REFUSED) {
      const status = engine === 'node' ? nodeStatus : uwsStatus;
      // Alone: the error status, then the connection closed.
      const lone = await rawExchange(q.port, bytes, 3000);
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(lone.text);
      if (status !== null) {
        t.equal(m?.[1], String(status), `${what}: alone, ${status}`);
        t.ok(lone.closed, `${what}: alone, the connection is closed`);
      } else {
        // 20.30 answers nothing (closed, or held until its idle timeout); 20.57 answers 400 or 505 itself.
        t.ok(
          lone.text === '' || /^HTTP\/1\.1 (4\d\d|505) /.test(lone.text),
          `${what}: alone, uWS's parser answers nothing, a 4xx or 505 (${m?.[1] ?? 'none'})`,
        );
      }
      // With a request behind it: that request is never served, and the connection ends.
      const piped = await rawExchange(q.port, bytes + SMUGGLED, 3000);
      if (status !== null) t.ok(piped.closed, `${what}: pipelined, the connection is closed`);
      t.notMatch(piped.text, /HTTP\/1\.1 2\d\d/, `${what}: pipelined, no 2xx on that connection`);
      t.notMatch(piped.text, /SMUGGLED/, `${what}: pipelined, no trace of the hidden request`);
    }
    t.notMatch(await served(), /SMUGGLED/, 'the app never saw a hidden request');
    t.equal((await request(`${q.url}/after`)).status, 200, 'the worker serves on');
  });
}
