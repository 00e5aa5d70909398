// statsd as Gunicorn sends it (`statsd_host`, `statsd_prefix`, `dogstatsd_tags`), with `qilin.` in
// place of `gunicorn.`. Lines are collected for one turn of the event loop and go out in as few
// datagrams as fit: counters summed (`qilin.requests:57|c`), one timer line per request. UDP to a
// server that is down or unreachable is dropped without a word: metrics never break serving.
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { parseStatsdHost, type StatsdTarget } from '../config/binds.js';
import type { Settings } from '../config/settings.js';

/** Under a 1500-byte Ethernet MTU with IP and UDP headers: a datagram never fragments. */
const MAX_DATAGRAM = 1432;

/** Gunicorn's prefix rule: `app` and `app.` both give `app.` before every name. */
export function statsdPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('.') ? prefix : `${prefix}.`;
}

/** The statsd client the settings ask for, or null (statsd_host unset; config validated it). */
export function statsdFor(settings: Pick<Settings, 'statsd_host' | 'statsd_prefix' | 'dogstatsd_tags'>): Statsd | null {
  const target = settings.statsd_host === null ? null : parseStatsdHost(settings.statsd_host);
  return target !== null && typeof target !== 'string'
    ? new Statsd(target, settings.statsd_prefix, settings.dogstatsd_tags)
    : null;
}

export class Statsd {
  private readonly socket: dgram.Socket;
  private readonly prefix: string;
  private readonly tags: string;
  private readonly counters = new Map<string, number>();
  private lines: string[] = [];
  // Requests of this turn, kept as numbers: their lines are written once per turn, at the flush.
  private requests = 0;
  private durations: number[] = [];
  private readonly statuses = new Map<number, number>();
  private scheduled = false;
  private connected = false;
  private closed = false;

  constructor(target: StatsdTarget, prefix: string, tags: string) {
    this.prefix = `${statsdPrefix(prefix)}qilin.`;
    this.tags = tags ? `|#${tags}` : '';
    this.socket = dgram.createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
    this.socket.on('error', () => {
      /* down or unreachable: metrics are best effort */
    });
    this.socket.unref();
    // Connected once: the name is resolved once, not per datagram.
    this.socket.connect(target.port, target.host, () => {
      this.connected = true;
      this.flush();
    });
  }

  increment(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
    this.schedule();
  }

  gauge(name: string, value: number): void {
    this.lines.push(`${this.prefix}${name}:${value}|g${this.tags}`);
    this.schedule();
  }

  /** One request, as Gunicorn's access(): a count, its duration, its status. */
  request(status: number, ms: number): void {
    this.requests++;
    this.durations.push(ms);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Send what this turn collected, packed into datagrams of at most MAX_DATAGRAM bytes. */
  flush(): void {
    if (this.closed) return;
    if (!this.connected) {
      // Not connected yet (or the name never resolved): keep a little, never grow without bound.
      if (this.lines.length > 1000 || this.durations.length > 1000) {
        this.lines = [];
        this.durations = [];
        this.requests = 0;
        this.statuses.clear();
      }
      return;
    }
    const lines = this.lines;
    this.lines = [];
    if (this.requests > 0) {
      const timer = `${this.prefix}request.duration:`;
      const ms = `|ms${this.tags}`;
      for (const d of this.durations) lines.push(timer + Math.round(d * 1000) / 1000 + ms);
      lines.push(`${this.prefix}requests:${this.requests}|c${this.tags}`);
      for (const [status, n] of this.statuses) lines.push(`${this.prefix}request.status.${status}:${n}|c${this.tags}`);
      this.requests = 0;
      this.durations = [];
      this.statuses.clear();
    }
    for (const [name, n] of this.counters) lines.push(`${this.prefix}${name}:${n}|c${this.tags}`);
    this.counters.clear();
    let packet = '';
    for (const line of lines) {
      if (packet !== '' && packet.length + 1 + line.length > MAX_DATAGRAM) {
        this.send(packet);
        packet = '';
      }
      packet = packet === '' ? line : `${packet}\n${line}`;
    }
    if (packet !== '') this.send(packet);
  }

  private send(packet: string): void {
    try {
      this.socket.send(packet);
    } catch {
      /* closed meanwhile */
    }
  }

  close(): void {
    this.flush();
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      /* closed already */
    }
  }
}
