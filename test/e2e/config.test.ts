// Settings precedence, config files, clear errors and Gunicorn's exit codes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fixture, freePort, request, runQilin, startQilin } from '../helpers.js';

t.test('a bad app path exits 4 (APP_LOAD_ERROR) and stops every worker', async (t) => {
  const port = await freePort();
  const r = await runQilin(['-w', '2', '-b', `127.0.0.1:${port}`, 'test/fixtures/missing.ts']);
  t.equal(r.code, 4);
  t.match(r.output, /Failed to load module test\/fixtures\/missing\.ts/);
  t.match(r.output, /Reason: App failed to load\./);
});

t.test('an export that is not an app exits 4 naming module and export', async (t) => {
  const port = await freePort();
  const r = await runQilin(['-b', `127.0.0.1:${port}`, `${fixture('not-an-app.ts')}:answer`]);
  t.equal(r.code, 4);
  t.match(r.output, /'answer' in '.*not-an-app\.ts' is not an app qilin can serve: it is a number \(42\)/);
  const r2 = await runQilin(['-b', `127.0.0.1:${port}`, `${fixture('not-an-app.ts')}:nothing`]);
  t.equal(r2.code, 4);
  t.match(r2.output, /Failed to find attribute 'nothing'/);
});

t.test('port in use: "Connection in use", exit 3, no worker started', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    blocker.close();
  });
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await runQilin(['-w', '2', '-b', `127.0.0.1:${port}`, fixture('app.ts')]);
  t.equal(r.code, 3);
  t.match(r.output, new RegExp(`Connection in use: 127\\.0\\.0\\.1:${port}`));
  t.notMatch(r.output, /Booting worker/);
});

t.test('a bad setting value: one line naming the setting, exit 1', async (t) => {
  for (const [args, setting] of [
    [['-w', 'abc'], 'workers'],
    [['--worker-connections', '0'], 'worker_connections'],
    [['-k', 'gevent'], 'worker_class'],
    [['-b', '[::1'], 'bind'],
    [['--log-level', 'loud'], 'loglevel'],
    [['-e', 'NOEQUALS'], 'raw_env'],
    [['--engine', 'gevent'], 'engine'],
    [['--limit-request-line', '9000'], 'limit_request_line'],
    [['--limit-request-fields', '-1'], 'limit_request_fields'],
    [['--umask', '0o9'], 'umask'],
    [['-b', 'fd://1'], 'bind'],
    [['--engine', 'uws', '-b', 'unix:/tmp/qilin-never.sock'], 'engine'],
  ] as const) {
    const r = await runQilin([...args, fixture('app.ts')]);
    t.equal(r.code, 1, `${args.join(' ')} → exit 1`);
    t.equal(r.output.trim().split('\n').length, 1, 'one line');
    t.match(r.output, new RegExp(`^Error: .*\\b${setting}\\b`), `names ${setting}`);
  }
  const unknown = await runQilin(['--no-such-option', fixture('app.ts')]);
  t.equal(unknown.code, 1);
  t.match(unknown.output, /unrecognized option: --no-such-option/);
});

t.test('the new settings parse as Gunicorn writes them (octal umask, both field_size spellings)', async (t) => {
  const r = await runQilin([
    '--print-config',
    '--umask',
    '0o007',
    '--limit-request-field_size',
    '100',
    '--limit-request-body',
    '1024',
    '--backlog',
    '64',
    fixture('app.ts'),
  ]);
  t.equal(r.code, 0);
  t.match(r.output, /^umask\s+= 7$/m);
  t.match(r.output, /^limit_request_field_size\s+= 100$/m);
  t.match(r.output, /^limit_request_body\s+= 1024$/m);
  t.match(r.output, /^backlog\s+= 64$/m);
  t.match(r.output, /^engine\s+= null$/m, 'no engine asked for: chosen at start from the binds');
  const dashed = await runQilin(['--print-config', '--limit-request-field-size', '99', fixture('app.ts')]);
  t.match(dashed.output, /^limit_request_field_size\s+= 99$/m);
});

t.test('precedence: defaults < config file < QILIN_CMD_ARGS < command line', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-config-'));
  writeFileSync(
    path.join(dir, 'qilin.config.ts'),
    "import { defineConfig } from '" +
      path.resolve('dist/lib/index.js') +
      "';\n" +
      'export default defineConfig({ workers: 3, timeout: 11, graceful_timeout: 12, keepalive: 13 });\n',
  );
  const print = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await runQilin([...args, '--print-config'], { cwd: dir, env });
    t.equal(r.code, 0, `--print-config ${args.join(' ')}`);
    return Object.fromEntries(
      r.output
        .trim()
        .split('\n')
        .map((l) => {
          const [k, v] = l.split(/\s+=\s+/);
          return [k!, JSON.parse(v!)];
        }),
    );
  };
  const fromFile = await print([]);
  t.equal(fromFile.workers, 3, 'default config file read');
  t.equal(fromFile.timeout, 11);
  t.equal(fromFile.config, path.join(dir, 'qilin.config.ts'));
  const fromEnv = await print([], { QILIN_CMD_ARGS: '--timeout 21 -w 4' });
  t.equal(fromEnv.timeout, 21, 'QILIN_CMD_ARGS over the config file');
  t.equal(fromEnv.graceful_timeout, 12);
  const fromCli = await print(['-t', '31'], { QILIN_CMD_ARGS: '--timeout 21 -w 4' });
  t.equal(fromCli.timeout, 31, 'command line over QILIN_CMD_ARGS');
  t.equal(fromCli.workers, 4);
  const env = await print([], { WEB_CONCURRENCY: '5', PORT: '9999' });
  t.equal(env.workers, 3, 'config file over $WEB_CONCURRENCY');
  t.same(env.bind, ['0.0.0.0:9999'], '$PORT sets the default bind');

  writeFileSync(path.join(dir, 'bad.config.mjs'), 'export const workers = "many";\n');
  const bad = await runQilin(['-c', 'bad.config.mjs', '--print-config'], { cwd: dir });
  t.equal(bad.code, 1);
  t.match(bad.output, /Error: Invalid value for workers: "many"/);
});

t.test('--check-config loads the app and exits', async (t) => {
  t.equal((await runQilin(['--check-config', fixture('app.ts')])).code, 0);
  const bad = await runQilin(['--check-config', fixture('not-an-app.ts')]);
  t.equal(bad.code, 1);
  t.match(bad.output, /Error while loading the application/);
});

t.test('pidfile, process titles, raw_env, chdir', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-pid-'));
  const pidfile = path.join(dir, 'qilin.pid');
  const q = await startQilin(t, [
    '-p',
    pidfile,
    '-n',
    'titled',
    '-e',
    'GREETING=hi',
    '--chdir',
    path.join(dir),
    fixture('app.ts'),
  ]);
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(q.pid), 'pidfile holds the arbiter pid');
  const args = (pid: number) => execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
  t.match(args(q.pid), /qilin: master \[titled\]/);
  t.match(args(q.workerPids()[0]!), /qilin: worker \[titled\]/);
  t.equal((await request(q.url + '/')).status, 200);
  t.equal((await q.stop()).code, 0);
  t.notOk(existsSync(pidfile), 'pidfile removed at exit');
});
