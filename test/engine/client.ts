// A raw HTTP/1.1 client for the engine tests: bytes written as given, what comes back read as it
// comes, responses split by their framing (Content-Length or chunked), and whether the server closed.
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  chunked: boolean;
}

export class RawClient {
  text = '';
  closed = false;
  private readonly socket: net.Socket;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Cut the connection (a client that leaves). */
  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `check` holds (true), or false after `ms`. */
  async until(check: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!check()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** The whole responses received so far (`heads`: which of them answer a HEAD, and so have no body). */
  responses(heads: boolean[] = []): RawResponse[] {
    return parseResponses(this.text, heads);
  }

  /** Wait for `n` whole responses (fails after `ms`). */
  async waitResponses(n: number, heads: boolean[] = [], ms = 5000): Promise<RawResponse[]> {
    if (!(await this.until(() => this.responses(heads).length >= n, ms))) {
      throw new Error(
        `${this.responses(heads).length} of ${n} responses after ${ms} ms; got ${JSON.stringify(this.text.slice(0, 300))}`,
      );
    }
    return this.responses(heads);
  }
}

/** Split a byte stream into the responses it holds; a response not yet whole is left out. */
export function parseResponses(text: string, heads: boolean[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let at = end + 4;
    let body = '';
    const chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
    const status = Number(m[1]);
    if (heads[out.length] || status === 204 || status === 304) {
      // no body
    } else if (chunked) {
      let whole = false;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at);
        if (lineEnd < 0) break;
        const size = parseInt(rest.slice(at, lineEnd), 16);
        if (Number.isNaN(size)) break;
        if (rest.length < lineEnd + 2 + size + 2) break;
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          whole = true;
          break;
        }
        body += rest.slice(at, at + size);
        at += size + 2;
      }
      if (!whole) break;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < at + length) break;
      body = rest.slice(at, at + length);
      at += length;
    }
    out.push({ status, headers, body, chunked });
    rest = rest.slice(at);
  }
  return out;
}

export const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

/** Resolves when `check` holds, polling (for state outside a connection: the pool). */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** A promise the test resolves: what an app waits on to answer when the test says. */
export class Gate {
  open!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
}
