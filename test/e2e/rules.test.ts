// The request rules (lib/http/rules.ts and each engine's parser) on both engines, over raw sockets:
// framing that request smuggling lives in, Gunicorn's limit_request_* settings, and that a refused
// request never reaches the app nor harms the worker.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { rawExchange, startQilin, type Qilin } from '../helpers.js';

type Engine = 'uws' | 'node';

/** An app that records what ran and whether its body read worked; GET /log tells. */
const APP = `
const log = [];
export default async function app(request) {
  const url = new URL(request.url);
  if (url.pathname === '/log') return Response.json({ pid: process.pid, log });
  log.push('ran ' + url.pathname);
  let size = -1;
  try { size = (await request.arrayBuffer()).byteLength; log.push('read ' + url.pathname + ' ' + size); }
  catch (err) { log.push('failed ' + url.pathname + ' ' + err.name); }
  return Response.json({ method: request.method, target: url.pathname + url.search, fields: [...request.headers].length, size });
}
`;

interface Answer {
  status: number | null;
  head: string;
  body: string;
  closed: boolean;
  text: string;
}

async function send(q: Qilin, raw: string | Buffer, ms = 1500): Promise<Answer> {
  const { text, closed } = await rawExchange(q.port, raw, ms);
  const m = /^HTTP\/1\.[01] (\d{3})[^]*?\r\n\r\n/.exec(text);
  return { status: m ? Number(m[1]) : null, head: m?.[0] ?? '', body: m ? text.slice(m[0].length) : '', closed, text };
}

async function log(q: Qilin): Promise<{ pid: number; log: string[] }> {
  return JSON.parse((await send(q, 'GET /log HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')).body);
}

const req = (target: string, fields = '', body = '') => `POST ${target} HTTP/1.1\r\nHost: h\r\n${fields}\r\n${body}`;

for (const engine of ['uws', 'node'] as Engine[]) {
  t.test(`${engine} engine`, async (t) => {
    const dir = t.testdir({});
    const app = path.join(dir, 'record-app.mjs');
    writeFileSync(app, APP);
    const base = await startQilin(t, ['--engine', engine, '--limit-request-body', '1000', app]);
    const tight = await startQilin(t, [
      '--engine',
      engine,
      '--limit-request-line',
      '200',
      '--limit-request-fields',
      '20',
      '--limit-request-field-size',
      '300',
      app,
    ]);
    const pids = { base: (await log(base)).pid, tight: (await log(tight)).pid };
    const refused: string[] = [];

    /** A request that must be refused with `status` and a closed connection, never reaching the app. */
    const refuses = async (q: Qilin, name: string, raw: string, status: number | null, why = '', closed = true) => {
      // An answered refusal ends with the close: waiting longer costs nothing unless the machine is slow.
      const a = await send(q, raw, status === null ? 1500 : 5000);
      refused.push(name);
      t.same(
        { status: a.status, closed: a.closed },
        { status, closed },
        `${name}: ${status ?? 'no answer'}, ${closed ? 'closed' : 'held'}${why ? ` (${why})` : ''}`,
      );
    };

    // Body framing.
    await refuses(base, '/r/two-cl', req('/r/two-cl', 'Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), 400);
    // uWS 20.30 refuses CL with TE itself, by closing without an answer (documented limitation).
    await refuses(
      base,
      '/r/cl-te',
      req('/r/cl-te', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
      engine === 'node' ? 400 : null,
      engine === 'uws' ? 'uWS closes it itself' : '',
    );
    await refuses(
      base,
      '/r/te-twice',
      req('/r/te-twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
      400,
    );
    await refuses(base, '/r/two-host', 'GET /r/two-host HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400);
    // uWS 20.30 stops parsing at a control character in a header and answers nothing: the
    // connection stays open until the client leaves or uWS's idle timeout (documented limitation).
    await refuses(
      base,
      '/r/ctl',
      'GET /r/ctl HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n',
      engine === 'node' ? 400 : null,
      engine === 'uws' ? 'uWS swallows it' : '',
      engine === 'node',
    );

    // limit_request_line / _fields / _field_size.
    await refuses(tight, '/r/long-line', `GET /r/long-line?${'x'.repeat(300)} HTTP/1.1\r\nHost: h\r\n\r\n`, 400);
    const fields = Array.from({ length: 25 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    await refuses(tight, '/r/many-fields', `GET /r/many-fields HTTP/1.1\r\nHost: h\r\n${fields}\r\n`, 431);
    await refuses(
      tight,
      '/r/big-field',
      `GET /r/big-field HTTP/1.1\r\nHost: h\r\nX-Big: ${'y'.repeat(400)}\r\n\r\n`,
      431,
    );
    // 20 KB in one field on default settings (limit_request_field_size 8190). Not more: the server
    // answers and closes after its first read, and bytes of the request it never read would make
    // the kernel reset the connection, which can drop the answer before the client reads it.
    await refuses(
      base,
      '/r/huge-field',
      `GET /r/huge-field HTTP/1.1\r\nHost: h\r\nX-Huge: ${'z'.repeat(20 * 1024)}\r\n\r\n`,
      431,
    );

    // limit_request_body: a Content-Length over it is refused before the app runs.
    await refuses(base, '/r/big-cl', req('/r/big-cl', 'Content-Length: 5000\r\n', 'a'.repeat(100)), 413);
    // A chunked body that grows past it: 413 or a cut connection, and the app's read fails.
    const chunk = `${(400).toString(16)}\r\n${'c'.repeat(400)}\r\n`;
    const grown = await send(
      base,
      req('/r/big-chunked', 'Transfer-Encoding: chunked\r\n', chunk.repeat(4) + '0\r\n\r\n'),
    );
    t.ok(
      grown.closed && (grown.status === 413 || grown.status === null),
      `chunked body past the limit: 413 or a cut (got ${grown.status ?? 'a cut'})`,
    );

    let trailer: Answer | null = null;
    if (engine === 'node') {
      // RFC 9112 3.2; checked after the limits, so a too-large Host-less request still gets 431.
      await refuses(base, '/r/no-host', 'GET /r/no-host HTTP/1.1\r\n\r\n', 400);
      await refuses(base, '/r/connect', 'CONNECT /r/connect HTTP/1.1\r\nHost: h\r\n\r\n', 501, 'no tunnels');
      // A forbidden field in the trailer section: 400, and the app's read of the body fails.
      trailer = await send(
        base,
        req('/r/trailer', 'Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nHost: evil\r\n\r\n'),
      );
      t.same(
        { status: trailer.status, closed: trailer.closed },
        { status: 400, closed: true },
        'Host in the trailers: 400, closed',
      );
      // Bytes after an HTTP/1.0 request (no keep-alive) are not read: one answer, then the close.
      const extra = await send(base, 'GET /r/first HTTP/1.0\r\n\r\nGET /r/second HTTP/1.1\r\nHost: h\r\n\r\n');
      t.same(
        { status: extra.status, answers: extra.text.match(/HTTP\/1\.1 \d{3}/g)?.length, closed: extra.closed },
        { status: 200, answers: 1, closed: true },
        'pipelined bytes after HTTP/1.0: the first served, then closed',
      );
      refused.push('/r/second');
    }

    const seen = await log(base);
    const seenTight = await log(tight);
    for (const name of refused) {
      t.notOk(
        [...seen.log, ...seenTight.log].some((l) => l.startsWith(`ran ${name}`)),
        `${name} never reached the app`,
      );
    }
    t.ok(seen.log.includes('ran /r/big-chunked'), 'a chunked body reaches the app as it arrives');
    t.match(
      seen.log.find((l) => l.includes(' /r/big-chunked ') && !l.startsWith('ran')) ?? '',
      /^failed \/r\/big-chunked /,
      "the app's read of a body past the limit fails",
    );
    if (trailer)
      t.ok(
        seen.log.some((l) => l.startsWith('failed /r/trailer ')),
        "the app's read of a body with a forbidden trailer fails",
      );
    t.same({ base: seen.pid, tight: seenTight.pid }, pids, 'the same workers answer after every refused request');
    t.notMatch(base.output + tight.output, /was sent|exited with code/, 'no worker died');

    if (engine === 'node') {
      // HTTP/1.0: a length-delimited answer, the connection closed unless the client asked to keep it.
      const once = await send(base, 'GET /r/http10 HTTP/1.0\r\n\r\n');
      t.equal(once.status, 200, 'HTTP/1.0 request served');
      t.match(once.head, /\r\ncontent-length: \d+\r\n/i, 'HTTP/1.0 answer has a Content-Length');
      t.notMatch(once.head, /transfer-encoding/i, 'HTTP/1.0 answer is not chunked');
      t.ok(once.closed, 'HTTP/1.0 without keep-alive: connection closed');
      const kept = await send(base, 'GET /r/http10-keep HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 800);
      t.equal(kept.status, 200, 'HTTP/1.0 keep-alive request served');
      t.match(kept.head, /\r\nconnection: keep-alive\r\n/i, 'HTTP/1.0 keep-alive answer says keep-alive');
      t.notOk(kept.closed, 'HTTP/1.0 keep-alive: connection kept');

      const star = await send(base, 'OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      t.equal(star.status, 200, 'OPTIONS * served');
      t.match(JSON.parse(star.body), { method: 'OPTIONS', target: '/*' }, 'OPTIONS * reaches the app');
      for (const method of ['PROPFIND', 'PURGE']) {
        const a = await send(base, `${method} /r/dav HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
        t.match(
          { status: a.status, seen: a.status === 200 ? JSON.parse(a.body) : null },
          { status: 200, seen: { method } },
          `${method} reaches the app`,
        );
      }
      const sixty = Array.from({ length: 58 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
      const many = await send(base, `GET /r/sixty HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${sixty}\r\n`);
      t.match(
        { status: many.status, fields: many.status === 200 ? JSON.parse(many.body).fields : 0 },
        { status: 200, fields: 60 },
        '60 header fields reach the app',
      );
      const abs = await send(
        base,
        'GET http://example.com/r/abs?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
      );
      t.match(
        { status: abs.status, seen: abs.status === 200 ? JSON.parse(abs.body) : null },
        { status: 200, seen: { target: '/r/abs?q=1' } },
        'absolute-form target served',
      );
    }
  });
}
