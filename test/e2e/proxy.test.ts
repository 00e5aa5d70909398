// Behind proxies and load balancers: forwarded_allow_ips, secure_scheme_headers, the client address
// (fetch apps' `info`, Hono's getConnInfo, Express, the access log) on both engines, the PROXY
// protocol on the node engine over raw sockets, and the settings' checks. Real servers, real sockets.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import {
  ENGINES,
  fixture,
  freePort,
  parseResponses,
  request,
  runQilin,
  sleep,
  startQilin,
  type Qilin,
} from '../helpers.js';

type Remote = { transport: string; hostname?: string; port?: number; path?: string };

async function getJson(
  q: Qilin,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const r = await request(`${q.url}${p}`, { headers });
  return { status: r.status, body: r.status === 200 ? JSON.parse(r.body) : r.body };
}

/** Access log lines printed so far that log `path`. */
function logLines(q: Qilin, p: string): string[] {
  return q.output.split('\n').filter((l) => l.includes(`"GET ${p} `) || l.includes(`"path":"${p}"`));
}

async function logLine(q: Qilin, p: string): Promise<string> {
  await q.waitFor(new RegExp(`(GET |"path":")${p.replace(/[/?]/g, '\\$&')}[ "]`));
  return logLines(q, p)[0]!;
}

/** Bytes on a fresh connection; everything read until the server closes, or half-close after `holdMs`. */
function raw(
  port: number,
  data: Buffer | string | (Buffer | string)[],
  holdMs = 800,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const timer = setTimeout(() => s.end(), holdMs);
    const stop = setTimeout(() => {
      s.destroy();
      resolve({ text, closed });
    }, holdMs + 1500);
    s.on('data', (d) => {
      text += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      clearTimeout(stop);
      resolve({ text, closed });
    });
    // Pieces are written a tick apart: a header may arrive split.
    const pieces = Array.isArray(data) ? data : [data];
    void (async () => {
      for (const p of pieces) {
        s.write(p);
        await sleep(15);
      }
    })();
  });
}

const body = (text: string, i = 0) => JSON.parse(parseResponses(text)[i]!.body);

const V2_SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** A PROXY v2 header: PROXY command over TCP from `src`:`sport` (IPv4 or IPv6 given as 4 or 16 bytes). */
function v2(
  src: number[],
  sport: number,
  dst: number[] = src.length === 4 ? [10, 0, 0, 1] : Array(16).fill(0),
  dport = 443,
): Buffer {
  const v6 = src.length === 16;
  const addr = Buffer.alloc(v6 ? 36 : 12);
  Buffer.from(src).copy(addr, 0);
  Buffer.from(dst).copy(addr, v6 ? 16 : 4);
  addr.writeUInt16BE(sport, v6 ? 32 : 8);
  addr.writeUInt16BE(dport, v6 ? 34 : 10);
  const head = Buffer.from([0x21, v6 ? 0x21 : 0x11, 0, addr.length]);
  return Buffer.concat([V2_SIG, head, addr]);
}

const NGINX = (() => {
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || null : null;
})();

/**
 * nginx as a TLS-terminating front-end would be configured (proxy_add_x_forwarded_for, a fixed
 * X-Forwarded-Proto), in front of 127.0.0.1:`upstream`; stopped at teardown.
 */
async function startNginx(t: Test, upstream: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-proxy-nginx-'));
  const port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      `  server { listen 127.0.0.1:${port}; location / {`,
      `    proxy_pass http://127.0.0.1:${upstream}; proxy_http_version 1.1;`,
      '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto https;',
      '  } }',
      '}',
      '',
    ].join('\n'),
  );
  const proc = spawn(
    NGINX!,
    [
      '-p',
      dir,
      '-e',
      `${dir}/error.log`,
      '-c',
      path.join(dir, 'nginx.conf'),
      '-g',
      `daemon off; pid ${dir}/nginx.pid;`,
    ],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  t.teardown(async () => {
    try {
      process.kill(-proc.pid!, 'SIGQUIT');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 3000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  });
  for (const end = Date.now() + 10000; ;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (up) return port;
    if (proc.exitCode !== null || Date.now() > end)
      throw new Error(`nginx did not start: ${readFileSync(`${dir}/error.log`, 'utf8')}`);
    await sleep(50);
  }
}

const GET = (p: string, extra = '') => `GET ${p} HTTP/1.1\r\nHost: h\r\n${extra}Connection: close\r\n\r\n`;

for (const engine of ENGINES)
  t.test(engine, async (t) => {
    t.test('trusted front-end: scheme and client from its headers; JSON access log', async (t) => {
      const q = await startQilin(
        t,
        [
          '--forwarded-allow-ips',
          '127.0.0.1, 10.0.0.0/8,fd00::/8',
          '--access-logfile',
          '-',
          '--access-logformat',
          'json',
          fixture('proxy-app.mjs'),
        ],
        { engine },
      );

      const plain = await getJson(q, '/plain');
      t.match(plain.body.url, /^http:\/\/127\.0\.0\.1:\d+\/plain$/, 'no header: http');
      t.equal(plain.body.remote.transport, 'tcp');
      t.equal(plain.body.remote.hostname, '127.0.0.1', 'no header: the peer');
      if (engine === 'node') t.ok(plain.body.remote.port > 0, "node: the peer's port");
      else t.equal(plain.body.remote.port, 0, 'uws: no port (uWS does not give it)');

      for (const [name, value] of [
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Ssl', 'on'],
        ['X-Forwarded-Protocol', 'ssl'],
      ]) {
        const r = await getJson(q, '/s', { [name!]: value! });
        t.match(r.body.url, /^https:\/\//, `${name}: ${value} → https`);
      }
      t.match(
        (await getJson(q, '/s', { 'X-Forwarded-Proto': 'http' })).body.url,
        /^http:\/\//,
        'X-Forwarded-Proto: http → http',
      );

      // Listed hops (10.0.0.0/8) are passed; the nearest unlisted address is the client.
      const hop = await getJson(q, '/hops', { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9, 10.1.2.3' });
      t.same(
        hop.body.remote,
        { transport: 'tcp', hostname: '203.0.113.9', port: 0 },
        'X-Forwarded-For: the nearest unlisted address',
      );
      const v6 = await getJson(q, '/v6', { 'X-Forwarded-For': '2001:DB8:0:0::7, fd12::1' });
      t.equal(v6.body.remote.hostname, '2001:db8::7', 'IPv6 hops: an fd00::/8 hop passed, the client in RFC 5952 form');
      const garbage = await getJson(q, '/garbage', { 'X-Forwarded-For': '203.0.113.9, unknown, 10.9.9.9' });
      t.equal(
        garbage.body.remote.hostname,
        '10.9.9.9',
        'an entry that is no address stops the walk at the hop before it',
      );
      const junk = await getJson(q, '/junk', { 'X-Forwarded-For': 'nonsense' });
      t.equal(junk.body.remote.hostname, '127.0.0.1', 'no address at all: the peer');
      const fwd = await getJson(q, '/fwd', { Forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"' });
      t.same(
        fwd.body.remote,
        { transport: 'tcp', hostname: '2001:db8:cafe::17', port: 4711 },
        'Forwarded: for= with a port',
      );
      const both = await getJson(q, '/both', { Forwarded: 'for=192.0.2.60', 'X-Forwarded-For': '192.0.2.77' });
      t.equal(both.body.remote.hostname, '192.0.2.77', 'X-Forwarded-For is taken before Forwarded');
      const later = await getJson(q, '/later', { 'X-Forwarded-For': '192.0.2.99' });
      t.equal(later.body.remote.hostname, '192.0.2.99', 'read after an await: the forwarded client');
      const laterPeer = await getJson(q, '/later');
      t.equal(
        laterPeer.body.remote.hostname,
        '127.0.0.1',
        'read after an await, no header: the peer (read while the response is pending)',
      );

      const bad = await raw(q.port, GET('/contradictory', 'X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n'));
      t.match(bad.text, /^HTTP\/1\.1 400 [^]*Contradictory scheme headers/, 'contradictory scheme headers: 400');
      t.ok(bad.closed, 'and a closed connection');
      const twice = await raw(q.port, GET('/twice', 'X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n'));
      t.match(twice.text, /^HTTP\/1\.1 400 /, 'one header saying both: 400');

      const line = JSON.parse(await logLine(q, '/hops'));
      t.equal(line.remote, '203.0.113.9', 'JSON access log: the forwarded client');
      t.equal(JSON.parse(await logLine(q, '/plain')).remote, '127.0.0.1', 'JSON access log: the peer without a header');
      t.equal(JSON.parse(await logLine(q, '/fwd')).remote, '2001:db8:cafe::17', 'JSON access log: Forwarded for=');
    });

    t.test('untrusted peer: every forwarded header ignored; text access log', async (t) => {
      const q = await startQilin(
        t,
        ['--forwarded-allow-ips', '10.0.0.1', '--access-logfile', '-', fixture('proxy-app.mjs')],
        { engine },
      );
      const r = await getJson(q, '/u', {
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-For': '203.0.113.9',
        Forwarded: 'for=192.0.2.1',
      });
      t.match(r.body.url, /^http:\/\//, 'X-Forwarded-Proto ignored');
      t.equal(r.body.remote.hostname, '127.0.0.1', 'X-Forwarded-For ignored: the peer');
      const c = await getJson(q, '/c', { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Ssl': 'off' });
      t.equal(c.status, 200, 'contradictory scheme headers from an untrusted peer are not even read');
      t.match(await logLine(q, '/u'), /^127\.0\.0\.1 - - \[/, 'text access log %(h)s: the peer');
    });

    t.test("`*` and a config file's secure_scheme_headers; Hono's getConnInfo", async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-proxy-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const config = path.join(dir, 'qilin.config.mjs');
      writeFileSync(
        config,
        `export default { forwarded_allow_ips: '*', secure_scheme_headers: { 'X-Scheme': 'https' } };\n`,
      );
      const q = await startQilin(t, ['-c', config, '--access-logfile', '-', fixture('proxy-hono.ts')], { engine });
      const plain = await getJson(q, '/h');
      t.same(
        plain.body.remote,
        { address: '127.0.0.1', port: engine === 'node' ? plain.body.remote.port : 0, transport: 'tcp' },
        'getConnInfo: the peer',
      );
      const r = await getJson(q, '/h2', { 'X-Scheme': 'https', 'X-Forwarded-For': '198.51.100.1, 10.0.0.5' });
      t.match(r.body.url, /^https:\/\//, 'the configured header says https');
      t.equal(r.body.remote.address, '10.0.0.5', '`*` trusts the peer but lists no hop: the right-most entry');
      const d = await getJson(q, '/h3', { 'X-Forwarded-Proto': 'https' });
      t.match(d.body.url, /^http:\/\//, 'a header left out of secure_scheme_headers says nothing');
      t.match(await logLine(q, '/h2'), /^10\.0\.0\.5 - - /, 'text access log: the forwarded client');
    });

    t.test('behind nginx', { skip: NGINX ? false : 'nginx is not installed' }, async (t) => {
      const q = await startQilin(t, ['--access-logfile', '-', fixture('proxy-app.mjs')], { engine });
      const port = await startNginx(t, q.port);
      const direct = JSON.parse((await request(`http://127.0.0.1:${port}/n`)).body);
      t.match(direct.url, /^https:\/\/127\.0\.0\.1:\d+\/n$/, 'X-Forwarded-Proto from nginx: https');
      t.equal(direct.remote.hostname, '127.0.0.1', 'the client nginx saw');
      // An outer hop said who its client was; nginx appended the address it saw (listed: passed).
      const r = await request(`http://127.0.0.1:${port}/n2`, { headers: { 'X-Forwarded-For': '203.0.113.50' } });
      t.equal(JSON.parse(r.body).remote.hostname, '203.0.113.50', 'the client before the listed hops');
      t.match(await logLine(q, '/n2'), /^203\.0\.113\.50 - - /, 'access log: the same client');
    });
  });

t.test("node engine, Express: req.ip is the peer (trust proxy is Express's), the access log the client", async (t) => {
  const q = await startQilin(t, ['--proxy-protocol', '--access-logfile', '-', fixture('node-apps/proxy-express.cjs')], {
    engine: 'node',
  });
  const r = await getJson(q, '/e', { 'X-Forwarded-For': '203.0.113.9', 'X-Forwarded-Proto': 'https' });
  t.equal(r.body.ip, '127.0.0.1', 'req.ip: the peer');
  t.equal(r.body.protocol, 'http', "req.protocol: Express's own reading");
  t.match(await logLine(q, '/e'), /^203\.0\.113\.9 - - /, 'access log: the forwarded client');
  const bad = await raw(q.port, GET('/ec', 'X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n'));
  t.match(
    bad.text,
    /^HTTP\/1\.1 400 [^]*Contradictory scheme headers/,
    'contradictory scheme headers: 400 for a Node-style app too',
  );

  const pp = await raw(q.port, `PROXY TCP4 192.0.2.10 10.0.0.1 4567 80\r\n${GET('/ep')}`);
  t.same(
    body(pp.text),
    { ip: '192.0.2.10', address: '192.0.2.10', port: 4567, protocol: 'http' },
    'PROXY v1: req.ip, req.socket.remoteAddress and remotePort',
  );
  t.match(await logLine(q, '/ep'), /^192\.0\.2\.10 - - /, 'access log: the PROXY client');
  const v6 = await raw(q.port, [v2([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 9], 5555), GET('/ep6')]);
  t.same(body(v6.text), { ip: '2001:db8::9', address: '2001:db8::9', port: 5555, protocol: 'http' }, 'PROXY v2 IPv6');
});

t.test('node engine: PROXY protocol over raw sockets', async (t) => {
  const q = await startQilin(t, ['--proxy-protocol', 'auto', '--access-logfile', '-', fixture('proxy-app.mjs')], {
    engine: 'node',
  });
  const remote = (text: string, i = 0): Remote => body(text, i).remote;

  const one = await raw(
    q.port,
    `PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n${GET('/b')}`,
  );
  t.same(
    remote(one.text, 0),
    { transport: 'tcp', hostname: '192.0.2.1', port: 56324 },
    'v1: the client of the first request',
  );
  t.same(
    remote(one.text, 1),
    { transport: 'tcp', hostname: '192.0.2.1', port: 56324 },
    'v1: and of the next one on the connection',
  );
  const split = await raw(q.port, [
    'PRO',
    'XY TCP6 2001:db8::1 2001:db8::2 1000 443',
    '\r\nGET /split HTTP/1.1\r\n',
    'Host: h\r\nConnection: close\r\n\r\n',
  ]);
  t.same(
    remote(split.text),
    { transport: 'tcp', hostname: '2001:db8::1', port: 1000 },
    'v1 TCP6, the header arriving in pieces',
  );
  const four = await raw(q.port, [
    v2([192, 168, 1, 10], 12345).subarray(0, 7),
    Buffer.concat([v2([192, 168, 1, 10], 12345).subarray(7), Buffer.from(GET('/v2'))]),
  ]);
  t.same(
    remote(four.text),
    { transport: 'tcp', hostname: '192.168.1.10', port: 12345 },
    'v2 IPv4, split in the signature',
  );
  const local = Buffer.concat([V2_SIG, Buffer.from([0x20, 0x00, 0, 0])]);
  t.equal(
    remote((await raw(q.port, Buffer.concat([local, Buffer.from(GET('/local'))]))).text).hostname,
    '127.0.0.1',
    'v2 LOCAL: the peer',
  );
  t.equal(
    remote((await raw(q.port, `PROXY UNKNOWN\r\n${GET('/unknown')}`)).text).hostname,
    '127.0.0.1',
    'v1 UNKNOWN: the peer',
  );
  t.equal(
    remote((await raw(q.port, GET('/none'))).text).hostname,
    '127.0.0.1',
    'no header (auto): plain HTTP, the peer',
  );
  // The trust in forwarded headers is the front-end's (the connection's peer), as Gunicorn has it.
  const fwd = await raw(
    q.port,
    `PROXY TCP4 192.0.2.1 192.0.2.11 1 443\r\n${GET('/pfwd', 'X-Forwarded-Proto: https\r\n')}`,
  );
  t.match(body(fwd.text).url, /^https:/, 'behind a PROXY header from a trusted front-end, its scheme header counts');

  for (const [name, bytes] of [
    ['v1 address that is no IP', 'PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n\r\n'],
    ['v1 bad port', 'PROXY TCP4 192.168.0.1 192.168.0.11 65iii 100000\r\n'],
    ['v1 cut short', 'PROXY TCP4 192.168.0.1 192.16...\r\n'],
    ['v1 TCP4 with an IPv6 address', 'PROXY TCP4 ::1 ::1 1 2\r\n'],
    ['v1 line without end', `PROXY TCP4 ${'1'.repeat(120)}`],
  ] as const) {
    const r = await raw(q.port, bytes);
    t.match(r.text, /^HTTP\/1\.1 400 Bad Request[^]*Invalid PROXY line/, `${name}: 400`);
    t.ok(r.closed, `${name}: closed`);
  }
  const badVersion = Buffer.concat([V2_SIG, Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)]);
  const bv = await raw(q.port, badVersion);
  t.match(bv.text, /^HTTP\/1\.1 400 [^]*Invalid PROXY header: unsupported version 3/, 'v2 with version 3: 400');
  t.ok(bv.closed, 'v2 with version 3: closed');
  const udp = Buffer.concat([V2_SIG, Buffer.from([0x21, 0x12, 0, 12]), Buffer.alloc(12)]);
  t.match((await raw(q.port, udp)).text, /^HTTP\/1\.1 400 [^]*only TCP/, 'v2 over UDP: 400');
  const short = Buffer.concat([V2_SIG, Buffer.from([0x21, 0x11, 0, 4]), Buffer.alloc(4)]);
  t.match(
    (await raw(q.port, short)).text,
    /^HTTP\/1\.1 400 [^]*insufficient address data/,
    'v2 with too few address bytes: 400',
  );

  t.match(await logLine(q, '/a'), /^192\.0\.2\.1 - - /, 'access log: the PROXY client');
  t.notMatch(q.output, /exited with code|was sent/, 'no worker died');
});

t.test('node engine: a PROXY header from a peer not in proxy_allow_ips', async (t) => {
  const q = await startQilin(
    t,
    ['--proxy-protocol', 'v1', '--proxy-allow-from', '10.0.0.0/8', fixture('proxy-app.mjs')],
    { engine: 'node' },
  );
  const r = await raw(q.port, `PROXY TCP4 192.0.2.1 192.0.2.11 1 443\r\n${GET('/x')}`);
  t.match(r.text, /^HTTP\/1\.1 403 Forbidden[^]*Request forbidden/, '403, as Gunicorn');
  t.ok(r.closed, 'closed');
  const plain = await raw(q.port, GET('/plain'));
  t.equal(body(plain.text).remote.hostname, '127.0.0.1', 'the same peer without a header is served');
  const v2only = await raw(q.port, Buffer.concat([v2([192, 168, 1, 10], 1), Buffer.from(GET('/v2'))]));
  t.match(v2only.text, /^HTTP\/1\.1 400 /, 'proxy_protocol v1: a v2 header is no HTTP request (400)');
});

t.test('node engine, unix socket: info.remoteAddr is the socket; its peer is trusted', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-proxy-unix-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'app.sock');
  await startQilin(t, ['-b', `unix:${sock}`, fixture('proxy-app.mjs')]);
  const get = (headers: Record<string, string>) =>
    new Promise<any>((resolve, reject) => {
      http
        .get({ socketPath: sock, path: '/u', headers, agent: false }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(JSON.parse(text)));
        })
        .on('error', reject);
    });
  t.same((await get({})).remote, { transport: 'unix', path: sock }, "{ transport: 'unix', path }");
  const fwd = await get({ 'X-Forwarded-For': '203.0.113.4', 'X-Forwarded-Proto': 'https' });
  t.same(
    fwd.remote,
    { transport: 'tcp', hostname: '203.0.113.4', port: 0 },
    'X-Forwarded-For from a unix peer (nginx): the client',
  );
  t.match(fwd.url, /^https:\/\/localhost\/u$/, 'and its scheme');
});

t.test('settings: parsing, defaults and errors', async (t) => {
  const port = await freePort();
  const printed = await runQilin(['--print-config', '--proxy-protocol'], {
    env: { FORWARDED_ALLOW_IPS: '10.1.0.0/16' },
  });
  t.equal(printed.code, 0);
  t.match(printed.output, /^forwarded_allow_ips\s+= "10\.1\.0\.0\/16"$/m, '$FORWARDED_ALLOW_IPS is the default');
  t.match(printed.output, /^proxy_protocol\s+= "auto"$/m, '--proxy-protocol alone: auto');
  t.match(printed.output, /^proxy_allow_ips\s+= "127\.0\.0\.1,::1"$/m, 'proxy_allow_ips default');
  t.match(
    printed.output,
    /^secure_scheme_headers\s+= \{"X-FORWARDED-PROTOCOL":"ssl","X-FORWARDED-PROTO":"https","X-FORWARDED-SSL":"on"\}$/m,
    "Gunicorn's secure_scheme_headers",
  );
  const ok = await runQilin([
    '--print-config',
    '--forwarded-allow-ips',
    '*, 192.168.0.0/16, ::1, 2001:db8::/32',
    '--proxy-protocol=true',
  ]);
  t.equal(ok.code, 0, 'IPs, v4 and v6 networks and * together');
  t.match(ok.output, /^proxy_protocol\s+= "auto"$/m, "true is auto (Gunicorn's spelling)");

  for (const [args, setting] of [
    [['--forwarded-allow-ips', '10.0.0.1/33'], 'forwarded_allow_ips'],
    [['--forwarded-allow-ips', '10.0.0.1/8'], 'forwarded_allow_ips'],
    [['--forwarded-allow-ips', 'fd00::1/8'], 'forwarded_allow_ips'],
    [['--forwarded-allow-ips', 'localhost'], 'forwarded_allow_ips'],
    [['--forwarded-allow-ips', '::ffff:10.0.0.1'], 'forwarded_allow_ips'],
    [['--proxy-allow-from', '1.2.3'], 'proxy_allow_ips'],
    [['--proxy-protocol=v3'], 'proxy_protocol'],
    [['--engine', 'uws', '--proxy-protocol', 'v2'], 'engine'],
  ] as const) {
    const r = await runQilin(['-b', `127.0.0.1:${port}`, ...args, fixture('app.ts')]);
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
    t.match(r.output, new RegExp(`Invalid value for ${setting}`), `${args.join(' ')}: names ${setting}`);
  }
  const env = await runQilin(['-b', `127.0.0.1:${port}`, fixture('app.ts')], {
    env: { FORWARDED_ALLOW_IPS: '10.0.0.0/33' },
  });
  t.equal(env.code, 1, 'a bad $FORWARDED_ALLOW_IPS: exit 1');
  t.match(env.output, /Invalid value for forwarded_allow_ips/, 'a bad $FORWARDED_ALLOW_IPS: names forwarded_allow_ips');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-proxy-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'bad.config.mjs'), `export default { secure_scheme_headers: { 'X-Proto': true } };\n`);
  const conf = await runQilin(['-c', path.join(dir, 'bad.config.mjs'), '-b', `127.0.0.1:${port}`, fixture('app.ts')]);
  t.equal(conf.code, 1, 'secure_scheme_headers with a value that is no string: exit 1');
  t.match(conf.output, /Invalid value for secure_scheme_headers/, 'names secure_scheme_headers');
  const uws = await runQilin([
    '-b',
    `127.0.0.1:${port}`,
    '--engine',
    'uws',
    '--proxy-protocol',
    'v2',
    fixture('app.ts'),
  ]);
  t.match(uws.output, /proxy_protocol v2 needs the node engine: use --engine node/, 'uws: says to use the node engine');
});
