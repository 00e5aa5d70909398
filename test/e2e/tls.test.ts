// TLS termination (certfile, keyfile, ca_certs, cert_reqs, ciphers) on both engines: HTTPS served
// and seen by the app as https://, plain HTTP refused, bad files refused before any worker starts,
// the certificate re-read on HUP, client certificates.
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import {
  ENGINES,
  fixture,
  freePort,
  rawExchange,
  runQilin,
  selfSignedCert,
  sleep,
  startQilin,
  type Qilin,
} from '../helpers.js';

t.setTimeout(120_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
selfSignedCert(file('a.key'), file('a.pem'));
selfSignedCert(file('b.key'), file('b.pem'));
// A CA, a client certificate it signs, and a client certificate nobody trusted signs.
openssl('req', '-x509', ...EC, '-subj', '/CN=qilin test CA', '-days', '1', '-keyout', 'ca.key', '-out', 'ca.pem');
openssl('req', ...EC, '-subj', '/CN=client', '-keyout', 'client.key', '-out', 'client.csr');
openssl(
  'x509',
  '-req',
  '-in',
  'client.csr',
  '-CA',
  'ca.pem',
  '-CAkey',
  'ca.key',
  '-CAcreateserial',
  '-days',
  '1',
  '-out',
  'client.pem',
);
openssl('req', '-x509', ...EC, '-subj', '/CN=rogue', '-days', '1', '-keyout', 'rogue.key', '-out', 'rogue.pem');

const read = (name: string) => readFileSync(file(name));
const fingerprint = (name: string) => new X509Certificate(read(name)).fingerprint256;
const TLS_ARGS = ['--certfile', file('a.pem'), '--keyfile', file('a.key')];
const APP = fixture('tls-app.mjs');

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  reused: boolean;
}

/** One HTTPS request trusting `ca` (the server's self-signed certificate by default). */
function get(
  url: string,
  opts: {
    method?: string;
    body?: string;
    agent?: https.Agent | false;
    cert?: string;
    key?: string;
    ca?: Buffer[];
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: opts.agent ?? false,
        ca: opts.ca ?? [read('a.pem')],
        cert: opts.cert ? read(opts.cert) : undefined,
        key: opts.key ? read(opts.key) : undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The SHA-256 fingerprint of the certificate the server presents to a new connection. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca: [read('a.pem'), read('b.pem')] }, () => {
      resolve(sock.getPeerX509Certificate()!.fingerprint256);
      sock.end();
    });
    sock.on('error', reject);
  });
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
let hasCurl = true;
try {
  execFileSync('curl', ['--version'], { stdio: 'ignore' });
} catch {
  hasCurl = false;
}

for (const engine of ENGINES)
  t.test(`${engine}: serves HTTPS`, async (t) => {
    const q = await startQilin(
      t,
      [...TLS_ARGS, '--access-logfile', '-', '--access-logformat', 'access %(H)s "%(r)s" %(s)s', APP],
      { engine },
    );
    const base = `https://127.0.0.1:${q.port}`;
    t.match(q.output, `[INFO] Listening at: ${base} (${q.pid})`, 'logged with https://, as Gunicorn does');

    const r = await get(`${base}/path?x=1`);
    t.equal(r.status, 200);
    t.equal(JSON.parse(r.body).url, `${base}/path?x=1`, 'request.url starts with https://');

    const big = 'qilin '.repeat(40_000); // 240 kB: many TLS records each way
    const p = await get(`${base}/echo`, { method: 'POST', body: big });
    t.equal(p.status, 200);
    t.equal(p.body.length, big.length, 'POST body round trip: the length');
    t.ok(p.body === big, 'POST body round trip: the bytes');
    t.equal(p.headers['x-url'], `${base}/echo`);

    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: [read('a.pem')] });
    t.teardown(() => agent.destroy());
    const first = await get(`${base}/1`, { agent });
    const second = await get(`${base}/2`, { agent });
    t.equal(first.reused, false);
    t.equal(second.reused, true, 'the second request reuses the TLS connection (keep-alive)');
    t.equal(JSON.parse(second.body).pid, JSON.parse(first.body).pid);

    await q.waitFor(/access HTTP\/1\.1 "GET \/2 HTTP\/1\.1" 200/);
    t.match(
      q.output,
      'access HTTP/1.1 "POST /echo HTTP/1.1" 200',
      'the access log shows the HTTP version, as without TLS',
    );

    const plain = await rawExchange(q.port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 3000);
    t.notMatch(plain.text, /^HTTP\/1\.[01] 200/, 'plain HTTP to the TLS port is not served');
    t.ok(
      plain.closed || /^HTTP\/1\.1 400/.test(plain.text),
      `closed or 400 (got ${JSON.stringify(plain.text.slice(0, 40))}, closed: ${plain.closed})`,
    );

    t.test('curl --cacert', { skip: hasCurl ? false : 'curl is not installed' }, async (t) => {
      const c = await curl(['--cacert', file('a.pem'), `${base}/from-curl`]);
      t.equal(c.code, 0, c.stderr);
      t.equal(JSON.parse(c.stdout).url, `${base}/from-curl`);
      const post = await curl(['--cacert', file('a.pem'), '--data-binary', 'posted by curl', `${base}/echo`]);
      t.equal(post.stdout, 'posted by curl');
    });

    const worker = q.workerPids();
    t.equal(worker.length, 1, 'the worker serves on after all of it');
  });

t.test('a Node-style app (Express) sees an encrypted connection', async (t) => {
  const q = await startQilin(t, [...TLS_ARGS, fixture('tls-express.mjs')], { engine: 'node' });
  const r = await get(`https://127.0.0.1:${q.port}/`);
  t.same(JSON.parse(r.body), { protocol: 'https', secure: true, encrypted: true });
});

t.test('config errors: one line naming the setting, exit 1, no worker', async (t) => {
  const cases: [string, string[], RegExp][] = [
    [
      'missing certificate file',
      ['--certfile', file('nope.pem'), '--keyfile', file('a.key')],
      /^Error: Invalid value for certfile: ".*nope\.pem" \(no such file\)$/m,
    ],
    [
      'missing key file',
      ['--certfile', file('a.pem'), '--keyfile', file('nope.key')],
      /^Error: Invalid value for keyfile: ".*nope\.key" \(no such file\)$/m,
    ],
    [
      'only certfile',
      ['--certfile', file('a.pem')],
      /^Error: Invalid value for keyfile: null \(certfile is set: TLS needs both certfile and keyfile\)$/m,
    ],
    ['only keyfile', ['--keyfile', file('a.key')], /^Error: Invalid value for certfile: null \(keyfile is set/m],
    [
      "a key that is not the certificate's",
      ['--certfile', file('a.pem'), '--keyfile', file('b.key')],
      /^Error: Invalid value for keyfile: ".*b\.key" \(it is not the key of certfile ".*a\.pem"\)$/m,
    ],
    [
      'a key given as the certificate',
      ['--certfile', file('a.key'), '--keyfile', file('a.key')],
      /^Error: Invalid value for certfile: ".*a\.key" \(not a PEM certificate/m,
    ],
    [
      'a cipher list that selects nothing',
      [...TLS_ARGS, '--ciphers', 'NO-SUCH-CIPHER'],
      /^Error: Invalid value for ciphers: "NO-SUCH-CIPHER" \(no cipher match\)$/m,
    ],
    [
      'client certificates without TLS',
      ['--cert-reqs', '2', '--ca-certs', file('ca.pem')],
      /^Error: Invalid value for ca_certs: .* \(TLS is off: set certfile and keyfile\)$/m,
    ],
    [
      'cert_reqs 2 on the uws engine',
      [...TLS_ARGS, '--ca-certs', file('ca.pem'), '--cert-reqs', '2', '--engine', 'uws'],
      /^Error: Invalid value for engine: "uws" \(cert_reqs 2 \(CERT_REQUIRED\) needs the node engine: use --engine node\)$/m,
    ],
    [
      'TLS 1.3 suites only on the uws engine',
      [...TLS_ARGS, '--ciphers', 'TLS_AES_128_GCM_SHA256', '--engine', 'uws'],
      /^Error: Invalid value for engine: "uws" \(ciphers naming TLS 1\.3 suites only needs the node engine/m,
    ],
  ];
  await Promise.all(
    cases.map(async ([what, args, re]) => {
      const r = await runQilin(['-b', '127.0.0.1:0', ...args, APP]);
      t.equal(r.code, 1, `${what}: exit 1`);
      t.match(r.output, re, what);
      t.equal(r.output.trim().split('\n').length, 1, `${what}: one line`);
    }),
  );
  const check = await runQilin(['--check-config', '--certfile', file('a.pem'), '--keyfile', file('b.key'), APP]);
  t.equal(check.code, 1, '--check-config checks the files too');
  t.match(check.output, /Invalid value for keyfile/);
});

t.test('uws: a cipher list its TLS library does not take stops the worker with a clear error', async (t) => {
  // DHE ciphers are OpenSSL's (the arbiter's check passes) but not BoringSSL's, which uWS is built with.
  const r = await runQilin([
    '-b',
    `127.0.0.1:${await freePort()}`,
    '--engine',
    'uws',
    ...TLS_ARGS,
    '--ciphers',
    'DHE-RSA-AES256-GCM-SHA384',
    APP,
  ]);
  t.equal(r.code, 3, 'exit 3: the worker failed to boot');
  t.match(
    r.output,
    /\[ERROR\] uWebSockets\.js cannot set up TLS for 127\.0\.0\.1:\d+ from certfile ".*a\.pem", keyfile ".*a\.key", ciphers "DHE-RSA-AES256-GCM-SHA384"/,
  );
});

/** Wait until `pid` is no longer one of the arbiter's workers. */
async function gone(q: Qilin, pid: number): Promise<void> {
  const end = Date.now() + 15000;
  while (q.workerPids().includes(pid)) {
    if (Date.now() > end) throw new Error(`worker ${pid} did not stop:\n${q.output}`);
    await sleep(50);
  }
}

for (const engine of ENGINES)
  t.test(`${engine}: HUP re-reads the certificate and key`, async (t) => {
    copyFileSync(file('a.pem'), file(`live-${engine}.pem`));
    copyFileSync(file('a.key'), file(`live-${engine}.key`));
    const q = await startQilin(
      t,
      ['--certfile', file(`live-${engine}.pem`), '--keyfile', file(`live-${engine}.key`), APP],
      { engine },
    );
    t.equal(await servedFingerprint(q.port), fingerprint('a.pem'), 'serves the first certificate');
    const [first] = q.workerPids();

    if (engine === 'node') {
      // A broken replacement: the reload fails and the running workers serve on.
      writeFileSync(file(`live-${engine}.pem`), 'not a certificate\n');
      q.signal('SIGHUP');
      await q.waitFor(
        /Reload failed, keeping the running config: Invalid value for certfile: .* \(not a PEM certificate/,
      );
      t.same(q.workerPids(), [first], 'the worker is kept');
      t.equal(await servedFingerprint(q.port), fingerprint('a.pem'));
    }

    copyFileSync(file('b.pem'), file(`live-${engine}.pem`));
    copyFileSync(file('b.key'), file(`live-${engine}.key`));
    q.signal('SIGHUP');
    await q.waitFor(/Worker \(pid:\d+\) ready/, { count: 2 });
    await gone(q, first!);
    t.equal(
      await servedFingerprint(q.port),
      fingerprint('b.pem'),
      'after HUP, new connections get the new certificate',
    );
    const r = await get(`https://127.0.0.1:${q.port}/`, { ca: [read('b.pem')] });
    t.equal(r.status, 200);
  });

t.test('node: cert_reqs 2 (CERT_REQUIRED) with ca_certs', async (t) => {
  // No --engine: client certificates required pick the node engine.
  const q = await startQilin(t, [...TLS_ARGS, '--ca-certs', file('ca.pem'), '--cert-reqs', '2', APP]);
  t.match(q.output, /Using engine: node \(node:http\) \(cert_reqs 2 \(CERT_REQUIRED\) needs it\)/);
  const url = `https://127.0.0.1:${q.port}/`;
  await t.rejects(get(url), 'a client without a certificate is refused');
  await t.rejects(
    get(url, { cert: 'rogue.pem', key: 'rogue.key' }),
    'a client whose certificate ca_certs did not sign is refused',
  );
  const ok = await get(url, { cert: 'client.pem', key: 'client.key' });
  t.equal(ok.status, 200, 'a client with a certificate ca_certs signed is served');
  t.equal(JSON.parse(ok.body).url, url);
  t.equal(q.workerPids().length, 1, 'refused clients cost no worker');
});

for (const engine of ENGINES)
  t.test(`${engine}: cert_reqs 1 (CERT_OPTIONAL) with ca_certs`, async (t) => {
    const q = await startQilin(t, [...TLS_ARGS, '--ca-certs', file('ca.pem'), '--cert-reqs', '1', APP], { engine });
    const url = `https://127.0.0.1:${q.port}/`;
    t.equal((await get(url)).status, 200, 'a client without a certificate is served');
    t.equal(
      (await get(url, { cert: 'client.pem', key: 'client.key' })).status,
      200,
      'a client with a certificate ca_certs signed is served',
    );
    await t.rejects(
      get(url, { cert: 'rogue.pem', key: 'rogue.key' }),
      'a client whose certificate does not verify is refused',
    );
    const [worker] = q.workerPids();
    t.equal((await get(url)).status, 200, 'and the worker serves on');
    t.same(q.workerPids(), [worker]);
  });
