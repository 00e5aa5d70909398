// 103 Early Hints (RFC 8297): earlyHints() from a fetch app (plain, and through Hono's c.req.raw) and
// node:http's own res.writeEarlyHints() from a Node-style app, on real arbiters. The bytes are read
// from raw sockets: the 103 blocks, their fields, their place before the final response, and that
// final response whole; curl as a client too. HTTP/1.0 clients get no 103; the uws engine sends none.
import { execFile } from 'node:child_process';
import t from 'tap';
import { fixture, rawExchange, startQilin, type Qilin } from '../helpers.js';

const CSS = '</app.css>; rel=preload; as=style';
const JS = '</app.js>; rel=preload; as=script';
const FONT = '</font.woff2>; rel=preload; as=font; crossorigin';

interface Interim {
  status: string;
  /** Field lines as sent: `Name: value`. */
  fields: string[];
}

interface Exchange {
  /** The 1xx blocks before the final response, in order. */
  interims: Interim[];
  /** The final status line. */
  statusLine: string;
  /** Final header lines, lower-cased names: value. */
  headers: Map<string, string>;
  body: string;
}

/**
 * Split what one request read into its 1xx blocks and its final response (Content-Length framed, or
 * to the close). Throws when the text does not have that shape, which fails the test.
 */
function parse(text: string): Exchange {
  const interims: Interim[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`no complete head in ${JSON.stringify(rest)}`);
    const [statusLine, ...fields] = rest.slice(0, end).split('\r\n');
    rest = rest.slice(end + 4);
    if (/^HTTP\/1\.[01] 1\d\d /.test(statusLine!)) {
      interims.push({ status: statusLine!, fields });
      continue;
    }
    const headers = new Map<string, string>();
    for (const line of fields) {
      const i = line.indexOf(':');
      headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    }
    if (headers.get('transfer-encoding') === 'chunked') {
      let body = '';
      for (;;) {
        const nl = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, nl), 16);
        if (nl < 0 || Number.isNaN(size)) throw new Error(`chunked body cut: ${JSON.stringify(rest)}`);
        if (size === 0) break;
        body += rest.slice(nl + 2, nl + 2 + size);
        rest = rest.slice(nl + 2 + size + 2);
      }
      return { interims, statusLine: statusLine!, headers, body };
    }
    const length = headers.get('content-length');
    const body = length === undefined ? rest : rest.slice(0, Number(length));
    if (length !== undefined && body.length !== Number(length))
      throw new Error(`body cut: ${body.length} of ${length} bytes`);
    return { interims, statusLine: statusLine!, headers, body };
  }
}

/** One request on its own connection, read until the server closes it. */
async function raw(q: Qilin, path: string, version = '1.1', extra = ''): Promise<{ text: string; ex: Exchange }> {
  const { text, closed } = await rawExchange(
    q.port,
    `GET ${path} HTTP/${version}\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`,
    5000,
  );
  if (!closed) throw new Error(`the server did not close after ${JSON.stringify(text)}`);
  return { text, ex: parse(text) };
}

const HINTS = 'HTTP/1.1 103 Early Hints';

function curlVerbose(url: string): Promise<{ stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sv', '--max-time', '10', url], (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`curl failed: ${err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

t.test('fetch app on the node engine: earlyHints() writes 103s before the final response', async (t) => {
  const q = await startQilin(t, ['-w', '1', fixture('early-hints-app.ts')], { engine: 'node' });

  await t.test('two calls, two 103 blocks, then the final response whole', async (t) => {
    const { text, ex } = await raw(q, '/');
    t.ok(text.startsWith(`${HINTS}\r\n`), 'the bytes begin with the 103 status line');
    t.same(
      ex.interims,
      [
        { status: HINTS, fields: [`Link: ${CSS}, ${JS}`, 'x-hint: one'] },
        { status: HINTS, fields: [`Link: ${FONT}`] },
      ],
      'each call is a 103 with its fields: Link values of a list on one line, other fields as given',
    );
    t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
    t.equal(ex.headers.get('x-final'), 'yes');
    t.equal(ex.headers.get('link'), `${CSS}, ${JS}`, 'the final response keeps its own Link');
    t.equal(ex.body, 'page true true', 'both calls returned true');
  });

  await t.test('a Link list in one value goes out whole (node:http alone refuses it)', async (t) => {
    const { ex } = await raw(q, '/list');
    t.same(ex.interims, [{ status: HINTS, fields: [`Link: ${CSS}, ${JS}`] }]);
    t.equal(ex.body, 'true');
  });

  await t.test('curl -v shows the 103 and its Link before the 200', async (t) => {
    const { stdout, stderr } = await curlVerbose(`${q.url}/`);
    const lines = stderr.split(/\r?\n/).filter((l) => l.startsWith('< '));
    const at = (s: string) => lines.findIndex((l) => l.startsWith(s));
    t.ok(at('< HTTP/1.1 103 Early Hints') >= 0, 'curl saw a 103');
    t.ok(at(`< Link: ${CSS}, ${JS}`) > at('< HTTP/1.1 103 Early Hints'), 'with its Link');
    t.ok(at('< HTTP/1.1 200 OK') > at(`< Link: ${FONT}`), 'the 200 after both 103s');
    t.equal(stdout, 'page true true', 'the body as sent');
  });

  await t.test('an HTTP/1.0 client gets no 103, and its response as usual', async (t) => {
    const { text, ex } = await raw(q, '/', '1.0');
    t.notMatch(text, /103 Early Hints/);
    t.same(ex.interims, []);
    t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
    t.equal(ex.body, 'page false false', 'both calls returned false');
  });

  await t.test('CR LF in a value, a name or inside <…> throws a TypeError; nothing goes out', async (t) => {
    for (const path of ['/bad-value', '/bad-name', '/bad-uri']) {
      const { text, ex } = await raw(q, path);
      t.same(ex.interims, [], `${path}: no 103`);
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      t.notMatch(head, /^x-injected/im, `${path}: no injected field`);
      t.notOk(ex.headers.has('x-injected'));
      t.equal(ex.statusLine, 'HTTP/1.1 200 OK', `${path}: the app caught it and answered`);
      t.match(ex.body, /^TypeError: Headers\.append: /, `${path}: a TypeError as Headers throws`);
    }
  });

  await t.test("a Link value node:http's pattern refuses (a quoted string with a space): its TypeError", async (t) => {
    const { ex } = await raw(q, '/quoted');
    t.same(ex.interims, [], 'no 103');
    t.match(ex.body, /^TypeError: The argument 'hints' must be/, "node's own message");
  });

  await t.test('false, and nothing written: no Link, a Request not made by qilin, after the head', async (t) => {
    for (const [path, body] of [
      ['/no-link', 'false'],
      ['/foreign', 'false'],
      ['/late', 'first;late false'],
    ] as const) {
      const { ex } = await raw(q, path);
      t.same(ex.interims, [], `${path}: no 103`);
      t.equal(ex.body, body, `${path}: ${body}`);
    }
  });

  await t.test('a Request made from the one qilin gave the app still reaches its exchange', async (t) => {
    const { ex } = await raw(q, '/rewrapped');
    t.same(ex.interims, [{ status: HINTS, fields: [`Link: ${CSS}`] }]);
    t.equal(ex.body, 'true');
  });

  await t.test('pipelined: a later request’s 103 waits for the earlier response', async (t) => {
    const { text, closed } = await rawExchange(
      q.port,
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      5000,
    );
    t.ok(closed);
    const first = text.indexOf('\r\n\r\nslow');
    t.ok(first > 0, 'the slow response came');
    const a = parse(text.slice(0, first + 8));
    const b = parse(text.slice(first + 8));
    t.same(a.interims, [{ status: HINTS, fields: ['Link: </slow.css>; rel=preload; as=style'] }]);
    t.equal(a.body, 'slow');
    t.same(b.interims, [{ status: HINTS, fields: [`Link: ${CSS}, ${JS}`] }], 'the second 103 after the first 200');
    t.equal(b.body, 'true');
  });
});

t.test('fetch app on the uws engine: earlyHints() returns false, the response is intact', async (t) => {
  const q = await startQilin(t, ['-w', '1', fixture('early-hints-app.ts')], { engine: 'uws' });
  const { text, ex } = await raw(q, '/');
  t.notMatch(text, /103 Early Hints/);
  t.same(ex.interims, []);
  t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
  t.equal(ex.headers.get('x-final'), 'yes');
  t.equal(ex.body, 'page false false');
  t.equal((await raw(q, '/list')).ex.body, 'false');
  await t.test('a bad field still throws the TypeError', async (t) => {
    const { ex } = await raw(q, '/bad-value');
    t.match(ex.body, /^TypeError: Headers\.append: /);
  });
  await q.waitFor(/cannot write a 103 interim response/);
  t.equal(
    q.output.split('\n').filter((l) => l.includes('cannot write a 103 interim response')).length,
    1,
    'said once at debug level, not once a request',
  );
});

for (const engine of ['node', 'uws'] as const) {
  t.test(`Hono: earlyHints(c.req.raw) behind a middleware (${engine})`, async (t) => {
    const q = await startQilin(t, ['-w', '1', fixture('early-hints-hono.ts')], { engine });
    const { ex } = await raw(q, '/');
    if (engine === 'node')
      t.same(ex.interims, [{ status: HINTS, fields: ['Link: </hono.css>; rel=preload; as=style'] }], 'one 103');
    else t.same(ex.interims, [], 'no 103 on uws');
    t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
    t.equal(ex.headers.get('x-middleware'), 'ran', 'the middleware ran after the handler');
    t.match(ex.headers.get('content-type'), /^text\/html/);
    t.equal(ex.body, `<!doctype html><title>hono</title><p>${engine === 'node'}</p>`);
  });
}

t.test('Node-style app: node:http’s own res.writeEarlyHints() through qilin', async (t) => {
  const q = await startQilin(t, ['-w', '1', fixture('node-apps/early-hints.mjs')]);
  await t.test('HTTP/1.1: the 103 as node writes it, then the final response', async (t) => {
    const { text, ex } = await raw(q, '/');
    t.ok(text.startsWith(`${HINTS}\r\n`));
    t.same(ex.interims, [
      {
        status: HINTS,
        fields: ['Link: </node.css>; rel=preload; as=style, </node.js>; rel=preload; as=script', 'x-hint: node'],
      },
    ]);
    t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
    t.equal(ex.headers.get('x-final'), 'yes');
    t.equal(ex.body, 'node page true', "node's callback ran");
  });
  await t.test('HTTP/1.0: no 103 (node alone would send one); the callback still runs', async (t) => {
    const { text, ex } = await raw(q, '/', '1.0');
    t.notMatch(text, /103 Early Hints/);
    t.same(ex.interims, []);
    t.equal(ex.statusLine, 'HTTP/1.1 200 OK');
    t.equal(ex.body, 'node page true');
  });
  await t.test('curl -v', async (t) => {
    const { stdout, stderr } = await curlVerbose(`${q.url}/`);
    t.match(stderr, /< HTTP\/1\.1 103 Early Hints\r?\n< Link: <\/node\.css>/);
    t.equal(stdout, 'node page true');
  });
});
