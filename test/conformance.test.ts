// Gunicorn's HTTP/1 request corpus against a real worker, over raw sockets.
// - The worker survives every case (same pid before and after, no restart).
// - Every request that reaches the app arrives as the corpus says (method, target, headers, body).
// - What each case gets (statuses, a close, or no answer) is pinned per uWS build in a snapshot, so any
//   change in the engine's answers shows up; README "Where qilin differs" explains the gaps.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { loadUws } from '../lib/engines/uws/load.js';
import { ROOT, fixture, request, startQilin } from './helpers.js';

interface Case {
  name: string;
  raw_base64: string;
  settings: Record<string, unknown>;
  expect: {
    requests?: { method: string; uri: string; version: string; headers: [string, string][]; body_base64: string }[];
    error?: string;
    status?: number | null;
  };
}

const corpusPath = path.resolve(ROOT, '../shared/conformance/gunicorn-http1-requests.json');
let corpus: { cases: Case[] } | null = null;
try { corpus = JSON.parse(readFileSync(corpusPath, 'utf8')); } catch { /* checked below */ }

/** Send the bytes, half-close, and collect what comes back within `ms`. */
function exchange(port: number, raw: Buffer, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => { s.destroy(); resolve({ text, closed: false }); }, ms);
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
    s.write(raw);
  });
}

/** Split a stream of HTTP/1.1 responses into (status, body) pairs. */
function responses(text: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let rest = text;
  for (;;) {
    const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([^]*?)\r\n\r\n/.exec(rest);
    if (!m) break;
    const len = Number(/content-length: (\d+)/i.exec(m[2]!)?.[1] ?? 0);
    const start = m[0].length;
    out.push({ status: Number(m[1]), body: rest.slice(start, start + len) });
    rest = rest.slice(start + len);
  }
  return out;
}

t.test('Gunicorn HTTP/1 corpus', { skip: corpus ? false : `corpus not found at ${corpusPath}` }, async (t) => {
  const q = await startQilin(t, [fixture('echo-app.ts')]);
  const pid = (await request(q.url + '/')).body && JSON.parse((await request(q.url + '/')).body).pid;
  const cases = corpus!.cases;
  const results = await Promise.all(cases.map((c) => exchange(q.port, Buffer.from(c.raw_base64, 'base64'), 2500)));

  const outcomes: Record<string, string> = {};
  let served = 0;
  cases.forEach((c, i) => {
    const { text, closed } = results[i]!;
    const got = responses(text);
    outcomes[c.name] = `${got.map((r) => r.status).join(',') || '-'} ${closed ? 'closed' : 'held'}`;
    // A request the app saw must be the request the corpus describes.
    if (c.expect.requests) {
      got.forEach((r, k) => {
        const want = c.expect.requests![k];
        if (r.status !== 200 || !want) return;
        served++;
        const seen = JSON.parse(r.body);
        t.equal(seen.method, want.method, `${c.name}: method`);
        t.equal(seen.target, want.uri, `${c.name}: target`);
        t.equal(seen.body, want.body_base64, `${c.name}: body`);
        const names = (seen.headers as string[]).filter((_, j) => j % 2 === 0).map((h) => h.toUpperCase());
        for (const [name] of want.headers) {
          if (name !== 'TRANSFER-ENCODING' && name !== 'CONTENT-LENGTH') t.ok(names.includes(name), `${c.name}: header ${name}`);
        }
      });
    } else {
      t.notMatch(outcomes[c.name]!, /^5/, `${c.name}: no 5xx for a bad request`);
    }
  });
  t.ok(served > 0, `${served} corpus requests reached the app`);

  const after = JSON.parse((await request(q.url + '/')).body).pid;
  t.equal(after, pid, 'the same worker serves after every case: client input never crashed it');
  t.notMatch(q.output, /was sent|exited with code/, 'no worker died');
  // Outcomes are pinned for the build they were recorded with; another build is reported, not judged.
  const { build, version } = loadUws();
  if (version === '20.30.0') t.matchSnapshot(outcomes, `outcomes with ${build}`);
  else t.comment(`outcomes with ${build} (no snapshot recorded for it):\n${JSON.stringify(outcomes, null, 1)}`);
});
