// The error and access logs (lib/ops/log.ts) in Gunicorn's formats: the access log format compiler
// and each of Gunicorn's atoms (`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"` and the
// rest, as Gunicorn's glogging documents them), the timestamps, the JSON lines, and the Logger
// writing real files: levels, batching of access lines, reopening (USR1), statsd counts.
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ConfigError, DEFAULT_ACCESS_LOG_FORMAT } from '../../lib/config/settings.js';
import {
  Logger,
  accessLogTime,
  compileAccessFormat,
  errorLogTime,
  isJsonAccessFormat,
  jsonAccessLine,
  type AccessEntry,
} from '../../lib/ops/log.js';

function entry(
  over: Partial<AccessEntry> & { request?: Record<string, string>; response?: Record<string, string> } = {},
): AccessEntry {
  const request = over.request ?? { referer: 'http://example.com/from', 'user-agent': 'curl/8.5.0' };
  const response = over.response ?? { 'content-type': 'text/plain' };
  return {
    remote: '192.0.2.7',
    method: 'GET',
    target: '/path/x?a=1&b=2',
    protocol: 'HTTP/1.1',
    status: 200,
    length: 13,
    startMs: 0,
    requestHeader: (n) => request[n] ?? null,
    responseHeader: (n) => response[n] ?? null,
    ...over,
  };
}
const format = (f: string, e = entry(), us = 0) => compileAccessFormat(f)(e, us);

function tmpdir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test("the default format is Gunicorn's common log format line", async (t) => {
  const line = format(DEFAULT_ACCESS_LOG_FORMAT);
  t.match(
    line,
    /^192\.0\.2\.7 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/path\/x\?a=1&b=2 HTTP\/1\.1" 200 13 "http:\/\/example\.com\/from" "curl\/8\.5\.0"$/,
  );
});

t.test("Gunicorn's atoms", async (t) => {
  const e = entry();
  const atoms: [string, string][] = [
    ['h', '192.0.2.7'],
    ['l', '-'],
    ['r', 'GET /path/x?a=1&b=2 HTTP/1.1'],
    ['m', 'GET'],
    ['U', '/path/x'],
    ['q', 'a=1&b=2'],
    ['H', 'HTTP/1.1'],
    ['s', '200'],
    ['B', '13'],
    ['b', '13'],
    ['f', 'http://example.com/from'],
    ['a', 'curl/8.5.0'],
    ['p', `<${process.pid}>`],
  ];
  for (const [atom, want] of atoms) t.equal(format(`%(${atom})s`, e), want, `%(${atom})s`);
  t.equal(format('%(U)s|%(q)s', entry({ target: '/plain' })), '/plain|', 'no query: U is the target, q empty');
  t.equal(format('%(b)s %(B)s', entry({ length: 0 })), '- 0', "no body: b is '-' (CLF), B is 0");
  t.equal(format('%(f)s %(a)s', entry({ request: {} })), '- -', 'no Referer, no User-Agent');
  t.equal(format('%(s)s', entry({ status: 503 })), '503');
  t.equal(format('%(u)s', entry({ request: {} })), '-', 'no user');
});

t.test('%(u)s: the user of HTTP Basic credentials, as Gunicorn reads them', async (t) => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const user = (authorization: string) => format('%(u)s', entry({ request: { authorization } }));
  t.equal(user(`Basic ${b64('ada:secret')}`), 'ada');
  t.equal(user(`basic ${b64('ada:pa:ss')}`), 'ada', 'any case; the name ends at the first colon');
  t.equal(user(`BASIC   ${b64('ada')}  `), 'ada', 'no colon: all of it; spaces around the token');
  t.equal(user(`Basic ${b64('zoë:x')}`), 'zoë', 'UTF-8');
  t.equal(user(`Basic ${b64('a"b:x')}`), 'a\\"b', 'a quote is escaped as in every atom');
  t.equal(user(`Basic ${b64(':secret')}`), '-', 'an empty name');
  t.equal(user('Bearer abc.def'), '-', 'another scheme');
  t.equal(user('Basic'), '-', 'no credentials');
  t.equal(user('Basic YWRh'), 'ada', 'base64 without a colon');
  t.equal(user('Basic YWR'), '-', 'bad padding (Python raises, Gunicorn logs -)');
  t.equal(user(`Basic ${Buffer.from([0xff, 0x3a, 0x61]).toString('base64')}`), '-', 'not UTF-8');
});

t.test('durations: T seconds, M milliseconds, D microseconds, L decimal seconds', async (t) => {
  const us = 2_345_678.4;
  t.equal(format('%(T)s %(M)s %(D)s %(L)s', entry(), us), '2 2345 2345678 2.345678');
  t.equal(format('%(T)s %(M)s %(D)s %(L)s', entry(), 999.6), '0 0 1000 0.001000', 'under a millisecond');
});

t.test('header and environment atoms; anything unknown is -', async (t) => {
  const e = entry({
    request: { 'x-request-id': 'req-42' },
    response: { 'content-type': 'text/html', 'x-cache': 'HIT' },
  });
  t.equal(format('%({X-Request-Id}i)s', e), 'req-42', 'request headers, any case');
  t.equal(format('%({x-missing}i)s', e), '-');
  t.equal(format('%({Content-Type}o)s %({X-CACHE}o)s', e), 'text/html HIT', 'response headers, any case');
  t.equal(format('%({x-missing}o)s', e), '-');
  process.env.QILIN_LOG_TEST = 'from-env';
  t.teardown(() => {
    delete process.env.QILIN_LOG_TEST;
  });
  t.equal(format('%({QILIN_LOG_TEST}e)s %({QILIN_NOT_SET}e)s', e), 'from-env -', 'environment variables');
  t.equal(format('%(z)s|%(hh)s|%({x}q)s', e), '-|-|-', 'unknown atoms');
  t.equal(format('no atoms at all', e), 'no atoms at all');
  t.equal(format('[%(s)s] %(m)s%(U)s done', e), '[200] GET/path/x done', 'text around and between atoms is kept');
  t.equal(format('%(s)d %s %(s', e), '%(s)d %s %(s', 'what is no atom is left as it is');
});

t.test('a double quote inside a value is escaped, as Gunicorn does, so quoted fields stay whole', async (t) => {
  const e = entry({ request: { 'user-agent': 'evil" 200 999 "x', referer: 'http://x/"' } });
  t.equal(format('"%(a)s"', e), '"evil\\" 200 999 \\"x"');
  t.equal(format('"%(f)s"', e), '"http://x/\\""');
  t.equal(format('%({user-agent}i)s', e), 'evil\\" 200 999 \\"x', 'header atoms too');
  t.equal(format('"%(r)s"', entry({ target: '/a"b' })), '"GET /a\\"b HTTP/1.1"', 'the request line');
});

t.test("timestamps: the access log's [%d/%b/%Y:%H:%M:%S %z], the error log's %Y-%m-%d %H:%M:%S %z", async (t) => {
  const tz = process.env.TZ;
  t.teardown(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });
  const when = new Date(Date.UTC(2026, 10, 2, 4, 30, 5)); // 2 November 2026, 04:30:05 UTC
  process.env.TZ = 'UTC';
  t.equal(accessLogTime(when), '[02/Nov/2026:04:30:05 +0000]');
  t.equal(errorLogTime(when), '2026-11-02 04:30:05 +0000');
  process.env.TZ = 'Asia/Kolkata';
  t.equal(accessLogTime(when), '[02/Nov/2026:10:00:05 +0530]', 'an offset with minutes');
  process.env.TZ = 'America/St_Johns';
  t.equal(accessLogTime(when), '[02/Nov/2026:01:00:05 -0330]', 'a negative offset with minutes');
  t.equal(errorLogTime(when), '2026-11-02 01:00:05 -0330');
  process.env.TZ = 'UTC';
  t.equal(
    accessLogTime(new Date(Date.UTC(2027, 0, 9, 23, 59, 59))),
    '[09/Jan/2027:23:59:59 +0000]',
    'day and month padded',
  );
});

t.test('JSON lines: fields in order, hostile strings escaped, one valid line', async (t) => {
  const lone = String.fromCharCode(0xd800); // built at run time: a compiler may rewrite one in a literal
  const line = jsonAccessLine({
    time: '2026-11-02T04:30:05.000Z',
    remote: '192.0.2.7',
    method: 'GET',
    path: '/a"b\\c',
    query: 'x=\n1',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 13,
    duration_ms: 1.5,
    referer: null,
    user_agent: `lone ${lone} surrogate`,
    request_id: 'r"1',
    pid: 42,
  });
  t.notMatch(line, /\n/, 'one line');
  const parsed = JSON.parse(line) as Record<string, unknown>;
  t.same(Object.keys(parsed), [
    'time',
    'remote',
    'method',
    'path',
    'query',
    'protocol',
    'status',
    'bytes',
    'duration_ms',
    'referer',
    'user_agent',
    'request_id',
    'pid',
  ]);
  t.match(parsed, { path: '/a"b\\c', query: 'x=\n1', referer: null, request_id: 'r"1', status: 200, duration_ms: 1.5 });
  t.match(line, /"lone \\ud800 surrogate/, 'a lone surrogate is written as an escape, not as a broken byte sequence');
  t.equal(parsed.user_agent, `lone ${lone} surrogate`, 'and reads back as it was');
  t.ok(isJsonAccessFormat(' JSON '), 'the word json, any case');
  t.notOk(isJsonAccessFormat('%(h)s json'));
});

t.test('Logger: the error log line, levels, statsd counts', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'error.log');
  const log = new Logger({
    loglevel: 'warning',
    errorlog: file,
    accesslog: null,
    access_log_format: DEFAULT_ACCESS_LOG_FORMAT,
  });
  const counted: string[] = [];
  log.statsd = { increment: (name) => counted.push(name) };
  log.debug('a debug line');
  log.info('an info line');
  log.warning('a warning line');
  log.errorMsg('an error line');
  log.critical('a critical line');
  log.exception('Error handling request /x', new Error('boom'));
  log.close();
  const lines = readFileSync(file, 'utf8');
  t.notMatch(lines, /debug line|info line/, 'below loglevel: not written');
  t.match(
    lines,
    new RegExp(
      String.raw`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[${process.pid}\] \[WARNING\] a warning line$`,
      'm',
    ),
  );
  t.match(lines, /\] \[ERROR\] an error line$/m);
  t.match(lines, /\] \[CRITICAL\] a critical line$/m);
  t.match(lines, /\] \[ERROR\] Error handling request \/x\nError: boom\n\s+at /, 'an exception with its stack');
  t.same(counted, ['log.warning', 'log.error', 'log.critical', 'log.exception'], "counted as Gunicorn's log.* metrics");
});

t.test('Logger: access lines are batched, flushed, and follow a reopen (USR1)', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'access.log');
  const log = new Logger({
    loglevel: 'info',
    errorlog: path.join(dir, 'error.log'),
    accesslog: file,
    access_log_format: '%(m)s %(U)s %(s)s',
  });
  t.ok(log.access, 'an access log');
  t.ok(log.access!.peer === false, 'a format without %(h)s does not need the peer');
  log.access!.writeTimed(entry({ target: '/one' }), 10);
  t.equal(readFileSync(file, 'utf8'), '', 'not written per request');
  log.flush();
  t.equal(readFileSync(file, 'utf8'), 'GET /one 200\n', 'written at the flush');
  renameSync(file, `${file}.1`); // logrotate
  log.access!.writeTimed(entry({ target: '/two' }), 10);
  log.reopen();
  log.access!.writeTimed(entry({ target: '/three' }), 10);
  log.close();
  t.equal(
    readFileSync(`${file}.1`, 'utf8'),
    'GET /one 200\nGET /two 200\n',
    'what came before the reopen goes to the old file',
  );
  t.equal(readFileSync(file, 'utf8'), 'GET /three 200\n', 'then the new one');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(readFileSync(file, 'utf8'), 'GET /three 200\n', 'nothing written twice');
  const json = new Logger({
    loglevel: 'info',
    errorlog: '-',
    accesslog: path.join(dir, 'a.json'),
    access_log_format: 'json',
  });
  t.ok(json.access!.peer, 'the JSON lines always show the peer');
  json.close();
});

t.test('Logger: a log file that cannot be opened is a ConfigError naming its setting', async (t) => {
  const missing = path.join(tmpdir(t), 'no/such/dir/x.log');
  t.throws(() => new Logger({ loglevel: 'info', errorlog: missing, accesslog: null, access_log_format: '' }), {
    name: 'ConfigError',
    setting: 'errorlog',
    message: /^Invalid value for errorlog: /,
  });
  t.throws(() => new Logger({ loglevel: 'info', errorlog: '-', accesslog: missing, access_log_format: '' }), {
    name: 'ConfigError',
    setting: 'accesslog',
  });
  try {
    new Logger({ loglevel: 'info', errorlog: missing, accesslog: null, access_log_format: '' });
  } catch (err) {
    t.type(err, ConfigError, 'an instance of ConfigError, which the command line prints as one line');
  }
});
