// Settings and where they come from (lib/config/): the table and its coercion (each type's accepted
// spellings, Gunicorn's where it has them: `0o007` for umask, `true` for a choice's `auto`), the command
// line and $QILIN_CMD_ARGS word splitting, resolution in Gunicorn's order (defaults < config file <
// $QILIN_CMD_ARGS < command line) with real config files in a temporary directory, every bad value as
// a ConfigError naming the setting, and bind addresses in the forms docs/configure.md lists (Gunicorn's,
// with `:PORT` and `PORT` alone on every interface and `HOST` alone on port 8000).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { bindUrl, formatBind, parseBind, parseMetricsBind } from '../../lib/config/binds.js';
import { parseArgs, resolveConfig, splitArgs } from '../../lib/config/resolve.js';
import {
  ConfigError,
  SETTINGS,
  SETTINGS_BY_FLAG,
  SETTINGS_BY_NAME,
  closestSetting,
  coerce,
  defaultSettings,
  editDistance,
  helpText,
  markdownTable,
} from '../../lib/config/settings.js';

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
  t.equal(
    SETTINGS_BY_FLAG.size,
    SETTINGS.reduce((n, s) => n + s.flags.length, 0),
    'flags are unique',
  );
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

t.test("int: decimal, or 0o / 0x as Python's int(x, 0); bounds", async (t) => {
  t.equal(coerce(def('workers'), '4'), 4);
  t.equal(coerce(def('workers'), ' 4 '), 4);
  t.equal(coerce(def('workers'), 4), 4);
  t.equal(coerce(def('umask'), '0o007'), 7, "Gunicorn's way to write a umask");
  t.equal(coerce(def('umask'), '0O22'), 18);
  t.equal(coerce(def('umask'), '0x1F'), 31);
  t.equal(coerce(def('limit_request_line'), '8190'), 8190, 'the max');
  t.match(
    refusal(t, 'limit_request_line', '8191')?.message,
    'Invalid value for limit_request_line: "8191" (must be <= 8190)',
  );
  t.match(refusal(t, 'workers', '0')?.message, 'Invalid value for workers: "0" (must be >= 1)');
  t.match(refusal(t, 'workers', '-1')?.message, /must be >= 1/);
  for (const bad of ['4.5', 4.5, '', 'four', '0o8', '0b11', '1e3', true, null, '4 4']) {
    t.match(
      refusal(t, 'workers', bad)?.message,
      /\(not an integer, nor auto\)$/,
      `${JSON.stringify(bad)}: not an integer`,
    );
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
  for (const [raw, want] of [
    [true, true],
    ['true', true],
    ['1', true],
    [false, false],
    ['false', false],
    ['0', false],
  ] as const) {
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
  t.not(copy, list, "a copy, not the caller's array");
  t.match(refusal(t, 'bind', [1])?.message, /not a list of strings/);
  t.same(
    coerce(def('secure_scheme_headers'), { 'X-Forwarded-Proto': 'https', 'x-ssl': 'on' }),
    { 'X-FORWARDED-PROTO': 'https', 'X-SSL': 'on' },
    'header names in any case, upper-cased as Gunicorn keeps them; values as given',
  );
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
  t.match(
    refusal(t, 'loglevel', true)?.message,
    /one of: debug, info, warning, error, critical/,
    'no aliases: a boolean is no level',
  );
});

t.test('loglevel in any case, as Gunicorn takes it (it lower-cases loglevel)', async (t) => {
  t.equal(coerce(def('loglevel'), 'DEBUG'), 'debug');
  t.equal(coerce(def('loglevel'), 'Warning'), 'warning');
  t.throws(
    () => coerce(def('worker_class'), 'POOL'),
    /Invalid value for worker_class/,
    'other choices keep their case',
  );
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
  const p = parseArgs([
    '-w4',
    '--timeout=60',
    '-b',
    'a:1',
    '--bind',
    'b:2',
    '--preload',
    '--limit-request-field_size',
    '100',
    'app.ts:app',
  ]);
  t.same(Object.fromEntries(p.values), {
    workers: 4,
    timeout: 60,
    bind: ['a:1', 'b:2'],
    preload_app: true,
    limit_request_field_size: 100,
  });
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
  t.throws(() => parseArgs(['--workerz', '2']), {
    name: 'ConfigError',
    setting: 'argv',
    message: 'unrecognized option: --workerz (see qilin --help)',
  });
  t.throws(() => parseArgs(['--workers']), { setting: 'workers', message: 'option --workers (workers) needs a value' });
  t.throws(() => parseArgs(['a.ts', 'b.ts']), {
    setting: 'app',
    message: 'unexpected argument: b.ts (the app is already a.ts)',
  });
  t.throws(() => parseArgs(['--timeout', 'soon']), {
    setting: 'timeout',
    message: 'Invalid value for timeout: "soon" (not an integer)',
  });
  t.throws(() => parseArgs(['-k', 'gevent']), { setting: 'worker_class', message: /one of: pool, sync/ });
});

t.test('splitArgs: $QILIN_CMD_ARGS in words, quotes kept together', async (t) => {
  t.same(splitArgs('  -w 4   --bind 0.0.0.0:80 '), ['-w', '4', '--bind', '0.0.0.0:80']);
  t.same(splitArgs(`--name "my app" -e 'A=b c' --log-level debug`), [
    '--name',
    'my app',
    '-e',
    'A=b c',
    '--log-level',
    'debug',
  ]);
  t.same(splitArgs(`--name "say \\"hi\\""`), ['--name', 'say "hi"'], 'an escaped quote inside double quotes');
  t.same(splitArgs(`--name ''`), ['--name', ''], 'an empty word');
  t.same(splitArgs(''), []);
});

t.test(
  'splitArgs: quotes inside a word and backslash escapes, as GUNICORN_CMD_ARGS (shlex.split) reads them',
  async (t) => {
    t.same(splitArgs(`--access-logformat="%(h)s %(r)s" -w 2`), ['--access-logformat=%(h)s %(r)s', '-w', '2']);
    t.same(splitArgs(`--name=my\\ app`), ['--name=my app'], 'a backslash outside quotes escapes the space');
    t.same(splitArgs(`-e A='b c'd`), ['-e', 'A=b cd'], 'a quoted part and what follows are one word');
    t.same(splitArgs(`"a"'b'c`), ['abc']);
    t.same(
      splitArgs(`'a\\b' "a\\b" "a\\\\b"`),
      ['a\\b', 'a\\b', 'a\\b'],
      'in quotes a backslash escapes only " and itself',
    );
    t.same(splitArgs(`--name "it's"`), ['--name', "it's"]);
    t.same(splitArgs('-w\t2\n--name x'), ['-w', '2', '--name', 'x'], 'tabs and newlines separate words too');
    t.same(splitArgs(`"" ''`), ['', ''], 'empty quotes are empty words');
    t.same(splitArgs(`a\\"b "x\\"y" 'p\\'`), ['a"b', 'x"y', 'p\\'], 'an escaped quote; none inside single quotes');
    t.same(splitArgs(`"$HOME" a#b #c`), ['$HOME', 'a#b', '#c'], 'no expansion and no comments, as shlex.split');
    t.throws(() => splitArgs(`--name "my app`), {
      setting: 'QILIN_CMD_ARGS',
      message: '$QILIN_CMD_ARGS: no closing quotation (")',
    });
    t.throws(() => splitArgs(`--name 'x`), { message: "$QILIN_CMD_ARGS: no closing quotation (')" });
    t.throws(() => splitArgs('--name x\\'), { message: /no escaped character/ });
  },
);

let files = 0;
/** A fresh directory holding `name` with `source` (each file a new module: imports are cached by URL). */
function configDir(t: Test, source: string | null, name = 'qilin.config.mjs'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qilin-config-${++files}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (source !== null) writeFileSync(path.join(dir, name), source);
  return dir;
}

/** The ConfigError resolving these throws. */
async function refused(t: Test, argv: string[], env: NodeJS.ProcessEnv = {}, cwd = os.tmpdir()): Promise<ConfigError> {
  try {
    await resolveConfig(argv, env, cwd);
  } catch (err) {
    t.type(err, ConfigError, `${argv.join(' ')}: a ConfigError`);
    return err as ConfigError;
  }
  t.fail(`${argv.join(' ')} was taken`);
  return new ConfigError('', '');
}

t.test('each source overrides the one before it, setting by setting', async (t) => {
  const dir = configDir(
    t,
    `export default { workers: 3, timeout: 45, keepalive: 7, loglevel: 'warning', bind: ['127.0.0.1:9001'] };\n`,
  );
  const { settings, configFile, app } = await resolveConfig(
    ['-w', '9', 'app.ts'],
    { QILIN_CMD_ARGS: '--workers 5 --timeout 50 --backlog 64', WEB_CONCURRENCY: '2', PORT: '5000' },
    dir,
  );
  t.equal(configFile, path.join(dir, 'qilin.config.mjs'), 'the config file found in the directory');
  t.equal(app, 'app.ts');
  t.equal(settings.workers, 9, 'command line over $QILIN_CMD_ARGS, the file and $WEB_CONCURRENCY');
  t.equal(settings.timeout, 50, '$QILIN_CMD_ARGS over the file');
  t.equal(settings.backlog, 64, '$QILIN_CMD_ARGS over the default');
  t.equal(settings.keepalive, 7, 'the file over the default');
  t.equal(settings.loglevel, 'warning');
  t.same(settings.bind, ['127.0.0.1:9001'], 'the file over $PORT');
  t.equal(settings.graceful_timeout, 30, 'the default where nobody says');
  t.equal(settings.config, path.join(dir, 'qilin.config.mjs'), 'config is the file read');
});

t.test("a list given on the command line replaces the file's, as Gunicorn", async (t) => {
  const dir = configDir(t, `export default { bind: ['127.0.0.1:9001', '127.0.0.1:9002'] };\n`);
  const { settings } = await resolveConfig(['-b', '127.0.0.1:9100', '-b', '127.0.0.1:9101'], {}, dir);
  t.same(settings.bind, ['127.0.0.1:9100', '127.0.0.1:9101']);
});

t.test("without a config file: the environment's defaults", async (t) => {
  const dir = configDir(t, null);
  const { settings, configFile } = await resolveConfig(
    [],
    { WEB_CONCURRENCY: '4', PORT: '5000', FORWARDED_ALLOW_IPS: '10.0.0.0/8' },
    dir,
  );
  t.equal(configFile, null);
  t.equal(settings.config, null);
  t.equal(settings.workers, 4);
  t.same(settings.bind, ['0.0.0.0:5000']);
  t.equal(settings.forwarded_allow_ips, '10.0.0.0/8');
});

t.test('-c names the file: on the command line, or in $QILIN_CMD_ARGS; the command line wins', async (t) => {
  const dir = configDir(t, `export const workers = 2;\n`, 'one.mjs');
  writeFileSync(path.join(dir, 'two.mjs'), `export const workers = 6;\n`);
  writeFileSync(path.join(dir, 'qilin.config.mjs'), `export const workers = 8;\n`);
  t.equal((await resolveConfig(['-c', 'one.mjs'], {}, dir)).settings.workers, 2, 'named exports work too');
  t.equal((await resolveConfig([], { QILIN_CMD_ARGS: '-c two.mjs' }, dir)).settings.workers, 6);
  t.equal((await resolveConfig(['--config', 'one.mjs'], { QILIN_CMD_ARGS: '-c two.mjs' }, dir)).settings.workers, 2);
  t.equal((await resolveConfig([], {}, dir)).settings.workers, 8, 'else the default file name');
  const missing = await refused(t, ['-c', 'nope.mjs'], {}, dir);
  t.equal(missing.setting, 'config');
  t.equal(missing.message, 'Config file not found: nope.mjs');
});

t.test('the config file: unknown keys warned of, hooks taken, bad values refused', async (t) => {
  const dir = configDir(
    t,
    [
      'export default {',
      '  worker: 4,',
      '  xyzzy: 1,',
      '  post_fork(server, worker) {},',
      '  helper: () => 1,',
      '};',
    ].join('\n'),
  );
  const { settings, warnings, hooks } = await resolveConfig([], {}, dir);
  t.equal(settings.workers, 1, 'a misspelt key sets nothing');
  const file = path.join(dir, 'qilin.config.mjs');
  t.same(
    warnings,
    [
      `Unknown setting 'worker' in config file ${file}, ignored (did you mean 'workers'?)`,
      `Unknown setting 'xyzzy' in config file ${file}, ignored`,
    ],
    'one warning per unknown key that is not a function',
  );
  t.type(hooks.post_fork, 'function', 'server hooks are taken');

  const bad = configDir(t, `export default { workers: 0 };\n`);
  const err = await refused(t, [], {}, bad);
  t.equal(err.setting, 'workers');
  t.equal(err.message, 'Invalid value for workers: 0 (must be >= 1)');

  const broken = configDir(t, `export default { workers: 2,, };\n`);
  const syntax = await refused(t, [], {}, broken);
  t.equal(syntax.setting, 'config');
  t.match(
    syntax.message,
    new RegExp(
      `^Failed to read config file: ${path.join(broken, 'qilin.config.mjs').replace(/[.\\]/g, '\\$&')}:1:\\d+: `,
    ),
    'a syntax error says where: FILE:LINE:COLUMN',
  );
});

t.test('bad values from any source: one ConfigError naming the setting', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, string, RegExp][] = [
    [['--timeout', 'soon'], {}, 'timeout', /^Invalid value for timeout: "soon"/],
    [[], { QILIN_CMD_ARGS: '--log-level loud' }, 'loglevel', /^Invalid value for loglevel: "loud"/],
    [['--nope'], {}, 'argv', /^unrecognized option: --nope/],
    [['-b', 'unix:'], {}, 'bind', /^Invalid value for bind: "unix:" \(unix: needs a path\)/],
    [['-b', '::1:8000'], {}, 'bind', /IPv6 addresses go in brackets/],
    [['--statsd-host', 'unix:/run/statsd.sock'], {}, 'statsd_host', /no unix datagram sockets/],
    [['--statsd-host', 'localhost'], {}, 'statsd_host', /expected HOST:PORT/],
    [['--metrics-bind', 'fd://3'], {}, 'metrics_bind', /^Invalid value for metrics_bind: "fd:\/\/3"/],
    [['--metrics-bind', 'a:b:c'], {}, 'metrics_bind', /^Invalid value for metrics_bind: /],
    [['--control-socket-mode', '600'], {}, 'control_socket_mode', /write 0o600, not 600/],
    [['--control-socket', ''], {}, 'control_socket', /a path is needed/],
    [['-e', 'NOEQUALS'], {}, 'raw_env', /expected KEY=VALUE/],
    [['--forwarded-allow-ips', '10.0.0.1/8'], {}, 'forwarded_allow_ips', /host bits set/],
    [['--proxy-allow-from', 'somewhere'], {}, 'proxy_allow_ips', /not an IP address/],
    [['--reload-extra-file', 'no/such/file'], {}, 'reload_extra_files', /no such file or directory/],
    [['--limit-request-line', '9000'], {}, 'limit_request_line', /must be <= 8190/],
    [[], { WEB_CONCURRENCY: 'lots' }, 'workers', /not an integer/],
  ];
  for (const [argv, env, setting, message] of cases) {
    const err = await refused(t, argv, env);
    t.equal(err.setting, setting, `${argv.join(' ') || env.QILIN_CMD_ARGS || JSON.stringify(env)}: names ${setting}`);
    t.match(err.message, message);
  }
});

t.test('the app and the flags that end at once', async (t) => {
  const dir = configDir(t, null);
  t.equal(
    (await resolveConfig([], { QILIN_CMD_ARGS: 'from-env.ts' }, dir)).app,
    'from-env.ts',
    'the app from $QILIN_CMD_ARGS',
  );
  t.equal(
    (await resolveConfig(['cli.ts'], { QILIN_CMD_ARGS: 'from-env.ts' }, dir)).app,
    'cli.ts',
    "the command line's first",
  );
  const r = await resolveConfig(['--help', '-v'], {}, dir);
  t.ok(r.help && r.version);
});

t.test('TCP: HOST:PORT, [IPv6]:PORT, :PORT, PORT, HOST', async (t) => {
  t.same(parseBind('127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000, text: '127.0.0.1:8000' });
  t.same(parseBind('example.com:80'), { kind: 'tcp', host: 'example.com', port: 80, text: 'example.com:80' });
  t.same(parseBind('[::1]:8000'), { kind: 'tcp', host: '::1', port: 8000, text: '[::1]:8000' });
  t.same(parseBind('[::ffff:127.0.0.1]:81'), {
    kind: 'tcp',
    host: '::ffff:127.0.0.1',
    port: 81,
    text: '[::ffff:127.0.0.1]:81',
  });
  t.same(parseBind(':9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000, text: ':9000' }, ':PORT: every interface');
  t.same(parseBind('9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000, text: '9000' }, 'PORT alone: every interface');
  t.same(
    parseBind('localhost'),
    { kind: 'tcp', host: 'localhost', port: 8000, text: 'localhost' },
    "HOST alone: Gunicorn's port 8000",
  );
  t.same(
    parseBind('127.0.0.1:0'),
    { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' },
    'port 0: the OS picks',
  );
  t.equal((parseBind('127.0.0.1:65535') as { port: number }).port, 65535);
});

t.test('unix:PATH and fd://N', async (t) => {
  t.same(parseBind('unix:/run/qilin/app.sock'), {
    kind: 'unix',
    path: '/run/qilin/app.sock',
    text: 'unix:/run/qilin/app.sock',
  });
  t.same(
    parseBind('unix:///run/app.sock'),
    { kind: 'unix', path: '/run/app.sock', text: 'unix:///run/app.sock' },
    'the URL form',
  );
  t.same(parseBind('unix:app.sock'), { kind: 'unix', path: 'app.sock', text: 'unix:app.sock' }, 'a relative path');
  t.same(parseBind('fd://3'), { kind: 'fd', fd: 3, text: 'fd://3' });
});

t.test('what is no bind: a ConfigError naming bind and saying why', async (t) => {
  const bad: [string, string][] = [
    ['unix:', 'unix: needs a path'],
    ['fd://2', 'fd:// needs a file descriptor number >= 3'],
    ['fd://x', 'fd:// needs a file descriptor number >= 3'],
    ['fd://', 'fd:// needs a file descriptor number >= 3'],
    ['::1:8000', 'IPv6 addresses go in brackets: [::1]:8000'],
    ['127.0.0.1:65536', 'port must be 0-65535'],
    ['127.0.0.1:http', 'port must be 0-65535'],
    ['127.0.0.1:', 'port must be 0-65535'],
    ['', 'empty'],
  ];
  for (const [text, why] of bad) {
    t.throws(
      () => parseBind(text),
      { name: 'ConfigError', setting: 'bind', message: `Invalid value for bind: ${JSON.stringify(text)} (${why})` },
      JSON.stringify(text),
    );
  }
});

t.test('metrics_bind: TCP or a unix socket, never an inherited fd', async (t) => {
  t.same(parseMetricsBind('127.0.0.1:9100'), { kind: 'tcp', host: '127.0.0.1', port: 9100, text: '127.0.0.1:9100' });
  t.same(parseMetricsBind('unix:/run/m.sock'), { kind: 'unix', path: '/run/m.sock', text: 'unix:/run/m.sock' });
  t.throws(() => parseMetricsBind('fd://3'), {
    setting: 'metrics_bind',
    message: 'Invalid value for metrics_bind: "fd://3" (HOST:PORT or unix:PATH)',
  });
  t.throws(
    () => parseMetricsBind('127.0.0.1:99999'),
    { setting: 'metrics_bind', message: 'Invalid value for metrics_bind: "127.0.0.1:99999" (port must be 0-65535)' },
    'a bad address names metrics_bind, not bind',
  );
});

t.test('as Gunicorn logs them', async (t) => {
  const cases: [string, string, string][] = [
    ['127.0.0.1:8000', '127.0.0.1:8000', 'http://127.0.0.1:8000'],
    ['[::1]:8000', '[::1]:8000', 'http://[::1]:8000'],
    [':9000', '0.0.0.0:9000', 'http://0.0.0.0:9000'],
    ['localhost', 'localhost:8000', 'http://localhost:8000'],
    ['unix:///run/app.sock', 'unix:/run/app.sock', 'unix:/run/app.sock'],
    ['fd://4', 'fd://4', 'fd://4'],
  ];
  for (const [text, formatted, url] of cases) {
    const b = parseBind(text);
    t.equal(formatBind(b), formatted, `${text} is logged as ${formatted}`);
    t.equal(bindUrl(b), url);
    t.same(parseBind(formatBind(b)).kind, b.kind, `${formatted} reads back as the same kind of bind`);
  }
});
