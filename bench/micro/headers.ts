// Micro-benchmark: what a Hono app with cors() and secureHeaders() does to a response's Headers,
// on the platform's class (undici) and on qilin's light one (lib/http/headers.ts), in one process.
// The sequence: construct from a record (the JSON route's Content-Type), twelve set() calls with the
// names as the middleware writes them, a copy (the re-wrap `new Response(res.body, res)`), a walk
// in sorted order and getSetCookie() (what the writer does). Also the request side: a Headers from
// the raw header lines and two get() calls. Rounds alternate the classes (a shared machine drifts);
// the median and the best round are reported, in nanoseconds per sequence.
// `npm run build && node dist/bench/micro/headers.js [iterations] [rounds]`.
import { LightHeaders, requestHeaders, sentCookies, sortedFields } from '../../lib/http/headers.js';

const Platform = globalThis.Headers;
const Light = LightHeaders as unknown as typeof Headers;

const ITERATIONS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 9);

// secureHeaders()'s defaults and cors()'s Access-Control-Allow-Origin, names as Hono writes them.
const SET: [string, string][] = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
  ['Access-Control-Allow-Origin', '*'],
];

const RAW = [
  'host',
  '127.0.0.1:8000',
  'user-agent',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'accept',
  'application/json, text/plain, */*',
  'accept-language',
  'en-GB,en;q=0.9',
  'accept-encoding',
  'gzip, deflate, br',
  'origin',
  'https://app.example.com',
  'referer',
  'https://app.example.com/users/42',
  'connection',
  'keep-alive',
  'cookie',
  'session=abc123; theme=dark',
  'x-request-id',
  '7f3c2a9e-1b4d-4c8e-9f2a-6d5e4c3b2a19',
];

let sink = 0;

/** The response side, through the public API only (what an app and the platform's writer do). */
function responseSequence(H: typeof Headers): void {
  const h = new H({ 'Content-Type': 'application/json' });
  for (const [name, value] of SET) h.set(name, value);
  const copy = new H(h);
  for (const [name, value] of copy) sink += name.length + value.length;
  sink += copy.getSetCookie().length;
}

/** The same, the walk done as qilin's writer does it for a light Headers (no tuples, no copy). */
function responseSequenceWriterView(): void {
  const h = new Light({ 'Content-Type': 'application/json' });
  for (const [name, value] of SET) h.set(name, value);
  const copy = new Light(h);
  const s = sortedFields(copy)!;
  for (let i = 0; i < s.length; i += 2) sink += s[i]!.length + s[i + 1]!.length;
  sink += sentCookies(copy).length;
}

/** The request side: a Headers of the raw lines (undici: append each), then two reads. */
function requestSequence(light: boolean): void {
  let h: Headers;
  if (light) h = requestHeaders(RAW);
  else {
    h = new Platform();
    for (let i = 0; i < RAW.length; i += 2) h.append(RAW[i]!, RAW[i + 1]!);
  }
  sink += (h.get('accept')?.length ?? 0) + (h.get('Origin')?.length ?? 0);
}

const cases: [string, () => void][] = [
  ['response: undici', () => responseSequence(Platform)],
  ['response: light', () => responseSequence(Light)],
  ['response: light, writer view', responseSequenceWriterView],
  ['request: undici', () => requestSequence(false)],
  ['request: light', () => requestSequence(true)],
];

function run(fn: () => void, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n;
}

for (const [, fn] of cases) run(fn, ITERATIONS / 4); // warm-up: each case optimised before it is timed
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of cases) times.get(name)!.push(run(fn, ITERATIONS));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`node ${process.version}, undici ${process.versions.undici}; ${ITERATIONS} iterations x ${ROUNDS} rounds`);
console.log('case                            median ns   best ns   vs undici (median)');
const base: Record<string, number> = {};
for (const [name, xs] of times) {
  const side = name.split(':')[0]!;
  const m = median(xs);
  if (name.endsWith('undici')) base[side] = m;
  const ratio = base[side] ? `${(base[side] / m).toFixed(2)}x faster` : '';
  console.log(
    `${name.padEnd(32)}${m.toFixed(0).padStart(9)}${Math.min(...xs)
      .toFixed(0)
      .padStart(10)}   ${name.endsWith('undici') ? '' : ratio}`,
  );
}
if (sink === 42) console.log(''); // keeps the work observable
