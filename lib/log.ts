// Error log and access log, in Gunicorn's formats.
import { closeSync, openSync, writeSync } from 'node:fs';
import { ConfigError, LOG_LEVELS, type Settings } from './settings.js';

type Level = (typeof LOG_LEVELS)[number];
const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
const LEVEL_NAME: Record<Level, string> = {
  debug: 'DEBUG', info: 'INFO', warning: 'WARNING', error: 'ERROR', critical: 'CRITICAL',
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function tzOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return `${off >= 0 ? '+' : '-'}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}
/** `2026-11-22 10:00:00 +0000`, as Gunicorn's error log. */
export function errorLogTime(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tzOffset(d)}`;
}
/** `[22/Nov/2026:10:00:00 +0000]`, as Gunicorn's access log `%(t)s`. */
export function accessLogTime(d = new Date()): string {
  return `[${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tzOffset(d)}]`;
}

/** A log destination: `-` (stdout/stderr) or a file opened for append; reopened on USR1. */
class Sink {
  private fd: number;
  private pending: string[] = [];
  private scheduled = false;
  /** `setting` names the option in the error when the file cannot be opened. */
  constructor(private readonly target: string, private readonly dash: number, private readonly setting: string) {
    this.fd = this.open();
  }
  private open(): number {
    if (this.target === '-') return this.dash;
    try {
      return openSync(this.target, 'a');
    } catch (err) {
      const detail = (err as Error).message;
      throw new ConfigError(this.setting, `Invalid value for ${this.setting}: ${JSON.stringify(this.target)} (${detail})`);
    }
  }
  writeNow(line: string): void {
    try { writeSync(this.fd, line); } catch { /* a log that cannot be written must not stop the server */ }
  }
  /** Batched: lines written in one tick go out in one write. */
  writeLater(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    this.writeNow(data);
  }
  close(): void {
    this.flush();
    if (this.target !== '-') closeSync(this.fd);
  }
  reopen(): void {
    if (this.target === '-') return;
    this.flush();
    let fd: number;
    try {
      fd = this.open();
    } catch (err) {
      // The file cannot be reopened (its directory went away): keep writing to the old one.
      this.writeNow(`[${errorLogTime()}] [${process.pid}] [ERROR] Cannot reopen the log: ${(err as Error).message}\n`);
      return;
    }
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
  }
}

export class Logger {
  private readonly rank: number;
  private readonly error: Sink;
  readonly access: AccessLog | null;

  constructor(settings: Pick<Settings, 'loglevel' | 'errorlog' | 'accesslog' | 'access_log_format'>) {
    this.rank = LEVEL_RANK[settings.loglevel];
    this.error = new Sink(settings.errorlog, 2, 'errorlog');
    try {
      this.access = settings.accesslog
        ? new AccessLog(new Sink(settings.accesslog, 1, 'accesslog'), settings.access_log_format)
        : null;
    } catch (err) {
      this.error.close();
      throw err;
    }
  }

  log(level: Level, msg: string): void {
    if (LEVEL_RANK[level] < this.rank) return;
    this.error.writeNow(`[${errorLogTime()}] [${process.pid}] [${LEVEL_NAME[level]}] ${msg}\n`);
  }
  debug(msg: string): void { this.log('debug', msg); }
  info(msg: string): void { this.log('info', msg); }
  warning(msg: string): void { this.log('warning', msg); }
  errorMsg(msg: string): void { this.log('error', msg); }
  critical(msg: string): void { this.log('critical', msg); }
  /** An error with its stack, as Gunicorn's `log.exception`. */
  exception(msg: string, err: unknown): void {
    const detail = err instanceof Error ? err.stack ?? String(err) : String(err);
    this.log('error', `${msg}\n${detail}`);
  }

  reopen(): void {
    this.error.reopen();
    this.access?.sink.reopen();
  }
  flush(): void {
    this.access?.sink.flush();
  }
  /** Flush and close the files (a reload replaces the logger). */
  close(): void {
    this.error.close();
    this.access?.sink.close();
  }
}

/** What the access log needs of one request; built only when the access log is on. */
export interface AccessEntry {
  remote: string;
  method: string;
  target: string;
  protocol: string;
  status: number;
  length: number;
  requestHeader(name: string): string | null;
  responseHeader(name: string): string | null;
  startNs: bigint;
}

type Atom = (e: AccessEntry, elapsedUs: number) => string;

const ATOMS: Record<string, Atom> = {
  h: (e) => e.remote,
  l: () => '-',
  u: () => '-',
  t: () => accessLogTime(),
  r: (e) => `${e.method} ${e.target} ${e.protocol}`,
  m: (e) => e.method,
  U: (e) => { const q = e.target.indexOf('?'); return q < 0 ? e.target : e.target.slice(0, q); },
  q: (e) => { const q = e.target.indexOf('?'); return q < 0 ? '' : e.target.slice(q + 1); },
  H: (e) => e.protocol,
  s: (e) => String(e.status),
  B: (e) => String(e.length),
  b: (e) => (e.length > 0 ? String(e.length) : '-'),
  f: (e) => e.requestHeader('referer') ?? '-',
  a: (e) => e.requestHeader('user-agent') ?? '-',
  T: (_e, us) => String(Math.floor(us / 1e6)),
  M: (_e, us) => String(Math.floor(us / 1e3)),
  D: (_e, us) => String(Math.round(us)),
  L: (_e, us) => (us / 1e6).toFixed(6),
  p: () => `<${process.pid}>`,
};

/** Compile a Gunicorn access log format once into a list of parts. */
export function compileAccessFormat(format: string): Atom {
  const parts: (string | Atom)[] = [];
  const re = /%\(([^)]+)\)s/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(format))) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    const key = m[1]!;
    const header = /^\{([^}]+)\}([ioe])$/.exec(key);
    if (header) {
      const name = header[1]!.toLowerCase();
      const kind = header[2];
      parts.push(
        kind === 'i' ? (e) => e.requestHeader(name) ?? '-'
          : kind === 'o' ? (e) => e.responseHeader(name) ?? '-'
            : () => process.env[header[1]!] ?? '-',
      );
    } else {
      parts.push(ATOMS[key] ?? (() => '-'));
    }
    last = re.lastIndex;
  }
  if (last < format.length) parts.push(format.slice(last));
  return (e, us) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(e, us);
    return s;
  };
}

export class AccessLog {
  private readonly format: Atom;
  constructor(readonly sink: Sink, format: string) {
    this.format = compileAccessFormat(format);
  }
  write(e: AccessEntry): void {
    const us = Number(process.hrtime.bigint() - e.startNs) / 1e3;
    this.sink.writeLater(this.format(e, us) + '\n');
  }
}
