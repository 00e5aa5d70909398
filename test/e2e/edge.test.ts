// The edge features together: WebSockets over TLS (wss://) on both engines, and a PROXY protocol
// header in front of a TLS handshake on the node engine (a TCP load balancer before qilin's TLS).
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { ENGINES, fixture, selfSignedCert, startQilin } from '../helpers.js';

t.setTimeout(120_000);

/** The `ws` client, as this file uses it (the package ships no types). */
interface WsClient extends EventEmitter {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
type WsCtor = new (url: string, opts?: { ca?: Buffer[] }) => WsClient;
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: WsCtor };

const dir = mkdtempSync(path.join(os.tmpdir(), 'qilin-edge-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cert = path.join(dir, 'server.pem');
const key = path.join(dir, 'server.key');
selfSignedCert(key, cert);
const ca = [readFileSync(cert)];
const TLS_ARGS = ['--certfile', cert, '--keyfile', key];

/** Open a WebSocket, collect `count` messages after sending `send`, then close it. */
function exchange(url: string, send: string[], count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca });
    const got: string[] = [];
    ws.on('open', () => {
      for (const m of send) ws.send(m);
    });
    ws.on('message', (data: Buffer) => {
      got.push(data.toString());
      if (got.length === count) {
        ws.close(1000, 'done');
        resolve(got);
      }
    });
    ws.on('error', reject);
  });
}

for (const engine of ENGINES) {
  t.test(`${engine}: a WebSocket over TLS: wss:// in the socket's url, messages both ways`, async (t) => {
    const q = await startQilin(t, [...TLS_ARGS, fixture('websocket-app.ts')], { engine });
    const wss = `wss://127.0.0.1:${q.port}`;
    const [hello, echo] = await exchange(`${wss}/hello`, ['over tls'], 2);
    t.equal(hello, `hello - 1 ${wss}/hello`, 'the app sees wss:// and an open socket');
    t.equal(echo, 'over tls', 'echoed');
    // A plain ws:// client to the TLS port is not served.
    const plain = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${q.port}/hello`);
      ws.on('open', () => {
        ws.terminate();
        resolve('opened');
      });
      ws.on('error', () => resolve('refused'));
    });
    t.equal(plain, 'refused', 'ws:// to the TLS port does not open');
  });
}

t.test('node: a PROXY v1 header before the TLS handshake gives the client address', async (t) => {
  const q = await startQilin(t, [...TLS_ARGS, '--proxy-protocol', 'v1', fixture('proxy-app.mjs')], { engine: 'node' });
  /**
   * One request over TLS behind a PROXY line. `apart`: the line goes in a packet of its own, the
   * TLS handshake 20 ms later; else both in one write (corked), as a front-end often sends them.
   */
  const once = (apart: boolean) =>
    new Promise<string>((resolve, reject) => {
      const raw = net.connect(q.port, '127.0.0.1', () => {
        if (!apart) raw.cork();
        raw.write('PROXY TCP4 203.0.113.9 127.0.0.1 51000 443\r\n');
        const handshake = () => {
          const secure = tls.connect({ socket: raw, ca, servername: 'localhost' }, () => {
            secure.write('GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
          });
          if (!apart) process.nextTick(() => raw.uncork());
          let text = '';
          secure.on('data', (d: Buffer) => {
            text += d.toString();
          });
          secure.on('end', () => resolve(text));
          secure.on('error', reject);
          secure.setTimeout(5000, () => secure.destroy(new Error('no answer within 5 s')));
        };
        if (apart) setTimeout(handshake, 20);
        else handshake();
      });
      raw.on('error', reject);
    });
  for (const apart of [true, false]) {
    const how = apart ? 'the PROXY line in a packet of its own' : 'the PROXY line and the handshake together';
    for (let i = 0; i < 5; i++) {
      const body = await once(apart);
      t.match(body, /^HTTP\/1\.1 200 /, `${how} (${i + 1}): served over TLS`);
      const json = JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4)) as {
        url: string;
        remote: { hostname: string; port: number };
      };
      t.equal(json.url, 'https://localhost/who', 'https:// in request.url');
      t.same(
        json.remote,
        { transport: 'tcp', hostname: '203.0.113.9', port: 51000 },
        'the client the PROXY header names',
      );
    }
  }
});

/** One request written raw on `socket` (already connected); resolves with all the server sent. */
function rawOn(socket: net.Socket | tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.write(text);
  });
}
const H2C =
  'GET /h2c HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

t.test('node: an upgrade the app does not take (h2c) is served as plain HTTP over TLS', async (t) => {
  const q = await startQilin(t, [...TLS_ARGS, fixture('proxy-app.mjs')], { engine: 'node' });
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: q.port, ca, servername: 'localhost' }, () => resolve(s));
    s.on('error', reject);
  });
  const text = await rawOn(secure, H2C);
  t.match(text, /^HTTP\/1\.1 200 /, 'answered over the same TLS connection');
  t.match(text, /"url":"https:\/\/localhost\/h2c"/, 'the app saw the request');
});

t.test('node: the same behind a PROXY header (cleartext): served, with the client the header named', async (t) => {
  const q = await startQilin(t, ['--proxy-protocol', 'v1', fixture('proxy-app.mjs')], { engine: 'node' });
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(q.port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  const text = await rawOn(raw, `PROXY TCP4 203.0.113.7 127.0.0.1 52000 80\r\n${H2C}`);
  t.match(text, /^HTTP\/1\.1 200 /, 'answered');
  t.match(text, /"hostname":"203\.0\.113\.7"/, 'with the client the PROXY header named');
});
