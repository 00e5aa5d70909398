// Gunicorn's HTTP/1 request corpus (vendored in test/e2e/conformance/) against real workers of both
// engines, over raw sockets.
// - Cases run with their Gunicorn settings as qilin flags (one server per distinct combination);
//   cases needing a setting qilin does not have are skipped and listed.
// - The worker survives every case (same pid before and after, no worker died).
// - node engine: every case gets Gunicorn's outcome, or is in NODE_DIFFERENCES with the reason;
//   that table must stay exact (a listed case that now matches fails too).
// - uws engine: every request that reaches the app arrives as the corpus says (but for UWS_MISREADS);
//   what each case gets is pinned per uWS build in a snapshot (docs/differences.md).
// - Node engine's Host-less differences are also run with a Host added, and must then match.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadUws } from '../../lib/engines/uws/load.js';
import { ROOT, fixture, startQilin } from '../helpers.js';

interface Wanted {
  method: string;
  uri: string;
  version: string;
  headers: [string, string][];
  body_base64: string;
}
interface Case {
  name: string;
  raw_base64: string;
  settings: Record<string, unknown>;
  expect: { requests?: Wanted[]; error?: string; status?: number | null };
}

/** Vendored with its licence and origin (test/e2e/conformance/README.md): a missing or broken corpus fails the suite. */
const corpusPath = path.join(ROOT, 'test/e2e/conformance/gunicorn-http1-requests.json');
let corpus: { cases: Case[] } | null = null;
let corpusError = '';
try {
  corpus = JSON.parse(readFileSync(corpusPath, 'utf8'));
} catch (err) {
  corpusError = (err as Error).message;
}

/** Gunicorn settings qilin has, and the flag for each. */
const FLAGS: Record<string, string> = {
  limit_request_line: '--limit-request-line',
  limit_request_fields: '--limit-request-fields',
  limit_request_field_size: '--limit-request-field-size',
  forwarded_allow_ips: '--forwarded-allow-ips',
  proxy_protocol: '--proxy-protocol',
};

/** Settings only the node engine serves (the uws engine refuses them at start): its cases run there only. */
const NODE_ONLY = new Set(['proxy_protocol']);

/**
 * Gunicorn clamps limit_request_line to 8190 (MAX_REQUEST_LINE); qilin refuses a larger value at start.
 * The corpus gives proxy_protocol as Gunicorn's old boolean (true is `auto`).
 */
const flagValue = (name: string, v: unknown) =>
  name === 'limit_request_line' ? Math.min(Number(v), 8190) : v === true ? 'auto' : v === false ? 'off' : v;

const NO_HOST =
  'an HTTP/1.1 request without Host: RFC 9112 3.2 requires 400 and qilin says so (Gunicorn serves it); ' +
  "sent again with a Host, the case gets Gunicorn's outcome (checked below)";
const CHUNK_FRAMING =
  'bad chunked framing, found by llhttp while the body arrives and before the app answers: ' +
  "400 and a closed connection, the app's body read fails (Gunicorn raises inside the app's read and closes without an answer)";
const GZIP =
  'a coding before chunked: qilin decodes only chunked, and the app would get a still-encoded body with ' +
  'nothing telling it so; 501 (RFC 9112 6.1, a coding the server does not understand). Gunicorn passes the encoded body on';
const CONNECT =
  'CONNECT asks for a tunnel: node:http hands it to its tunnel event and a fetch-style app cannot open one, ' +
  'so qilin answers 501 and closes (Gunicorn passes it to the WSGI app)';

/**
 * Cases where the node engine does not give Gunicorn's outcome: what it gives (statuses, then
 * `closed` or `held`; `!` = the app saw the request otherwise than Gunicorn's app does) and why.
 * `withHost`: the only difference is the missing Host; the case is also run with one added.
 */
const NODE_DIFFERENCES: Record<string, { got: string; why: string; withHost?: true }> = {
  'valid/004': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/005': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/006': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/007': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/009': {
    got: '400 closed',
    why: 'Transfer-Encoding (identity) with Content-Length, the shape of request smuggling: refused (RFC 9112 6.3 allows it); also no Host',
  },
  'valid/010': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/011': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/012': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/013': {
    got: '400 closed',
    why: 'chunk extensions with a space after `;` (`5; some`): llhttp refuses them (RFC 9112 7.1.1 allows that whitespace); also no Host',
  },
  'valid/014': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/018': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/021': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/022': { got: '200,400 closed', why: `the second request is ${NO_HOST}`, withHost: true },
  'valid/023': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/029': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/030': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/100': { got: '400 closed', why: NO_HOST, withHost: true },
  'valid/pp_02': { got: '400 closed', why: `after its PROXY line, ${NO_HOST}`, withHost: true },
  'valid/025': { got: '501 closed', why: GZIP },
  'valid/025_line': { got: '501 closed', why: GZIP },
  'valid/rfc9112_smuggle_gzip_chunked_01': { got: '501 closed', why: GZIP },
  'valid/027': {
    got: '400 closed',
    why: 'raw non-ASCII bytes in the request target: llhttp refuses them (a URI is ASCII, RFC 3986); Gunicorn reads them as latin-1',
  },
  'valid/031': {
    got: '400 closed',
    why: 'method -BLARGH: llhttp parses only the methods it knows (Gunicorn takes any token); also no Host',
  },
  'valid/040': {
    got: '200! closed',
    why:
      'Transfer_Encoding and Content_Length reach the app as fields of their own; Gunicorn drops names with `_` ' +
      "because WSGI's environ gives `_` and `-` one key, which a fetch Headers does not",
  },
  'valid/099': {
    got: '- closed at EOF',
    why:
      "Content-Length 17914 but 8599 bytes before EOF: an incomplete message (RFC 9112 8), the app's body read fails and " +
      'the connection closes; Gunicorn gives the app the short body',
  },
  'valid/rfc9112_target_absolute_userinfo_01': {
    got: '400 closed',
    why: 'userinfo (user:pass@) in an absolute-form target: RFC 9110 4.2.4 says to treat it as an error (it hides the real authority)',
  },
  'valid/rfc9112_target_authority_connect_01': { got: '501 closed', why: CONNECT },
  'valid/rfc9112_target_authority_ipv6_01': { got: '501 closed', why: CONNECT },
  'invalid/chunked_01': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_09': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_10': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_11': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_12': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_13': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/chunked_14': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/rfc9112_chunked_size_minus_sign_01': { got: '400 closed', why: CHUNK_FRAMING },
  'invalid/rfc9112_chunked_size_plus_sign_01': { got: '400 closed', why: CHUNK_FRAMING },
};

/** Requests uWS 20.30 hands the app otherwise than the corpus describes (known, not fixable in JS). */
const UWS_MISREADS: Record<string, string> = {
  'valid/rfc9110_field_value_obs_text_01':
    'uWS drops the non-ASCII bytes of a header value before JS sees it ("café" arrives as "caf")',
};

/**
 * The case with `Host: h` after the request line of each HTTP/1.1 request it describes that has
 * none, and the requests Gunicorn's app would then see.
 */
function withHost(c: Case): Case {
  let raw = Buffer.from(c.raw_base64, 'base64').toString('latin1');
  let at = 0;
  const requests = c.expect.requests!.map((r) => {
    if (r.version !== '1.1' || r.headers.some(([n]) => n === 'HOST')) return r;
    const line = `${r.method} ${r.uri} HTTP/1.1\r\n`;
    const i = raw.indexOf(line, at);
    if (i < 0) throw new Error(`${c.name}: request line ${JSON.stringify(line)} not found`);
    at = i + line.length;
    raw = raw.slice(0, at) + 'Host: h\r\n' + raw.slice(at);
    return { ...r, headers: [['HOST', 'h'], ...r.headers] as [string, string][] };
  });
  return {
    ...c,
    name: `${c.name}+host`,
    raw_base64: Buffer.from(raw, 'latin1').toString('base64'),
    expect: { requests },
  };
}

/**
 * Send the bytes; after `holdMs` without a close, half-close (the corpus describes a whole input,
 * then EOF); collect what comes back until the server closes or `ms` more pass.
 */
function exchange(
  port: number,
  raw: Buffer,
  holdMs = 1000,
  ms = 1500,
): Promise<{ text: string; closed: 'before EOF' | 'at EOF' | null }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let eof = false;
    let timer = setTimeout(() => {
      eof = true;
      s.end();
      timer = setTimeout(() => {
        s.destroy();
        resolve({ text, closed: null });
      }, ms);
    }, holdMs);
    s.on('data', (d) => {
      text += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: eof ? 'at EOF' : 'before EOF' });
    });
    s.write(raw);
  });
}

/** Split a stream of responses into (status, body) pairs. */
function responses(text: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let rest = text;
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})[^\r]*\r\n([^]*?)\r\n\r\n/.exec(rest);
    if (!m) break;
    const len = Number(/content-length: (\d+)/i.exec(m[2]!)?.[1] ?? 0);
    const start = m[0].length;
    out.push({ status: Number(m[1]), body: Buffer.from(rest.slice(start, start + len), 'latin1').toString() });
    rest = rest.slice(start + len);
  }
  return out;
}

/**
 * The target a fetch-style app sees for a corpus target: the path and query of the URL (no
 * fragment; non-ASCII bytes percent-encoded as UTF-8; absolute-form reduced to its path; `*` as `/*`).
 */
function appTarget(uri: string): string {
  if (uri === '*') return '/*';
  const utf8 = Buffer.from(uri, 'latin1').toString();
  const u = new URL(utf8.startsWith('/') ? `http://h${utf8}` : utf8); // `//x` is a path here, not a host
  return u.pathname + u.search;
}

/** How the app's view of a request differs from Gunicorn's, or null when it does not. */
function mismatch(
  seen: { method: string; target: string; headers: string[]; body: string },
  want: Wanted,
): string | null {
  if (seen.method !== want.method) return `method ${seen.method} != ${want.method}`;
  if (seen.target !== appTarget(want.uri)) return `target ${seen.target} != ${appTarget(want.uri)}`;
  if (seen.body !== want.body_base64) return `body ${seen.body} != ${want.body_base64}`;
  const got: string[] = [];
  for (let j = 0; j < seen.headers.length; j += 2)
    got.push(`${seen.headers[j]!.toUpperCase()}: ${seen.headers[j + 1]}`);
  const wanted = want.headers.map(([n, v]) => `${n}: ${v}`);
  return got.join('\n') === wanted.join('\n') ? null : `headers ${JSON.stringify(got)} != ${JSON.stringify(wanted)}`;
}

interface Outcome {
  /**
   * `400 closed`, `- closed at EOF` (no answer, closed after the client's EOF), `200 held` (still open
   * after it); `!` marks a request the app saw otherwise.
   */
  text: string;
  /** Gunicorn's outcome. */
  matches: boolean;
  /** Requests that reached the app as described. */
  served: number;
  /** Invalid case refused (any 4xx, or closed without answer). */
  refused: boolean;
  /** Invalid case refused with Gunicorn's status (or closed unanswered where Gunicorn is). */
  gunicornStatus: boolean;
  /** No answer, and the connection was kept until the client's EOF or later. */
  held: boolean;
  why: string[];
}

function judge(c: Case, text: string, closedWhen: 'before EOF' | 'at EOF' | null): Outcome {
  const closed = closedWhen !== null;
  const got = responses(text);
  const why: string[] = [];
  let served = 0;
  let bad = false;
  if (c.expect.requests) {
    got.forEach((r, k) => {
      const want = c.expect.requests![k];
      if (r.status !== 200 || !want) return;
      const diff = mismatch(JSON.parse(r.body), want);
      if (diff === null) served++;
      else {
        bad = true;
        why.push(diff);
      }
    });
  }
  const statuses = got.map((r) => r.status).join(',') || '-';
  const out: Outcome = {
    text: `${statuses}${bad ? '!' : ''} ${closedWhen === 'before EOF' ? 'closed' : closedWhen === 'at EOF' ? 'closed at EOF' : 'held'}`,
    matches: false,
    served,
    refused: false,
    gunicornStatus: false,
    held: got.length === 0 && closedWhen !== 'before EOF',
    why,
  };
  if (c.expect.requests) {
    out.matches = served === c.expect.requests.length && got.length === served;
  } else {
    const status = c.expect.status ?? null;
    out.refused = closed && got.every((r) => r.status >= 400 && r.status < 500);
    out.gunicornStatus = closed && (status === null ? got.length === 0 : got.length === 1 && got[0]!.status === status);
    out.matches = out.gunicornStatus;
  }
  return out;
}

const cases = corpus?.cases ?? [];
const unsupported = (c: Case) => Object.keys(c.settings ?? {}).filter((k) => !(k in FLAGS));
const skipped = cases.filter((c) => unsupported(c).length > 0);
const runnable = cases.filter((c) => unsupported(c).length === 0);
const runnableOnUws = runnable.filter((c) => !Object.keys(c.settings ?? {}).some((k) => NODE_ONLY.has(k)));

/** The pid of the worker answering a request small enough for the tightest limits in the corpus. */
async function pidOf(port: number): Promise<number> {
  const { text } = await exchange(port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), 200, 500);
  return JSON.parse(responses(text)[0]?.body ?? 'null')?.pid;
}

/** Run the cases on `engine`, one server per distinct settings combination. */
async function runCorpus(t: Test, engine: 'uws' | 'node', list: Case[]): Promise<Map<string, Outcome>> {
  const groups = new Map<string, { flags: string[]; cases: Case[] }>();
  for (const c of list) {
    const flags = Object.entries(c.settings ?? {}).flatMap(([k, v]) => [FLAGS[k]!, String(flagValue(k, v))]);
    const key = flags.join(' ');
    if (!groups.has(key)) groups.set(key, { flags, cases: [] });
    groups.get(key)!.cases.push(c);
  }
  const outcomes = new Map<string, Outcome>();
  // Two servers at a time: booting all of them at once can starve a small machine.
  const queue = [...groups];
  const next = async (): Promise<void> => {
    const item = queue.shift();
    if (!item) return;
    await runGroup(item);
    await next();
  };
  const runGroup = async ([key, g]: [string, { flags: string[]; cases: Case[] }]) => {
    const q = await startQilin(t, ['--engine', engine, ...g.flags, fixture('echo-app.ts')]);
    const pid = await pidOf(q.port);
    const results = await Promise.all(g.cases.map((c) => exchange(q.port, Buffer.from(c.raw_base64, 'base64'))));
    g.cases.forEach((c, i) => outcomes.set(c.name, judge(c, results[i]!.text, results[i]!.closed)));
    const after = await pidOf(q.port);
    t.equal(after, pid, `${engine} [${key || 'default settings'}]: the same worker serves after every case`);
    t.notMatch(q.output, /was sent|exited with code/, `${engine} [${key || 'default settings'}]: no worker died`);
    await q.stop('SIGQUIT'); // done with it: free the machine for the next one
  };
  await Promise.all([next(), next()]);
  return new Map(list.map((c) => [c.name, outcomes.get(c.name)!]));
}

function summary(engine: string, outcomes: Map<string, Outcome>): string {
  const all = [...outcomes.values()];
  const count = (f: (o: Outcome) => boolean) => all.filter(f).length;
  const list = runnable.filter((c) => outcomes.has(c.name));
  const valid = list.filter((c) => c.expect.requests).map((c) => outcomes.get(c.name)!);
  const invalid = list.filter((c) => !c.expect.requests).map((c) => outcomes.get(c.name)!);
  const nValid = valid.length;
  const nInvalid = invalid.length;
  return (
    `${engine}: ${count((o) => o.matches)}/${list.length} cases run (${cases.length} in the corpus) as Gunicorn; ` +
    `valid served as described ${valid.filter((o) => o.matches).length}/${nValid} (of ${cases.filter((c) => c.expect.requests).length}) ` +
    `(${valid.filter((o) => o.served > 0).length} reached the app, ${valid.filter((o) => o.why.length > 0).length} seen otherwise); ` +
    `invalid refused (not served, closed) ${invalid.filter((o) => o.refused).length}/${nInvalid} (of ${cases.filter((c) => !c.expect.requests).length}), ` +
    `with Gunicorn's status ${invalid.filter((o) => o.gunicornStatus).length}/${nInvalid}; ` +
    `held without an answer until the client's EOF ${count((o) => o.held)}; skipped ${skipped.length}`
  );
}

t.test('Gunicorn HTTP/1 corpus', async (t) => {
  if (corpus === null) {
    t.fail(`the corpus cannot be read from ${corpusPath}: ${corpusError}`);
    return;
  }
  t.equal(cases.length, 137, 'all 137 cases of the corpus');
  t.comment(
    `skipped on both engines (settings qilin does not have): ${skipped.map((c) => `${c.name} (${unsupported(c).join(', ')})`).join('; ')}`,
  );
  t.ok(runnable.length > 0 && runnable.every((c) => c.expect.requests || c.expect.error), 'the corpus has cases');

  t.test('node engine', async (t) => {
    const hosted = runnable.filter((c) => NODE_DIFFERENCES[c.name]?.withHost).map(withHost);
    const outcomes = await runCorpus(t, 'node', [...runnable, ...hosted]);
    const differing: Record<string, string> = {};
    for (const c of runnable) {
      const o = outcomes.get(c.name)!;
      if (!o.matches) differing[c.name] = o.text + (o.why.length ? ` (${o.why.join('; ')})` : '');
    }
    t.same(
      Object.keys(differing).sort(),
      Object.keys(NODE_DIFFERENCES).sort(),
      'cases that differ from Gunicorn are exactly the listed ones',
      { differing },
    );
    for (const [name, d] of Object.entries(NODE_DIFFERENCES)) {
      const o = outcomes.get(name);
      if (o && !o.matches) t.equal(o.text, d.got, `${name}: ${d.why}`);
    }
    for (const c of hosted) {
      const o = outcomes.get(c.name)!;
      t.ok(o.matches, `${c.name}: with a Host the case gets Gunicorn's outcome`, { got: o.text, why: o.why });
    }
    t.comment(
      summary('node', new Map(runnable.map((c) => [c.name, outcomes.get(c.name)!]))) +
        `; with a Host added ${hosted.filter((c) => outcomes.get(c.name)!.matches).length}/${hosted.length} of the Host-less cases get Gunicorn's outcome`,
    );
  });

  t.test('uws engine', async (t) => {
    t.comment(
      `node engine only: ${runnable
        .filter((c) => !runnableOnUws.includes(c))
        .map((c) => c.name)
        .join(', ')}`,
    );
    const outcomes = await runCorpus(t, 'uws', runnableOnUws);
    let served = 0;
    const misread = [...outcomes].filter(([, o]) => o.why.length > 0).map(([name]) => name);
    // A request the app saw must be the request the corpus describes, but for the known misreads.
    t.same(
      misread.sort(),
      Object.keys(UWS_MISREADS).sort(),
      'requests the app saw otherwise are exactly the listed ones',
      { why: Object.fromEntries(misread.map((n) => [n, outcomes.get(n)!.why])) },
    );
    for (const [name, o] of outcomes) {
      served += o.served;
      if (!runnableOnUws.find((c) => c.name === name)!.expect.requests)
        t.notMatch(o.text, /^5/, `${name}: no 5xx for a bad request`);
    }
    t.ok(served > 0, `${served} corpus requests reached the app`);
    t.comment(summary('uws', outcomes));
    // Outcomes are pinned for the build they were recorded with; another build is reported, not judged.
    const texts = Object.fromEntries([...outcomes].map(([name, o]) => [name, o.text]));
    const { build, version } = loadUws();
    if (version === '20.30.0') t.matchSnapshot(texts, `outcomes with ${build}`);
    else t.comment(`outcomes with ${build} (no snapshot recorded for it):\n${JSON.stringify(texts, null, 1)}`);
  });
});
