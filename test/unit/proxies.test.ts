// What a front-end says about a connection or a request. Headers (lib/http/forwarded.ts):
// forwarded_allow_ips as Gunicorn reads it, secure_scheme_headers as Gunicorn applies them (exact values,
// a contradiction is 400), the client address qilin takes from X-Forwarded-For / Forwarded (docs/deploy.md,
// "Behind a proxy or a load balancer"), peer addresses as people read them (lib/http/address.ts). The
// PROXY protocol (HAProxy's v1 text and v2 binary, lib/engines/node/proxy-protocol.ts): parsed from bytes
// as they arrive, bad input refused with a reason; then the reader on real loopback connections: the
// client it names becomes the socket's peer, the bytes after it reach HTTP, and a header from a peer not
// in proxy_allow_ips is refused.
import net from 'node:net';
import t, { type Test } from 'tap';
import { ConfigError, defaultSettings, type Settings } from '../../lib/config/settings.js';
import { parseProxyHeader, readProxyHeader, socketPeer } from '../../lib/engines/node/proxy-protocol.js';
import { formatPeerAddress } from '../../lib/http/address.js';
import { allows, parseAllowList } from '../../lib/config/allow-list.js';
import { applyForwarded, forwardedPolicy, type ForwardedPolicy } from '../../lib/http/forwarded.js';
import { forwardedSeen, said } from './seen.js';

const settings = (over: Partial<Settings>): Settings => ({ ...defaultSettings({}), ...over });
const policy = (allow: string, over: Partial<Settings> = {}): ForwardedPolicy =>
  forwardedPolicy(settings({ forwarded_allow_ips: allow, ...over }))!;

t.test('parseAllowList: addresses, networks and *', async (t) => {
  const list = parseAllowList('forwarded_allow_ips', ' 127.0.0.1 , 10.0.0.0/8,fd00::/8, ::1');
  for (const ip of ['127.0.0.1', '10.1.2.3', '10.255.255.255', 'fd12::1', '::1'])
    t.ok(allows(list, ip), `${ip} is listed`);
  for (const ip of ['127.0.0.2', '11.0.0.1', 'fe80::1', '::2', '', 'localhost', 'not an ip'])
    t.notOk(allows(list, ip), `${JSON.stringify(ip)} is not`);
  t.notOk(list.empty);
  t.notOk(list.any);
  const any = parseAllowList('forwarded_allow_ips', '*');
  t.ok(any.any && allows(any, '203.0.113.1') && allows(any, '2001:db8::1'), '* allows any peer');
  t.ok(parseAllowList('forwarded_allow_ips', '').empty, 'empty: nobody');
  t.ok(parseAllowList('forwarded_allow_ips', ' , ').empty, 'commas and spaces only: nobody');
  t.ok(allows(parseAllowList('x', '0.0.0.0/0'), '198.51.100.1'), '/0 is every IPv4 address');
});

t.test('parseAllowList: a bad entry is a ConfigError naming the setting and the entry', async (t) => {
  const bad: [string, RegExp][] = [
    ['10.0.0.1/8', /"10\.0\.0\.1\/8": host bits set/],
    ['10.0.0.0/33', /prefix length must be 0-32/],
    ['fd00::/129', /prefix length must be 0-128/],
    ['10.0.0.0/x', /prefix length/],
    ['fd00::1/8', /host bits set/],
    ['::ffff:10.0.0.1', /write an IPv4 address in IPv4 form/],
    ['localhost', /not an IP address or network/],
    ['127.0.0.1, nope', /"nope": not an IP address or network/],
  ];
  for (const [text, why] of bad) {
    t.throws(() => parseAllowList('proxy_allow_ips', text), ConfigError, text);
    try {
      parseAllowList('proxy_allow_ips', text);
    } catch (err) {
      t.equal((err as ConfigError).setting, 'proxy_allow_ips', `${text}: names the setting`);
      t.match((err as Error).message, /^Invalid value for proxy_allow_ips: /);
      t.match((err as Error).message, why);
    }
  }
});

t.test('forwardedPolicy: nobody to trust is no policy; header names in any case', async (t) => {
  t.equal(forwardedPolicy(settings({ forwarded_allow_ips: '' })), null, 'forwarded_allow_ips empty');
  const p = policy('127.0.0.1', { secure_scheme_headers: { 'X-Scheme': 'https' } });
  t.same([...p.watch.names].sort(), ['forwarded', 'x-forwarded-for', 'x-scheme']);
  t.equal(p.secure.get('x-scheme'), 'https');
});

t.test('secure_scheme_headers from a trusted peer set the scheme; values are exact', async (t) => {
  const p = policy('127.0.0.1');
  const scheme = (raw: string[], peer: string | undefined = '127.0.0.1') => {
    const refused = applyForwarded(p, raw, peer, false, said);
    return refused ?? forwardedSeen().scheme;
  };
  t.equal(scheme(['x-forwarded-proto', 'https']), 'https');
  t.equal(scheme(['x-forwarded-proto', 'http']), 'http', 'another value says http');
  t.equal(scheme(['x-forwarded-proto', 'HTTPS']), 'http', 'values are compared exactly, as Gunicorn does');
  t.equal(scheme(['x-forwarded-ssl', 'on']), 'https');
  t.equal(scheme(['x-forwarded-protocol', 'ssl']), 'https');
  t.equal(scheme(['x-forwarded-proto', ' https ']), 'https', 'whitespace around the value is not part of it');
  t.equal(scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'on']), 'https', 'two that agree');
  t.same(
    scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'off']),
    [400, 'Contradictory scheme headers'],
    'two that disagree',
  );
  t.equal(scheme(['x-other', 'https']), null, 'none said');
  t.equal(scheme(['x-forwarded-proto', 'https'], '203.0.113.1'), null, 'from a peer not listed: ignored');
  t.equal(
    scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'off'], '203.0.113.1'),
    null,
    'not even a contradiction counts from an untrusted peer',
  );
  t.equal(scheme(['x-forwarded-proto', 'https'], undefined), 'https', 'a unix socket peer is trusted');
  t.equal(applyForwarded(p, ['X-Forwarded-Proto', 'https'], '127.0.0.1', true, said), null);
  t.equal(forwardedSeen().scheme, 'https', 'names as the client wrote them (node engine)');
});

t.test('X-Forwarded-For: the nearest address not in forwarded_allow_ips is the client', async (t) => {
  const p = policy('127.0.0.1,10.0.0.0/8');
  const client = (xff: string | string[], peer = '127.0.0.1') => {
    const raw = (Array.isArray(xff) ? xff : [xff]).flatMap((v) => ['x-forwarded-for', v]);
    t.equal(applyForwarded(p, raw, peer, false, said), null);
    const s = forwardedSeen();
    return s.client === null ? null : `${s.client}:${s.clientPort}`;
  };
  t.equal(client('203.0.113.7'), '203.0.113.7:0', 'one hop');
  t.equal(
    client('198.51.100.1, 203.0.113.7, 10.0.0.2'),
    '203.0.113.7:0',
    'our own proxies (listed) are passed; what is left of the client is not read',
  );
  t.equal(client(['198.51.100.1', '203.0.113.7, 10.0.0.2']), '203.0.113.7:0', 'several header lines are one list');
  t.equal(client('10.0.0.3, 10.0.0.2'), '10.0.0.3:0', 'every hop listed: the left-most');
  t.equal(
    client('198.51.100.1, unknown, 10.0.0.2'),
    '10.0.0.2:0',
    'an entry that is no address stops the walk at the hop before it',
  );
  t.equal(client('unknown'), null, 'nothing usable: the peer stands');
  t.equal(client(''), null, 'an empty header: the peer stands');
  t.equal(client('203.0.113.7:4711'), '203.0.113.7:4711', 'an IPv4 address with a port');
  t.equal(client('[2001:DB8::7]:4711'), '2001:db8::7:4711', 'a bracketed IPv6 address with a port, in RFC 5952 form');
  t.equal(client('2001:db8::7'), '2001:db8::7:0', 'a bare IPv6 address');
  t.equal(client('203.0.113.7:99999'), null, 'a port out of range is no address');
  t.equal(client('203.0.113.7', '198.51.100.50'), null, 'from a peer not listed: ignored');
  const star = policy('*');
  applyForwarded(star, ['x-forwarded-for', '198.51.100.1, 203.0.113.7'], '198.51.100.50', false, said);
  t.equal(
    forwardedSeen().client,
    '203.0.113.7',
    '*: any peer is trusted but no hop is listed, so the right-most entry',
  );
});

t.test('Forwarded (RFC 7239): its for= when there is no X-Forwarded-For', async (t) => {
  const p = policy('127.0.0.1');
  const client = (raw: string[]) => {
    applyForwarded(p, raw, '127.0.0.1', false, said);
    const s = forwardedSeen();
    return s.client === null ? null : `${s.client}:${s.clientPort}`;
  };
  t.equal(client(['forwarded', 'for=203.0.113.7;proto=https']), '203.0.113.7:0');
  t.equal(
    client(['forwarded', 'For="[2001:db8::1]:4711"']),
    '2001:db8::1:4711',
    'quoted, bracketed, with a port; the parameter name in any case',
  );
  t.equal(client(['forwarded', 'for=198.51.100.1, for=203.0.113.7']), '203.0.113.7:0', 'the right-most element');
  t.equal(client(['forwarded', 'for=_hidden']), null, 'an obfuscated node');
  t.equal(client(['forwarded', 'proto=https']), null, 'no for=');
  t.equal(
    client(['forwarded', 'for=198.51.100.1', 'x-forwarded-for', '203.0.113.9']),
    '203.0.113.9:0',
    'X-Forwarded-For wins',
  );
});

t.test('formatPeerAddress: IPv4 as such, IPv6 in RFC 5952 form', async (t) => {
  t.equal(formatPeerAddress('127.0.0.1'), '127.0.0.1');
  t.equal(formatPeerAddress('0000:0000:0000:0000:0000:0000:0000:0001'), '::1', "uWS's fully expanded form");
  t.equal(
    formatPeerAddress('0000:0000:0000:0000:0000:ffff:7f00:0001'),
    '127.0.0.1',
    'an IPv4-mapped peer of a dual-stack listener',
  );
  t.equal(formatPeerAddress('::ffff:192.0.2.1'), '192.0.2.1', "node's mapped form");
  t.equal(
    formatPeerAddress('2001:0DB8:0000:0000:0001:0000:0000:0001'),
    '2001:db8::1:0:0:1',
    'the first of two equal runs of zeros',
  );
  t.equal(formatPeerAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not shortened');
  t.equal(
    formatPeerAddress(new TextEncoder().encode('10.0.0.1').buffer as ArrayBuffer),
    '10.0.0.1',
    'as uWS hands it (an ArrayBuffer)',
  );
  t.equal(formatPeerAddress('not:an:address'), 'not:an:address', 'what is no address is left as it is');
});

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: version/command byte, family/transport byte, and what follows the 16 fixed bytes. */
function v2(verCmd: number, famProto: number, rest: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = verCmd;
  head[1] = famProto;
  head.writeUInt16BE(rest.length, 2);
  return Buffer.concat([SIG, head, rest]);
}
function ipv4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}
function ipv6Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  src.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  dst.forEach((g, i) => b.writeUInt16BE(g, 16 + i * 2));
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}
const text = (s: string) => Buffer.from(s, 'latin1');

t.test('v1: TCP4 and TCP6 lines name the client', async (t) => {
  const line = 'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n';
  t.same(
    parseProxyHeader(text(line + 'GET / HTTP/1.1\r\n'), 'v1'),
    {
      kind: 'header',
      length: line.length,
      client: { address: '192.0.2.7', port: 56324, family: 'IPv4' },
    },
    "the length is the line's, CRLF included; what follows is not read",
  );
  const six = 'PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 1 65535\r\n';
  t.same(
    parseProxyHeader(text(six), 'auto'),
    {
      kind: 'header',
      length: six.length,
      client: { address: '2001:db8::7', port: 1, family: 'IPv6' },
    },
    'an IPv6 client, in RFC 5952 form',
  );
  t.same(
    parseProxyHeader(text('PROXY UNKNOWN\r\n'), 'v1'),
    { kind: 'header', length: 15, client: null },
    "UNKNOWN (a health check): the connection's own peer stands",
  );
  t.same(
    parseProxyHeader(text('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'), 'v1'),
    { kind: 'header', length: 35, client: null },
    'UNKNOWN with addresses: they are ignored',
  );
});

t.test('v1: bad lines are refused with the line in the reason', async (t) => {
  const bad = [
    'PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n', // a field missing
    'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443 extra\r\n',
    'PROXY TCP5 192.0.2.7 10.0.0.1 1 2\r\n',
    'PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n', // the protocol is upper case
    'PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n', // an address of the other family
    'PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n',
    'PROXY TCP4 192.0.2.999 10.0.0.1 1 2\r\n',
    'PROXY TCP4 192.0.2.7 10.0.0.1 65536 443\r\n',
    'PROXY TCP4 192.0.2.7 10.0.0.1 -1 443\r\n',
    'PROXY TCP4 192.0.2.7 10.0.0.1 1 4x3\r\n',
    'PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n', // two spaces
  ];
  for (const line of bad) {
    const h = parseProxyHeader(text(line), 'v1');
    t.same(h, { kind: 'invalid', detail: `Invalid PROXY line: '${line.slice(0, -2)}'` }, JSON.stringify(line));
  }
  const long = `PROXY TCP4 ${'1'.repeat(100)}`;
  t.same(
    parseProxyHeader(text(long), 'v1'),
    { kind: 'invalid', detail: 'Invalid PROXY line: too long' },
    '107 bytes and no CRLF: longer than the specification allows',
  );
  t.same(
    parseProxyHeader(text(`PROXY TCP6 ${'a'.repeat(100)}\r\n`), 'v1'),
    { kind: 'invalid', detail: 'Invalid PROXY line: too long' },
    'a CRLF past 107 bytes',
  );
});

t.test('bytes in pieces: more is needed until the header can be judged', async (t) => {
  const line = text('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n');
  for (let n = 0; n < line.length; n++) {
    const h = parseProxyHeader(line.subarray(0, n), 'auto');
    if (h.kind !== 'more') {
      t.fail(`v1 cut after ${n} bytes: ${JSON.stringify(h)}`);
      break;
    }
  }
  const header = v2(0x21, 0x11, ipv4Block([192, 0, 2, 7], [10, 0, 0, 1], 56324, 443));
  for (let n = 0; n < header.length; n++) {
    const h = parseProxyHeader(header.subarray(0, n), 'auto');
    if (h.kind !== 'more') {
      t.fail(`v2 cut after ${n} bytes: ${JSON.stringify(h)}`);
      break;
    }
  }
  t.equal(parseProxyHeader(line, 'auto').kind, 'header', 'whole: v1');
  t.equal(parseProxyHeader(header, 'auto').kind, 'header', 'whole: v2');
});

t.test('the mode decides which headers are looked for', async (t) => {
  const line = text('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n');
  const binary = v2(0x21, 0x11, ipv4Block([192, 0, 2, 7], [10, 0, 0, 1], 56324, 443));
  const http = text('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(parseProxyHeader(line, 'v2').kind, 'none', 'v2 only: a v1 line is not a header');
  t.equal(parseProxyHeader(binary, 'v1').kind, 'none', 'v1 only: a v2 header is not one');
  t.equal(parseProxyHeader(http, 'auto').kind, 'none', 'plain HTTP');
  t.equal(parseProxyHeader(text('P'), 'auto').kind, 'more', 'one byte that may start a v1 line');
  t.equal(parseProxyHeader(text('PROXZ'), 'auto').kind, 'none', 'not PROXY after all');
  t.equal(parseProxyHeader(Buffer.alloc(0), 'auto').kind, 'more', 'nothing yet');
});

t.test('v2: PROXY over TCP, IPv4 and IPv6, with TLVs after the addresses', async (t) => {
  t.same(parseProxyHeader(v2(0x21, 0x11, ipv4Block([192, 0, 2, 7], [10, 0, 0, 1], 56324, 443)), 'v2'), {
    kind: 'header',
    length: 28,
    client: { address: '192.0.2.7', port: 56324, family: 'IPv4' },
  });
  const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // a NOOP TLV carrying 3 bytes
  const withTlv = v2(0x21, 0x11, Buffer.concat([ipv4Block([203, 0, 113, 9], [10, 0, 0, 1], 1, 2), tlv]));
  t.same(
    parseProxyHeader(Buffer.concat([withTlv, text('GET /')]), 'v2'),
    {
      kind: 'header',
      length: 34,
      client: { address: '203.0.113.9', port: 1, family: 'IPv4' },
    },
    'the length covers the TLVs; the HTTP after it is not read',
  );
  const six = ipv6Block([0x2001, 0xdb8, 0, 0, 0, 0, 0, 7], [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 40000, 443);
  t.same(parseProxyHeader(v2(0x21, 0x21, six), 'auto'), {
    kind: 'header',
    length: 52,
    client: { address: '2001:db8::7', port: 40000, family: 'IPv6' },
  });
});

t.test('v2: LOCAL, UNSPEC and UNIX name no client; the rest is refused', async (t) => {
  t.same(
    parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)), 'v2'),
    { kind: 'header', length: 16, client: null },
    'LOCAL',
  );
  t.same(
    parseProxyHeader(v2(0x20, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'v2'),
    { kind: 'header', length: 28, client: null },
    'LOCAL with addresses: ignored',
  );
  t.same(
    parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)), 'v2'),
    { kind: 'header', length: 16, client: null },
    'PROXY, UNSPEC',
  );
  t.same(
    parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)), 'v2'),
    { kind: 'header', length: 232, client: null },
    'PROXY, UNIX',
  );
  const refused: [string, Buffer, string][] = [
    ['version 1', v2(0x11, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'unsupported version 1'],
    ['command 2', v2(0x22, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'unsupported command 2'],
    ['UDP', v2(0x21, 0x12, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'only TCP is supported'],
    ['IPv4 addresses cut short', v2(0x21, 0x11, Buffer.alloc(8)), 'insufficient address data for IPv4'],
    ['IPv6 addresses cut short', v2(0x21, 0x21, Buffer.alloc(12)), 'insufficient address data for IPv6'],
    ['family 4', v2(0x21, 0x41, Buffer.alloc(12)), 'unsupported address family 4'],
  ];
  for (const [what, bytes, why] of refused) {
    t.same(parseProxyHeader(bytes, 'v2'), { kind: 'invalid', detail: `Invalid PROXY header: ${why}` }, what);
  }
});

/** A loopback server whose connections go through readProxyHeader; each outcome is resolved once. */
async function proxyServer(t: Test, mode: 'v1' | 'v2' | 'auto', allow: string) {
  type Outcome =
    | { delivered: { address?: string; port?: number; family?: string; peer?: string; data: string } }
    | { refused: [number, string] };
  const outcomes: ((o: Outcome) => void)[] = [];
  const server = net.createServer((socket) => {
    const settle = outcomes.shift()!;
    readProxyHeader(
      socket,
      mode,
      parseAllowList('proxy_allow_ips', allow),
      2000,
      (s) => {
        let data = '';
        s.on('data', (d: Buffer) => {
          data += d.toString('latin1');
          if (data.endsWith('\r\n\r\n')) {
            settle({
              delivered: {
                address: s.remoteAddress,
                port: s.remotePort,
                family: s.remoteFamily,
                peer: socketPeer(s as net.Socket),
                data,
              },
            });
            s.destroy();
          }
        });
        // Handed on paused (a TLS server reads the handle itself): who reads it as it is resumes it.
        s.resume();
      },
      (s, status, detail) => {
        settle({ refused: [status, detail] });
        s.destroy();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  /** Connect, send the pieces one turn apart, and wait for what the server made of them. */
  return (...pieces: Buffer[]): Promise<Outcome> =>
    new Promise((resolve) => {
      outcomes.push(resolve);
      const c = net.connect(port, '127.0.0.1', () => {
        // Nothing here rejects: a write to a socket that closed meanwhile goes to its 'error' listener.
        void (async () => {
          for (const p of pieces) {
            c.write(p);
            await new Promise((r) => setTimeout(r, 10));
          }
        })();
      });
      c.on('error', () => {});
      c.on('close', () => c.destroy());
    });
}

t.test('readProxyHeader on real connections', async (t) => {
  const connect = await proxyServer(t, 'auto', '127.0.0.1');
  const http = text('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.same(
    await connect(text('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n'), http),
    {
      delivered: {
        address: '192.0.2.7',
        port: 56324,
        family: 'IPv4',
        peer: '127.0.0.1',
        data: http.toString('latin1'),
      },
    },
    'the client it names is the peer; the front-end stays the one forwarded_allow_ips judges',
  );
  t.same(
    await connect(Buffer.concat([v2(0x21, 0x11, ipv4Block([203, 0, 113, 9], [10, 0, 0, 1], 8080, 443)), http])),
    {
      delivered: {
        address: '203.0.113.9',
        port: 8080,
        family: 'IPv4',
        peer: '127.0.0.1',
        data: http.toString('latin1'),
      },
    },
    'v2 and HTTP in one write: the bytes after the header are put back for HTTP',
  );
  const split = text('PROXY TCP4 192.0.2.8 10.0.0.1 1000 443\r\n');
  t.match(
    await connect(split.subarray(0, 9), split.subarray(9), http),
    { delivered: { address: '192.0.2.8', port: 1000 } },
    'a header in two pieces',
  );
  t.match(
    await connect(http),
    { delivered: { address: '127.0.0.1', data: http.toString('latin1') } },
    'auto: a connection with no header is plain HTTP from its own peer',
  );
  t.same(await connect(text('PROXY TCP4 nope\r\n')), { refused: [400, "Invalid PROXY line: 'PROXY TCP4 nope'"] });
});

t.test('readProxyHeader: a header from a peer not in proxy_allow_ips gets 403', async (t) => {
  const connect = await proxyServer(t, 'v1', '10.0.0.0/8');
  t.same(await connect(text('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')), {
    refused: [403, 'Request forbidden'],
  });
});
