// What a trusted front-end says about a request (lib/http/forwarded.ts): forwarded_allow_ips as
// Gunicorn reads it, secure_scheme_headers as Gunicorn applies them (exact values, a contradiction is
// 400), and the client address qilin takes from X-Forwarded-For / Forwarded (docs/deploy.md, "Behind
// a proxy or a load balancer"). Peer addresses as people read them (lib/http/address.ts) too.
import t from 'tap';
import { ConfigError, defaultSettings, type Settings } from '../../lib/config/settings.js';
import { formatPeerAddress } from '../../lib/http/address.js';
import { allows, applyForwarded, forwardedPolicy, parseAllowList, type ForwardedPolicy } from '../../lib/http/forwarded.js';
import { forwardedSeen } from './seen.js';

const settings = (over: Partial<Settings>): Settings => ({ ...defaultSettings({}), ...over });
const policy = (allow: string, over: Partial<Settings> = {}): ForwardedPolicy => forwardedPolicy(settings({ forwarded_allow_ips: allow, ...over }))!;

t.test('parseAllowList: addresses, networks and *', async (t) => {
  const list = parseAllowList('forwarded_allow_ips', ' 127.0.0.1 , 10.0.0.0/8,fd00::/8, ::1');
  for (const ip of ['127.0.0.1', '10.1.2.3', '10.255.255.255', 'fd12::1', '::1']) t.ok(allows(list, ip), `${ip} is listed`);
  for (const ip of ['127.0.0.2', '11.0.0.1', 'fe80::1', '::2', '', 'localhost', 'not an ip']) t.notOk(allows(list, ip), `${JSON.stringify(ip)} is not`);
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
    const refused = applyForwarded(p, raw, peer, false);
    return refused ?? forwardedSeen().scheme;
  };
  t.equal(scheme(['x-forwarded-proto', 'https']), 'https');
  t.equal(scheme(['x-forwarded-proto', 'http']), 'http', 'another value says http');
  t.equal(scheme(['x-forwarded-proto', 'HTTPS']), 'http', 'values are compared exactly, as Gunicorn does');
  t.equal(scheme(['x-forwarded-ssl', 'on']), 'https');
  t.equal(scheme(['x-forwarded-protocol', 'ssl']), 'https');
  t.equal(scheme(['x-forwarded-proto', ' https ']), 'https', 'whitespace around the value is not part of it');
  t.equal(scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'on']), 'https', 'two that agree');
  t.same(scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'off']), [400, 'Contradictory scheme headers'], 'two that disagree');
  t.equal(scheme(['x-other', 'https']), null, 'none said');
  t.equal(scheme(['x-forwarded-proto', 'https'], '203.0.113.1'), null, 'from a peer not listed: ignored');
  t.equal(scheme(['x-forwarded-proto', 'https', 'x-forwarded-ssl', 'off'], '203.0.113.1'), null,
    'not even a contradiction counts from an untrusted peer');
  t.equal(scheme(['x-forwarded-proto', 'https'], undefined), 'https', 'a unix socket peer is trusted');
  t.equal(applyForwarded(p, ['X-Forwarded-Proto', 'https'], '127.0.0.1', true), null);
  t.equal(forwardedSeen().scheme, 'https', 'names as the client wrote them (node engine)');
});

t.test('X-Forwarded-For: the nearest address not in forwarded_allow_ips is the client', async (t) => {
  const p = policy('127.0.0.1,10.0.0.0/8');
  const client = (xff: string | string[], peer = '127.0.0.1') => {
    const raw = (Array.isArray(xff) ? xff : [xff]).flatMap((v) => ['x-forwarded-for', v]);
    t.equal(applyForwarded(p, raw, peer, false), null);
    const s = forwardedSeen();
    return s.client === null ? null : `${s.client}:${s.clientPort}`;
  };
  t.equal(client('203.0.113.7'), '203.0.113.7:0', 'one hop');
  t.equal(client('198.51.100.1, 203.0.113.7, 10.0.0.2'), '203.0.113.7:0', 'our own proxies (listed) are passed; what is left of the client is not read');
  t.equal(client(['198.51.100.1', '203.0.113.7, 10.0.0.2']), '203.0.113.7:0', 'several header lines are one list');
  t.equal(client('10.0.0.3, 10.0.0.2'), '10.0.0.3:0', 'every hop listed: the left-most');
  t.equal(client('198.51.100.1, unknown, 10.0.0.2'), '10.0.0.2:0', 'an entry that is no address stops the walk at the hop before it');
  t.equal(client('unknown'), null, 'nothing usable: the peer stands');
  t.equal(client(''), null, 'an empty header: the peer stands');
  t.equal(client('203.0.113.7:4711'), '203.0.113.7:4711', 'an IPv4 address with a port');
  t.equal(client('[2001:DB8::7]:4711'), '2001:db8::7:4711', 'a bracketed IPv6 address with a port, in RFC 5952 form');
  t.equal(client('2001:db8::7'), '2001:db8::7:0', 'a bare IPv6 address');
  t.equal(client('203.0.113.7:99999'), null, 'a port out of range is no address');
  t.equal(client('203.0.113.7', '198.51.100.50'), null, 'from a peer not listed: ignored');
  const star = policy('*');
  applyForwarded(star, ['x-forwarded-for', '198.51.100.1, 203.0.113.7'], '198.51.100.50', false);
  t.equal(forwardedSeen().client, '203.0.113.7', '*: any peer is trusted but no hop is listed, so the right-most entry');
});

t.test('Forwarded (RFC 7239): its for= when there is no X-Forwarded-For', async (t) => {
  const p = policy('127.0.0.1');
  const client = (raw: string[]) => {
    applyForwarded(p, raw, '127.0.0.1', false);
    const s = forwardedSeen();
    return s.client === null ? null : `${s.client}:${s.clientPort}`;
  };
  t.equal(client(['forwarded', 'for=203.0.113.7;proto=https']), '203.0.113.7:0');
  t.equal(client(['forwarded', 'For="[2001:db8::1]:4711"']), '2001:db8::1:4711', 'quoted, bracketed, with a port; the parameter name in any case');
  t.equal(client(['forwarded', 'for=198.51.100.1, for=203.0.113.7']), '203.0.113.7:0', 'the right-most element');
  t.equal(client(['forwarded', 'for=_hidden']), null, 'an obfuscated node');
  t.equal(client(['forwarded', 'proto=https']), null, 'no for=');
  t.equal(client(['forwarded', 'for=198.51.100.1', 'x-forwarded-for', '203.0.113.9']), '203.0.113.9:0', 'X-Forwarded-For wins');
});

t.test('formatPeerAddress: IPv4 as such, IPv6 in RFC 5952 form', async (t) => {
  t.equal(formatPeerAddress('127.0.0.1'), '127.0.0.1');
  t.equal(formatPeerAddress('0000:0000:0000:0000:0000:0000:0000:0001'), '::1', "uWS's fully expanded form");
  t.equal(formatPeerAddress('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1', 'an IPv4-mapped peer of a dual-stack listener');
  t.equal(formatPeerAddress('::ffff:192.0.2.1'), '192.0.2.1', "node's mapped form");
  t.equal(formatPeerAddress('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1', 'the first of two equal runs of zeros');
  t.equal(formatPeerAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not shortened');
  t.equal(formatPeerAddress(new TextEncoder().encode('10.0.0.1').buffer as ArrayBuffer), '10.0.0.1', 'as uWS hands it (an ArrayBuffer)');
  t.equal(formatPeerAddress('not:an:address'), 'not:an:address', 'what is no address is left as it is');
});
