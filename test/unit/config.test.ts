// Config resolution (lib/config/resolve.ts): defaults < config file < $QILIN_CMD_ARGS < command line,
// Gunicorn's order, with real config files in a temporary directory and the environment passed in;
// and every bad value stopping qilin with a ConfigError that names the setting.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError } from '../../lib/config/settings.js';
import { resolveConfig } from '../../lib/config/resolve.js';

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
  const dir = configDir(t, `export default { workers: 3, timeout: 45, keepalive: 7, loglevel: 'warning', bind: ['127.0.0.1:9001'] };\n`);
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

t.test('a list given on the command line replaces the file\'s, as Gunicorn', async (t) => {
  const dir = configDir(t, `export default { bind: ['127.0.0.1:9001', '127.0.0.1:9002'] };\n`);
  const { settings } = await resolveConfig(['-b', '127.0.0.1:9100', '-b', '127.0.0.1:9101'], {}, dir);
  t.same(settings.bind, ['127.0.0.1:9100', '127.0.0.1:9101']);
});

t.test('without a config file: the environment\'s defaults', async (t) => {
  const dir = configDir(t, null);
  const { settings, configFile } = await resolveConfig([], { WEB_CONCURRENCY: '4', PORT: '5000', FORWARDED_ALLOW_IPS: '10.0.0.0/8' }, dir);
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
  const dir = configDir(t, [
    'export default {',
    '  worker: 4,',
    '  xyzzy: 1,',
    '  post_fork(server, worker) {},',
    '  helper: () => 1,',
    '};',
  ].join('\n'));
  const { settings, warnings, hooks } = await resolveConfig([], {}, dir);
  t.equal(settings.workers, 1, 'a misspelt key sets nothing');
  const file = path.join(dir, 'qilin.config.mjs');
  t.same(warnings, [
    `Unknown setting 'worker' in config file ${file}, ignored (did you mean 'workers'?)`,
    `Unknown setting 'xyzzy' in config file ${file}, ignored`,
  ], 'one warning per unknown key that is not a function');
  t.type(hooks.post_fork, 'function', 'server hooks are taken');

  const bad = configDir(t, `export default { workers: 0 };\n`);
  const err = await refused(t, [], {}, bad);
  t.equal(err.setting, 'workers');
  t.equal(err.message, 'Invalid value for workers: 0 (must be >= 1)');

  const broken = configDir(t, `export default { workers: 2,, };\n`);
  const syntax = await refused(t, [], {}, broken);
  t.equal(syntax.setting, 'config');
  t.match(syntax.message, new RegExp(`^Failed to read config file: ${path.join(broken, 'qilin.config.mjs').replace(/[.\\]/g, '\\$&')}:1:\\d+: `),
    'a syntax error says where: FILE:LINE:COLUMN');
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
  t.equal((await resolveConfig([], { QILIN_CMD_ARGS: 'from-env.ts' }, dir)).app, 'from-env.ts', 'the app from $QILIN_CMD_ARGS');
  t.equal((await resolveConfig(['cli.ts'], { QILIN_CMD_ARGS: 'from-env.ts' }, dir)).app, 'cli.ts', 'the command line\'s first');
  const r = await resolveConfig(['--help', '-v'], {}, dir);
  t.ok(r.help && r.version);
});
