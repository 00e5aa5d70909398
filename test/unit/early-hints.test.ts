// 103 Early Hints without a server: the fields earlyHints() takes and checks (lib/http/early-hints.ts),
// a Link list cut into its link-values, how the public function finds the exchange from a request,
// when the exchange refuses (lib/http/exchange.ts), and what the node engine's Wire hands node:http
// (lib/engines/node/wire.ts), over stand-ins for the connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import t from 'tap';
import { NodeWire } from '../../lib/engines/node/wire.js';
import type { BindContext, Wire } from '../../lib/http/contracts.js';
import { earlyHints, hintFields, linkValues, type HintFields } from '../../lib/http/early-hints.js';
import { Exchange } from '../../lib/http/exchange.js';
import { installLightGlobals } from '../../lib/http/globals.js';
import { QilinRequest, type RequestOwner } from '../../lib/http/request.js';

// As a worker does before it loads the app: `new Request(served)` takes a served request.
installLightGlobals();

const CSS = '</app.css>; rel=preload; as=style';
const JS = '</app.js>; rel=preload; as=script';

/** The TypeError the platform's Headers throws for this field, or null when it takes it. */
function platformVerdict(name: string, value: string): string | null {
  try {
    new Headers([[name, value]]);
    return null;
  } catch (err) {
    return (err as Error).name;
  }
}

t.test('hintFields: every shape of HeadersInit, names lower-cased, values in order', async (t) => {
  const want = { link: [CSS, JS], 'x-hint': ['one'] };
  t.same({ ...hintFields({ Link: [CSS, JS], 'X-Hint': 'one' }) }, want, 'a record with a list');
  t.same(
    {
      ...hintFields([
        ['link', CSS],
        ['LINK', JS],
        ['x-hint', 'one'],
      ]),
    },
    want,
    'pairs',
  );
  t.same(
    { ...hintFields(new Map([['link', CSS]]) as unknown as HeadersInit) },
    { link: [CSS] },
    'any iterable of pairs',
  );
  t.same(
    { ...hintFields(new Set([new Set(['link', CSS])]) as unknown as HeadersInit) },
    { link: [CSS] },
    'pairs that are iterables',
  );
  t.same(
    {
      ...hintFields(
        new Headers([
          ['link', CSS],
          ['link', JS],
        ]),
      ),
    },
    { link: [`${CSS}, ${JS}`] },
    'a Headers (which joins repeated fields)',
  );
  t.same({ ...hintFields({ link: `  ${CSS}\t` }) }, { link: [CSS] }, 'edge whitespace trimmed, as Headers does');
  t.same({ ...hintFields({ link: '', 'x-empty': [' '] }) }, {}, 'empty values say nothing');
  t.equal(Object.getPrototypeOf(hintFields({})), null, 'no prototype');
  t.same(
    { ...hintFields(Object.create({ link: CSS }) as Record<string, string>) },
    {},
    'inherited fields are not read',
  );
  const proto = hintFields([['__proto__', 'v']]);
  t.same(proto['__proto__'], ['v'], '__proto__ is a name like any other');
});

t.test('hintFields refuses what Headers refuses, with a TypeError', async (t) => {
  const cases: [string, string][] = [
    ['link', '</a>; rel=preload\r\nx-injected: 1'],
    ['link', '</a\r\nx-injected: 1>; rel=preload'],
    ['link', '</a>\n'],
    ['link', '</a>\0'],
    ['link', '</\u2603>; rel=preload'],
    ['x-bad\r\nx-injected', 'v'],
    ['bad name', 'v'],
    ['', 'v'],
  ];
  for (const [name, value] of cases) {
    const platform = platformVerdict(name, value);
    let ours: string | null = null;
    try {
      hintFields([[name, value]]);
    } catch (err) {
      ours = (err as Error).name;
    }
    // '</a>\n' is trimmed by both: taken.
    t.equal(ours, platform, `${JSON.stringify([name, value])}: as Headers (${platform ?? 'taken'})`);
  }
  t.throws(() => hintFields('link' as unknown as Record<string, string>), TypeError, 'a string is no init');
  t.throws(() => hintFields(null as unknown as Record<string, string>), TypeError);
  t.throws(() => hintFields([['link']] as unknown as [string, string][]), TypeError, 'a pair of one');
});

t.test('linkValues: a Link list cut at the commas between link-values only', async (t) => {
  t.same(linkValues([`${CSS}, ${JS}`]), [CSS, JS]);
  t.same(linkValues([CSS, JS]), [CSS, JS], 'values already apart');
  t.same(linkValues(['</a,b>; rel=preload']), ['</a,b>; rel=preload'], 'a comma inside <…> stays');
  t.same(
    linkValues(['</a>; title="x, y", </b>; title="q\\"r, s"']),
    ['</a>; title="x, y"', '</b>; title="q\\"r, s"'],
    'a comma in a quoted string (escapes too) stays',
  );
  t.same(linkValues([' , </a>,,  ']), ['</a>'], 'empty pieces dropped');
});

/** A request over a stand-in owner that records earlyHints calls. */
function servedRequest(answer: boolean | undefined): { request: Request; calls: HintFields[] } {
  const calls: HintFields[] = [];
  const owner: RequestOwner & { earlyHints?(f: HintFields): boolean } = {
    body: null,
    context: { scheme: 'http' },
    target: '/',
    rawHeaders: [],
    signal: () => new AbortController().signal,
  };
  if (answer !== undefined)
    owner.earlyHints = (f) => {
      calls.push(f);
      return answer;
    };
  return { request: new QilinRequest('GET', 'x', owner) as unknown as Request, calls };
}

t.test('earlyHints() finds the exchange from the request qilin made, or one made from it', async (t) => {
  const { request, calls } = servedRequest(true);
  t.equal(earlyHints(request, { link: CSS }), true, 'what the exchange answers');
  t.same({ ...calls[0] }, { link: [CSS] }, 'the checked fields');
  t.equal(earlyHints(new Request(request), { link: JS }), true, 'a platform Request made from it');
  t.equal(calls.length, 2);
  t.equal(earlyHints(request, { 'x-hint': 'no link' }), false, 'no Link: false, the exchange not asked');
  t.equal(calls.length, 2);
  t.equal(servedRequest(false).calls.length, 0);
  t.equal(earlyHints(servedRequest(false).request, { link: CSS }), false, 'the exchange says no');
  t.equal(earlyHints(servedRequest(undefined).request, { link: CSS }), false, 'an owner that cannot');
});

t.test('earlyHints() on anything qilin did not make: false, never a throw', async (t) => {
  t.equal(earlyHints(new Request('http://example.com/'), { link: CSS }), false, 'a platform Request');
  t.equal(earlyHints({} as Request, { link: CSS }), false, 'an object');
  t.equal(earlyHints(null as unknown as Request, { link: CSS }), false, 'null');
  t.throws(
    () => earlyHints(new Request('http://example.com/'), { link: 'a\r\nb' }),
    TypeError,
    'a bad field throws whatever the request',
  );
});

/** A Wire that records what reaches it; `interim` false: an engine without writeEarlyHints. */
function fakeWire(interim: boolean): { wire: Wire; written: HintFields[] } {
  const written: HintFields[] = [];
  const wire = {
    cork: (fn: () => void) => fn(),
    getRemoteAddressAsText: () => '127.0.0.1',
  } as unknown as Wire;
  if (interim) wire.writeEarlyHints = (h) => void written.push(h as HintFields);
  return { wire, written };
}

function exchange(wire: Wire, notes: string[]): Exchange {
  const context = {
    requestLog: null,
    limits: { body: 0 },
    scheme: 'http',
    note: (_level: string, msg: string) => notes.push(msg),
  } as unknown as BindContext;
  return new Exchange(wire, context, 'GET', 'x', '/', [], null);
}

t.test('Exchange.earlyHints: written while the final response has not begun', async (t) => {
  const notes: string[] = [];
  const fields = hintFields({ link: CSS });
  const { wire, written } = fakeWire(true);
  const ex = exchange(wire, notes);
  t.equal(ex.earlyHints(fields), true);
  t.equal(ex.earlyHints(fields), true, 'again: several 103s');
  t.equal(written.length, 2);
  ex.started = true;
  t.equal(ex.earlyHints(fields), false, 'not once the response has begun');
  const old = exchange(fakeWire(true).wire, notes);
  old.protocol = 'HTTP/1.0';
  t.equal(old.earlyHints(fields), false, 'not to an HTTP/1.0 client');
  const gone = exchange(fakeWire(true).wire, notes);
  gone.aborted = true;
  t.equal(gone.earlyHints(fields), false, 'not once the client left');
  const upgrade = exchange(fakeWire(true).wire, notes);
  upgrade.upgrader = {} as Exchange['upgrader'];
  t.equal(upgrade.earlyHints(fields), false, 'not on a WebSocket upgrade');
  t.same(notes, [], 'nothing logged');
});

t.test('Exchange.earlyHints on an engine that cannot: false, and one debug line a worker', async (t) => {
  const notes: string[] = [];
  const fields = hintFields({ link: CSS });
  t.equal(exchange(fakeWire(false).wire, notes).earlyHints(fields), false);
  t.equal(exchange(fakeWire(false).wire, notes).earlyHints(fields), false);
  t.equal(notes.length, 1, 'said once');
  t.match(notes[0], /cannot write a 103 interim response/);
});

/** A NodeWire over a stand-in ServerResponse that records writeEarlyHints calls. */
function nodeWire(): { wire: NodeWire; calls: Record<string, string | string[]>[] } {
  const calls: Record<string, string | string[]>[] = [];
  const res = { writeEarlyHints: (h: Record<string, string | string[]>) => void calls.push({ ...h }) };
  return {
    wire: new NodeWire({} as IncomingMessage, res as unknown as ServerResponse),
    calls,
  };
}

t.test("NodeWire.writeEarlyHints: what node:http's writeEarlyHints is given", async (t) => {
  const { wire, calls } = nodeWire();
  wire.writeEarlyHints({ link: [`${CSS}, ${JS}`, '</f.woff2>; rel=preload'], 'x-hint': ['a', 'b'] });
  t.same(calls, [{ link: [CSS, JS, '</f.woff2>; rel=preload'], 'x-hint': 'a, b' }], 'link-values apart, others joined');
  wire.writeEarlyHints({ 'x-hint': 'alone' });
  t.equal(calls.length, 1, 'no Link: node would write nothing, nothing is asked of it');
  t.throws(() => wire.writeEarlyHints({ link: CSS, 'x-a': 'v\r\nx-injected: 1' }), TypeError, 'a bad value');
  t.throws(() => wire.writeEarlyHints({ link: '</a\r\nx: y>' }), TypeError, 'CR LF inside <…>');
  t.throws(() => wire.writeEarlyHints({ link: CSS, 'x\r\ny': 'v' }), TypeError, 'a bad name');
  t.equal(calls.length, 1, 'nothing given to node for any of them');
});
