// Bind addresses (lib/config/binds.ts): the forms docs/configure.md lists (Gunicorn's, with `:PORT`
// and `PORT` alone on every interface and `HOST` alone on port 8000), refusals naming the setting,
// and the way the start-up log writes them.
import t from 'tap';
import { bindUrl, formatBind, parseBind, parseMetricsBind } from '../../lib/config/binds.js';

t.test('TCP: HOST:PORT, [IPv6]:PORT, :PORT, PORT, HOST', async (t) => {
  t.same(parseBind('127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000, text: '127.0.0.1:8000' });
  t.same(parseBind('example.com:80'), { kind: 'tcp', host: 'example.com', port: 80, text: 'example.com:80' });
  t.same(parseBind('[::1]:8000'), { kind: 'tcp', host: '::1', port: 8000, text: '[::1]:8000' });
  t.same(parseBind('[::ffff:127.0.0.1]:81'), { kind: 'tcp', host: '::ffff:127.0.0.1', port: 81, text: '[::ffff:127.0.0.1]:81' });
  t.same(parseBind(':9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000, text: ':9000' }, ':PORT: every interface');
  t.same(parseBind('9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000, text: '9000' }, 'PORT alone: every interface');
  t.same(parseBind('localhost'), { kind: 'tcp', host: 'localhost', port: 8000, text: 'localhost' }, "HOST alone: Gunicorn's port 8000");
  t.same(parseBind('127.0.0.1:0'), { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, 'port 0: the OS picks');
  t.equal((parseBind('127.0.0.1:65535') as { port: number }).port, 65535);
});

t.test('unix:PATH and fd://N', async (t) => {
  t.same(parseBind('unix:/run/qilin/app.sock'), { kind: 'unix', path: '/run/qilin/app.sock', text: 'unix:/run/qilin/app.sock' });
  t.same(parseBind('unix:///run/app.sock'), { kind: 'unix', path: '/run/app.sock', text: 'unix:///run/app.sock' }, 'the URL form');
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
    t.throws(() => parseBind(text), { name: 'ConfigError', setting: 'bind', message: `Invalid value for bind: ${JSON.stringify(text)} (${why})` }, JSON.stringify(text));
  }
});

t.test('metrics_bind: TCP or a unix socket, never an inherited fd', async (t) => {
  t.same(parseMetricsBind('127.0.0.1:9100'), { kind: 'tcp', host: '127.0.0.1', port: 9100, text: '127.0.0.1:9100' });
  t.same(parseMetricsBind('unix:/run/m.sock'), { kind: 'unix', path: '/run/m.sock', text: 'unix:/run/m.sock' });
  t.throws(() => parseMetricsBind('fd://3'), { setting: 'metrics_bind', message: 'Invalid value for metrics_bind: "fd://3" (HOST:PORT or unix:PATH)' });
  t.throws(() => parseMetricsBind('127.0.0.1:99999'), { setting: 'metrics_bind', message: 'Invalid value for metrics_bind: "127.0.0.1:99999" (port must be 0-65535)' },
    'a bad address names metrics_bind, not bind');
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
