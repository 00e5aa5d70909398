// The HTTP/2 settings (Gunicorn 25/26's names and defaults): http_protocols as Gunicorn's
// validate_http_protocols reads it (and h3 refused), http2_cleartext's spellings (a boolean true in a
// config file is prior-knowledge), the ranges of the numeric ones, each bad value one ConfigError
// naming its setting; the warnings said at start when a setting cannot take effect; the engine
// choice h2 forces; how the settings become node:http2's options; and the pieces of the HTTP/2 path
// that need no server (the connection preface, the regular fields of a request).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { http2Warnings, parseHttpProtocols, resolveConfig } from '../../lib/config/resolve.js';
import { ConfigError, SETTINGS_BY_NAME, coerce, defaultSettings, helpText } from '../../lib/config/settings.js';
import { chooseEngine } from '../../lib/engines/index.js';
import { alpnProtocols, http2Options } from '../../lib/engines/node/http2.js';
import { regularFields } from '../../lib/engines/node/http2-handler.js';
import { H2C_PREFACE, prefaceMatch } from '../../lib/engines/node/http2-preface.js';
import { parseBind } from '../../lib/config/binds.js';

const def = (name: string) => SETTINGS_BY_NAME.get(name)!;

/** The ConfigError `fn` throws: it must name `setting` and say `why`. */
function refused(t: Test, setting: string, fn: () => unknown, why: RegExp): void {
  try {
    fn();
  } catch (err) {
    t.type(err, ConfigError);
    t.equal((err as ConfigError).setting, setting, 'names the setting');
    t.match(
      (err as Error).message,
      new RegExp(`^Invalid value for ${setting}: `),
      'one line, as the other settings say it',
    );
    t.match((err as Error).message, why);
    t.notOk((err as Error).message.includes('\n'), 'one line');
    return;
  }
  t.fail('was taken');
}

t.test("defaults are Gunicorn's", async (t) => {
  const s = defaultSettings({});
  t.equal(s.http_protocols, 'h1');
  t.equal(s.http2_cleartext, 'off');
  t.equal(s.http2_max_concurrent_streams, 100);
  t.equal(s.http2_initial_window_size, 65535);
  t.equal(s.http2_max_frame_size, 16384);
  t.equal(s.http2_max_header_list_size, 65536);
  const help = helpText();
  for (const flag of [
    '--http-protocols',
    '--http2-cleartext',
    '--http2-max-concurrent-streams',
    '--http2-initial-window-size',
    '--http2-max-frame-size',
    '--http2-max-header-list-size',
  ])
    t.ok(help.includes(flag), `--help shows ${flag}`);
});

t.test('http_protocols: a comma list by preference', async (t) => {
  t.same(parseHttpProtocols('h1'), ['h1']);
  t.same(parseHttpProtocols('h2'), ['h2']);
  t.same(parseHttpProtocols('h2,h1'), ['h2', 'h1']);
  t.same(parseHttpProtocols(' H1 , h2 '), ['h1', 'h2'], 'any case, blanks around names');
  t.same(parseHttpProtocols('h2,,h1,'), ['h2', 'h1'], 'empty items are skipped');
  t.same(parseHttpProtocols(''), ['h1'], 'empty: h1, as Gunicorn');
  t.same(parseHttpProtocols(' , '), ['h1']);
  refused(t, 'http_protocols', () => parseHttpProtocols('h3'), /h3 \(HTTP\/3 over QUIC\) is not served/);
  refused(t, 'http_protocols', () => parseHttpProtocols('h2,h3'), /h3/);
  refused(t, 'http_protocols', () => parseHttpProtocols('h2,h1,h2'), /listed twice/);
  refused(t, 'http_protocols', () => parseHttpProtocols('http/1.1'), /unknown protocol "http\/1.1"/);
  refused(t, 'http_protocols', () => parseHttpProtocols('h2c'), /unknown protocol "h2c"/);
});

t.test('http2_cleartext: off, prior-knowledge, upgrade, both; true in a config file is prior-knowledge', async (t) => {
  const d = def('http2_cleartext');
  for (const v of ['off', 'prior-knowledge', 'upgrade', 'both']) t.equal(coerce(d, v), v);
  t.equal(coerce(d, 'Prior-Knowledge'), 'prior-knowledge', 'any case, as Gunicorn lower-cases it');
  t.equal(coerce(d, true), 'prior-knowledge', 'true: prior-knowledge (Gunicorn)');
  t.equal(coerce(d, false), 'off');
  refused(t, 'http2_cleartext', () => coerce(d, 'h2c'), /one of: off, prior-knowledge, upgrade, both/);
  refused(t, 'http2_cleartext', () => coerce(d, 1), /one of/);
});

t.test('the numeric settings: their ranges', async (t) => {
  const frame = def('http2_max_frame_size');
  t.equal(coerce(frame, '16384'), 16384);
  t.equal(coerce(frame, 16777215), 16777215);
  refused(t, 'http2_max_frame_size', () => coerce(frame, '16383'), /must be >= 16384/);
  refused(t, 'http2_max_frame_size', () => coerce(frame, 16777216), /must be <= 16777215/);
  refused(t, 'http2_max_frame_size', () => coerce(frame, 'big'), /not an integer/);
  const streams = def('http2_max_concurrent_streams');
  t.equal(coerce(streams, '0'), 0, '0 is taken (Gunicorn: a positive int or 0)');
  refused(t, 'http2_max_concurrent_streams', () => coerce(streams, '-1'), /must be >= 0/);
  refused(t, 'http2_max_concurrent_streams', () => coerce(streams, 2 ** 31), /must be <= 2147483647/);
  const window = def('http2_initial_window_size');
  t.equal(coerce(window, '0x100000'), 1048576, 'hex, as int(x, 0)');
  refused(t, 'http2_initial_window_size', () => coerce(window, 2 ** 31), /must be <= 2147483647/);
  const list = def('http2_max_header_list_size');
  t.equal(coerce(list, 0), 0, '0: no limit');
  refused(t, 'http2_max_header_list_size', () => coerce(list, -5), /must be >= 0/);
});

t.test('resolveConfig: from the command line and a config file; a bad value stops it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-h2-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await resolveConfig(['--http-protocols', 'H2, h1', '--http2-max-frame-size', '32768'], {}, dir);
  t.equal(r.settings.http_protocols, 'h2,h1', 'normalised');
  t.equal(r.settings.http2_max_frame_size, 32768);
  writeFileSync(
    path.join(dir, 'qilin.config.mjs'),
    "export default { http_protocols: 'h2', http2_cleartext: true, http2_max_concurrent_streams: 7 };\n",
  );
  const f = await resolveConfig([], {}, dir);
  t.equal(f.settings.http2_cleartext, 'prior-knowledge', 'true in a config file');
  t.equal(f.settings.http2_max_concurrent_streams, 7);
  await t.rejects(resolveConfig(['--http-protocols', 'h1,h3'], {}, dir), {
    name: 'ConfigError',
    setting: 'http_protocols',
  });
  await t.rejects(resolveConfig(['--http2-max-frame-size', '1'], {}, dir), {
    name: 'ConfigError',
    setting: 'http2_max_frame_size',
  });
});

t.test('warnings when a setting cannot take effect', async (t) => {
  const s = defaultSettings({});
  t.same(http2Warnings(s), [], 'the defaults: nothing to say');
  s.http_protocols = 'h2,h1';
  t.match(http2Warnings(s), [/no bind serves TLS and http2_cleartext is off/], 'h2 with neither TLS nor h2c');
  s.http2_cleartext = 'prior-knowledge';
  t.same(http2Warnings(s), [], 'h2c prior knowledge');
  s.http2_cleartext = 'upgrade';
  t.match(http2Warnings(s), [/`Upgrade: h2c` request is served as HTTP\/1.1/], 'upgrade is said not to upgrade');
  s.http2_cleartext = 'both';
  t.match(http2Warnings(s), [/served as HTTP\/1.1.*preface are served HTTP\/2/]);
  s.certfile = 'a.pem';
  s.keyfile = 'a.key';
  t.match(http2Warnings(s), [/every bind serves TLS/], 'ignored with TLS');
  s.http_protocols = 'h1';
  t.match(http2Warnings(s), [/does not list h2: it has no effect/]);
});

t.test('engine: h2 needs node', async (t) => {
  const s = defaultSettings({});
  s.http_protocols = 'h2,h1';
  const binds = [parseBind('127.0.0.1:8000')];
  const unset = chooseEngine(s, binds, false, null);
  t.equal(unset.name, 'node');
  t.equal(unset.why, 'http_protocols h2,h1 needs it', 'the reason, for the start-up line');
  t.ok(unset.fixed);
  s.engine = 'uws';
  refused(t, 'engine', () => chooseEngine(s, binds, false, null), /http_protocols h2,h1 needs the node engine/);
  s.engine = 'node';
  t.equal(chooseEngine(s, binds, false, null).name, 'node');
});

t.test("node:http2's options and ALPN", async (t) => {
  const s = defaultSettings({});
  t.same(alpnProtocols(['h2', 'h1']), ['h2', 'http/1.1'], 'ALPN in the order of http_protocols');
  t.same(alpnProtocols(['h1', 'h2']), ['http/1.1', 'h2']);
  const o = http2Options(s);
  t.same(o.settings, {
    maxConcurrentStreams: 100,
    initialWindowSize: 65535,
    maxFrameSize: 16384,
    maxHeaderListSize: 65536,
  });
  t.equal(o.maxSessionMemory, 13, "room for 100 streams' windows and header lists: 13 MiB, above node's own 10");
  t.equal(o.maxHeaderListPairs, 100 + 1 + 5, 'limit_request_fields, one more, and the pseudo-headers');
  s.http2_max_header_list_size = 0;
  s.http2_initial_window_size = 1 << 20;
  const big = http2Options(s);
  t.equal(big.settings!.maxHeaderListSize, 2 ** 32 - 1, '0: the largest HTTP/2 can say');
  t.ok(big.maxSessionMemory! > 100, 'memory grows with what the windows let clients send');
});

t.test('the connection preface', async (t) => {
  t.equal(prefaceMatch(H2C_PREFACE), 1);
  t.equal(prefaceMatch(Buffer.concat([H2C_PREFACE, Buffer.from([0, 0, 0, 4])])), 1, 'with the SETTINGS after it');
  t.equal(prefaceMatch(H2C_PREFACE.subarray(0, 10)), 0, 'a prefix: more may come');
  t.equal(prefaceMatch(Buffer.from('PRI * HTTP/1.1')), -1);
  t.equal(prefaceMatch(Buffer.from('GET / HTTP/1.1\r\n')), -1);
});

t.test('the regular fields of an HTTP/2 request', async (t) => {
  t.same(regularFields([':method', 'GET', ':authority', 'a.example', ':path', '/', 'accept', '*/*']), [
    'accept',
    '*/*',
    'host',
    'a.example',
  ]);
  t.same(
    regularFields([':method', 'GET', ':authority', 'a.example', ':path', '/', 'host', 'b.example']),
    ['host', 'a.example'],
    ':authority wins over Host (RFC 9113 8.3.1)',
  );
  t.same(regularFields([':method', 'GET', ':path', '/', 'host', 'b.example']), ['host', 'b.example'], 'Host alone');
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])
    t.equal(regularFields([':method', 'GET', ':path', '/', name, 'x']), null, `${name} is refused (RFC 9113 8.2.2)`);
  t.equal(regularFields([':method', 'GET', ':path', '/', 'te', 'gzip']), null, 'te other than trailers');
  t.same(regularFields([':method', 'GET', ':path', '/', 'te', 'trailers']), ['te', 'trailers'], 'te: trailers');
});
