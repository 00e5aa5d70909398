// The settings table and its coercion (lib/config/settings.ts), and the command line as
// lib/config/resolve.ts parses it: each type's accepted spellings (Gunicorn's where it has them:
// `0o007` for umask, `true` for a choice's `auto`), bad values as a ConfigError naming the setting,
// the environment's defaults ($PORT, $WEB_CONCURRENCY), flags and $QILIN_CMD_ARGS word splitting.
import t, { type Test } from 'tap';
import {
  ConfigError, SETTINGS, SETTINGS_BY_FLAG, SETTINGS_BY_NAME, closestSetting, coerce, defaultSettings, editDistance, helpText, markdownTable,
} from '../../lib/config/settings.js';
import { parseArgs, splitArgs } from '../../lib/config/resolve.js';

const def = (name: string) => SETTINGS_BY_NAME.get(name)!;
/** The ConfigError coercing `raw` for `name` throws (fails the test when there is none). */
function refusal(t: Test, name: string, raw: unknown): ConfigError | null {
  try {
    coerce(def(name), raw);
  } catch (err) {
    t.type(err, ConfigError, `${name} ${JSON.stringify(raw)}: a ConfigError`);
    t.equal((err as ConfigError).setting, name, `${name} ${JSON.stringify(raw)}: names the setting`);
    return err as ConfigError;
  }
  t.fail(`${name} ${JSON.stringify(raw)} was taken`);
  return null;
}

t.test('the table: one entry per name and per flag, every default a value of its own type', async (t) => {
  t.equal(SETTINGS_BY_NAME.size, SETTINGS.length, 'names are unique');
  t.equal(SETTINGS_BY_FLAG.size, SETTINGS.reduce((n, s) => n + s.flags.length, 0), 'flags are unique');
  for (const s of SETTINGS) {
    if (s.default === null) continue;
    t.same(coerce(s, s.default), s.default, `${s.name}: its default coerces to itself`);
  }
  for (const s of SETTINGS.filter((x) => x.type === 'choice')) {
    t.ok(s.choices!.includes(s.default as string) || s.default === null, `${s.name}: the default is a choice`);
  }
  const help = helpText();
  const table = markdownTable();
  for (const s of SETTINGS) {
    for (const f of s.flags) t.ok(help.includes(f), `--help shows ${f}`);
    t.ok(table.includes(`| \`${s.name}\` |`), `the docs table has ${s.name}`);
  }
});

t.test('int: decimal, or 0o / 0x as Python\'s int(x, 0); bounds', async (t) => {
  t.equal(coerce(def('workers'), '4'), 4);
  t.equal(coerce(def('workers'), ' 4 '), 4);
  t.equal(coerce(def('workers'), 4), 4);
  t.equal(coerce(def('umask'), '0o007'), 7, "Gunicorn's way to write a umask");
  t.equal(coerce(def('umask'), '0O22'), 18);
  t.equal(coerce(def('umask'), '0x1F'), 31);
  t.equal(coerce(def('limit_request_line'), '8190'), 8190, 'the max');
  t.match(refusal(t, 'limit_request_line', '8191')?.message, 'Invalid value for limit_request_line: "8191" (must be <= 8190)');
  t.match(refusal(t, 'workers', '0')?.message, 'Invalid value for workers: "0" (must be >= 1)');
  t.match(refusal(t, 'workers', '-1')?.message, /must be >= 1/);
  for (const bad of ['4.5', 4.5, '', 'four', '0o8', '0b11', '1e3', true, null, '4 4']) {
    t.match(refusal(t, 'workers', bad)?.message, /\(not an integer\)$/, `${JSON.stringify(bad)}: not an integer`);
  }
});

t.test('float: decimal seconds', async (t) => {
  t.equal(coerce(def('request_timeout'), '0.5'), 0.5);
  t.equal(coerce(def('request_timeout'), '.5'), 0.5);
  t.equal(coerce(def('request_timeout'), '2.'), 2);
  t.equal(coerce(def('request_timeout'), 0), 0);
  for (const bad of ['1e3', '0x10', 'abc', '', Infinity, NaN, '1,5']) {
    t.match(refusal(t, 'request_timeout', bad)?.message, /not a number/, JSON.stringify(bad));
  }
  t.match(refusal(t, 'request_timeout', '-1')?.message, /must be >= 0/);
});

t.test('bool, string, list, map', async (t) => {
  for (const [raw, want] of [[true, true], ['true', true], ['1', true], [false, false], ['false', false], ['0', false]] as const) {
    t.equal(coerce(def('preload_app'), raw), want, `bool ${JSON.stringify(raw)}`);
  }
  for (const bad of ['yes', 'on', 'TRUE', 1, null]) t.match(refusal(t, 'preload_app', bad)?.message, /not a boolean/);
  t.equal(coerce(def('pidfile'), null), null);
  t.equal(coerce(def('pidfile'), '/run/q.pid'), '/run/q.pid');
  t.match(refusal(t, 'pidfile', 5)?.message, /not a string/);
  t.same(coerce(def('bind'), '127.0.0.1:9000'), ['127.0.0.1:9000'], 'a list from one string');
  const list = ['a:1', 'b:2'];
  const copy = coerce(def('bind'), list) as string[];
  t.same(copy, list);
  t.not(copy, list, 'a copy, not the caller\'s array');
  t.match(refusal(t, 'bind', [1])?.message, /not a list of strings/);
  t.same(coerce(def('secure_scheme_headers'), { 'X-Forwarded-Proto': 'https', 'x-ssl': 'on' }), { 'X-FORWARDED-PROTO': 'https', 'X-SSL': 'on' },
    'header names in any case, upper-cased as Gunicorn keeps them; values as given');
  t.match(refusal(t, 'secure_scheme_headers', { 'bad name': 'x' })?.message, /a header name and a string value/);
  t.match(refusal(t, 'secure_scheme_headers', { 'X-A': 1 })?.message, /a header name and a string value/);
  t.match(refusal(t, 'secure_scheme_headers', ['X-A'])?.message, /not an object/);
});

t.test('choice: the listed values, and the aliases Gunicorn accepts (any case)', async (t) => {
  t.equal(coerce(def('loglevel'), 'debug'), 'debug');
  t.equal(coerce(def('worker_class'), 'sync'), 'sync');
  t.equal(coerce(def('proxy_protocol'), true), 'auto', "Gunicorn's old boolean: true is auto");
  t.equal(coerce(def('proxy_protocol'), false), 'off');
  t.equal(coerce(def('proxy_protocol'), 'none'), 'off');
  t.equal(coerce(def('proxy_protocol'), '1'), 'auto');
  t.equal(coerce(def('proxy_protocol'), ' V2 '), 'v2');
  t.match(refusal(t, 'engine', 'gevent')?.message, 'Invalid value for engine: "gevent" (one of: uws, node)');
  t.match(refusal(t, 'loglevel', true)?.message, /one of: debug, info, warning, error, critical/, 'no aliases: a boolean is no level');
});

t.test('loglevel in any case, as Gunicorn takes it', {
  todo: "qilin refuses `--log-level DEBUG` (exit 1: one of debug, info, ...); Gunicorn lower-cases loglevel " +
    '(glogging: LOG_LEVELS.get(cfg.loglevel.lower(), ...)), so DEBUG and Info work there',
}, async (t) => {
  t.equal(coerce(def('loglevel'), 'DEBUG'), 'debug');
  t.equal(coerce(def('loglevel'), 'Warning'), 'warning');
});

t.test('defaultSettings: the table, and $PORT, $WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS', async (t) => {
  const d = defaultSettings({});
  t.same(d.bind, ['127.0.0.1:8000']);
  t.equal(d.workers, 1);
  t.equal(d.forwarded_allow_ips, '127.0.0.1,::1');
  d.bind.push('x');
  d.secure_scheme_headers['X'] = 'y';
  t.same(defaultSettings({}).bind, ['127.0.0.1:8000'], 'each call a fresh copy of list defaults');
  t.notOk('X' in defaultSettings({}).secure_scheme_headers, 'and of map defaults');
  const env = defaultSettings({ PORT: '5000', WEB_CONCURRENCY: '3', FORWARDED_ALLOW_IPS: '*' });
  t.same(env.bind, ['0.0.0.0:5000']);
  t.equal(env.workers, 3);
  t.equal(env.forwarded_allow_ips, '*');
  t.equal(defaultSettings({ FORWARDED_ALLOW_IPS: '' }).forwarded_allow_ips, '', 'set empty: nobody is trusted');
  t.throws(() => defaultSettings({ WEB_CONCURRENCY: 'many' }), { name: 'ConfigError', setting: 'workers' });
});

t.test('closestSetting: what a mistyped key most likely meant', async (t) => {
  t.equal(closestSetting('worker'), 'workers');
  t.equal(closestSetting('pid'), 'pidfile', 'a flag spelled as a key');
  t.equal(closestSetting('log_level'), 'loglevel');
  t.equal(closestSetting('access-logfile'), 'accesslog');
  t.equal(closestSetting('Timeout'), 'timeout');
  t.equal(closestSetting('xyzzy'), null, 'nothing close');
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(editDistance('', 'abc'), 3);
});

t.test('parseArgs: flags, values, lists, booleans, the app', async (t) => {
  const p = parseArgs(['-w4', '--timeout=60', '-b', 'a:1', '--bind', 'b:2', '--preload', '--limit-request-field_size', '100', 'app.ts:app']);
  t.same(Object.fromEntries(p.values), { workers: 4, timeout: 60, bind: ['a:1', 'b:2'], preload_app: true, limit_request_field_size: 100 });
  t.equal(p.app, 'app.ts:app');
  t.notOk(p.help || p.version);
  t.same(Object.fromEntries(parseArgs(['--preload=false']).values), { preload_app: false });
  t.same(Object.fromEntries(parseArgs(['-w', '2', '-w', '3']).values), { workers: 3 }, 'the last value wins');
  t.ok(parseArgs(['-h']).help);
  t.ok(parseArgs(['--version']).version);
  t.same(Object.fromEntries(parseArgs(['--umask', '0o007']).values), { umask: 7 });
});

t.test('parseArgs: a choice flag whose value is optional', async (t) => {
  const bare = parseArgs(['--proxy-protocol', 'app.ts']);
  t.equal(bare.values.get('proxy_protocol'), 'auto', 'alone: auto');
  t.equal(bare.app, 'app.ts', 'the next word is the app, not its value');
  t.equal(parseArgs(['--proxy-protocol', 'v2', 'app.ts']).values.get('proxy_protocol'), 'v2');
  t.equal(parseArgs(['--proxy-protocol', 'TRUE']).values.get('proxy_protocol'), 'auto');
  t.equal(parseArgs(['--proxy-protocol=off']).values.get('proxy_protocol'), 'off');
});

t.test('parseArgs: mistakes are ConfigErrors that say what went wrong', async (t) => {
  t.throws(() => parseArgs(['--workerz', '2']), { name: 'ConfigError', setting: 'argv', message: 'unrecognized option: --workerz (see qilin --help)' });
  t.throws(() => parseArgs(['--workers']), { setting: 'workers', message: 'option --workers (workers) needs a value' });
  t.throws(() => parseArgs(['a.ts', 'b.ts']), { setting: 'app', message: 'unexpected argument: b.ts (the app is already a.ts)' });
  t.throws(() => parseArgs(['--timeout', 'soon']), { setting: 'timeout', message: 'Invalid value for timeout: "soon" (not an integer)' });
  t.throws(() => parseArgs(['-k', 'gevent']), { setting: 'worker_class', message: /one of: pool, sync/ });
});

t.test('splitArgs: $QILIN_CMD_ARGS in words, quotes kept together', async (t) => {
  t.same(splitArgs('  -w 4   --bind 0.0.0.0:80 '), ['-w', '4', '--bind', '0.0.0.0:80']);
  t.same(splitArgs(`--name "my app" -e 'A=b c' --log-level debug`), ['--name', 'my app', '-e', 'A=b c', '--log-level', 'debug']);
  t.same(splitArgs(`--name "say \\"hi\\""`), ['--name', 'say "hi"'], 'an escaped quote inside double quotes');
  t.same(splitArgs(`--name ''`), ['--name', ''], 'an empty word');
  t.same(splitArgs(''), []);
});

t.test('splitArgs: quotes inside a word and backslash escapes, as GUNICORN_CMD_ARGS (shlex.split) reads them', {
  todo: 'splitArgs splits `--name="my app"` into `--name="my` and `app"`, and keeps a backslash outside quotes; ' +
    "Gunicorn reads GUNICORN_CMD_ARGS with Python's shlex.split, which gives `--name=my app`",
}, async (t) => {
  t.same(splitArgs(`--access-logformat="%(h)s %(r)s" -w 2`), ['--access-logformat=%(h)s %(r)s', '-w', '2']);
  t.same(splitArgs(`--name=my\\ app`), ['--name=my app']);
  t.same(splitArgs(`-e A='b c'd`), ['-e', 'A=b cd']);
});
