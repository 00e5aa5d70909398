// Error log and access log, in Gunicorn's formats.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type fastJsonType from 'fast-json-stringify';
import type { Schema } from 'fast-json-stringify';
import { chownForWorkers } from './privileges.js';
import { ConfigError, type LOG_LEVELS, type Settings } from '../config/settings.js';

type Level = (typeof LOG_LEVELS)[number];
const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
const LEVEL_NAME: Record<Level, string> = {
  debug: 'DEBUG',
  info: 'INFO',
  warning: 'WARNING',
  error: 'ERROR',
  critical: 'CRITICAL',
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

// The access log's clocks, formatted once per second (text) or millisecond (JSON), not per line.
let textSecond = -1;
let textTime = '';
function accessLogTimeNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== textSecond) {
    textSecond = second;
    textTime = accessLogTime(new Date(now));
  }
  return textTime;
}
let isoMs = -1;
let isoTime = '';
function isoTimeNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoTime = new Date(now).toISOString();
  }
  return isoTime;
}

/** How long access log lines may wait, and how much of them, before they are written. */
const FLUSH_MS = 100;
const FLUSH_BYTES = 64 * 1024;

/** Told when a sink's writes start failing (once) and when they work again, with the lines lost meanwhile. */
export interface SinkTrouble {
  failed(err: NodeJS.ErrnoException): void;
  recovered(lost: number): void;
}

/** How many lines (ends of line) `buf` holds from `from` on. */
function linesIn(buf: Buffer, from: number): number {
  let n = 0;
  for (let i = buf.indexOf(10, from); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** A log destination: `-` (stdout/stderr) or a file opened for append; reopened on USR1. */
class Sink {
  private fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Told of failing writes (the access log's, told to the error log); null: they are dropped silently. */
  trouble: SinkTrouble | null = null;
  /** Lines lost since writes began to fail; -1 while they work. */
  private lost = -1;
  /** The last write stopped inside a line: the next starts on a new line. */
  private partial = false;
  /**
   * `setting` names the option in the error when the file cannot be opened; `owner` (user, group)
   * is who the workers run as: the file is given to them, so that they can reopen it.
   */
  constructor(
    private readonly target: string,
    private readonly dash: number,
    private readonly setting: string,
    private readonly owner: Pick<Settings, 'user' | 'group'> | null = null,
  ) {
    this.fd = this.open();
  }
  private open(): number {
    if (this.target === '-') return this.dash;
    try {
      const fd = openSync(this.target, 'a');
      if (this.owner) chownForWorkers(fd, this.owner);
      return fd;
    } catch (err) {
      const detail = (err as Error).message;
      throw new ConfigError(
        this.setting,
        `Invalid value for ${this.setting}: ${JSON.stringify(this.target)} (${detail})`,
      );
    }
  }
  writeNow(line: string): void {
    if (this.trouble === null) {
      try {
        writeSync(this.fd, line);
      } catch {
        /* a log that cannot be written must not stop the server */
      }
      return;
    }
    // All of it (a full disk may take part of a write), and what was lost when it cannot.
    const buf = Buffer.from(this.partial ? `\n${line}` : line);
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done);
    } catch (err) {
      this.partial = done > 0 && buf[done - 1] !== 10;
      const lost = linesIn(buf, done);
      if (this.lost < 0) {
        this.lost = lost;
        this.trouble.failed(err as NodeJS.ErrnoException);
      } else this.lost += lost;
      return;
    }
    this.partial = false;
    if (this.lost >= 0) {
      const lost = this.lost;
      this.lost = -1;
      this.trouble.recovered(lost);
    }
  }
  /**
   * Batched: lines go out in one write every FLUSH_MS, or as soon as FLUSH_BYTES wait. A write(2) per
   * event-loop turn cost ~1 µs a request at 60k req/s; this is a write per 100 ms under load.
   */
  writeLater(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref(); // the worker flushes as it exits
    }
  }
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
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

/** What the logger counts in statsd (Gunicorn's `log.critical|error|warning|exception`). */
interface LogCounter {
  increment(name: string): void;
}

export class Logger {
  /** Set when statsd_host is: warnings and worse are counted there too. */
  statsd: LogCounter | null = null;
  private readonly rank: number;
  private readonly error: Sink;
  readonly access: AccessLog | null;

  constructor(
    settings: Pick<Settings, 'loglevel' | 'errorlog' | 'accesslog' | 'access_log_format'> &
      Partial<Pick<Settings, 'user' | 'group'>>,
  ) {
    this.rank = LEVEL_RANK[settings.loglevel];
    const owner =
      settings.user != null || settings.group != null
        ? { user: settings.user ?? null, group: settings.group ?? null }
        : null;
    this.error = new Sink(settings.errorlog, 2, 'errorlog', owner);
    try {
      this.access = settings.accesslog
        ? new AccessLog(new Sink(settings.accesslog, 1, 'accesslog', owner), settings.access_log_format)
        : null;
    } catch (err) {
      this.error.close();
      throw err;
    }
    // Access log lines that cannot be written (a full disk) are dropped: said once as it starts, and
    // once as it ends, with what was lost.
    const where = settings.accesslog === '-' ? 'stdout' : settings.accesslog;
    if (this.access) {
      this.access.sink.trouble = {
        failed: (err) =>
          this.errorMsg(
            `Cannot write the access log (${where}): ${err.message}; its lines are dropped until it can be written again`,
          ),
        recovered: (lost) =>
          this.warning(`Access log (${where}) writable again after ${lost} lost line${lost === 1 ? '' : 's'}`),
      };
    }
  }

  log(level: Level, msg: string): void {
    if (this.statsd !== null && LEVEL_RANK[level] >= LEVEL_RANK.warning) this.statsd.increment(`log.${level}`);
    this.write(level, msg);
  }
  private write(level: Level, msg: string): void {
    if (LEVEL_RANK[level] < this.rank) return;
    this.error.writeNow(`[${errorLogTime()}] [${process.pid}] [${LEVEL_NAME[level]}] ${msg}\n`);
  }
  debug(msg: string): void {
    this.log('debug', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  warning(msg: string): void {
    this.log('warning', msg);
  }
  errorMsg(msg: string): void {
    this.log('error', msg);
  }
  critical(msg: string): void {
    this.log('critical', msg);
  }
  /** An error with its stack, as Gunicorn's `log.exception`. */
  exception(msg: string, err: unknown): void {
    const detail = err instanceof Error ? (err.stack ?? String(err)) : String(err);
    this.statsd?.increment('log.exception'); // counted as an exception only, as Gunicorn does
    this.write('error', `${msg}\n${detail}`);
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
  /** performance.now() when the request arrived. */
  startMs: number;
}

/**
 * Told of every finished request (status and length final): the access log itself, or what
 * lib/metrics/recorder.ts makes of it with the counts and the post_request hook.
 */
export interface RequestLog {
  /** An access log is on: the engines collect the peer, response headers and body length for it. */
  readonly detailed: boolean;
  /** The access log prints the peer (`%(h)s`, or JSON): reading it costs ~2 µs a request on uWS. */
  readonly peer: boolean;
  write(e: AccessEntry): void;
}

type Atom = (e: AccessEntry, elapsedUs: number) => string;

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The user name of HTTP Basic credentials (`%(u)s`), read as Gunicorn reads it: a field that starts
 * with `basic` (any case), then a space and base64 of `user:password`, decoded leniently as
 * Python's b64decode does (characters outside base64 dropped, padding required); the bytes before
 * the first `:` as strict UTF-8. null for anything else, an empty name included.
 */
export function basicAuthUser(field: string | null): string | null {
  if (field === null || field.slice(0, 5).toLowerCase() !== 'basic') return null;
  const space = field.indexOf(' ');
  if (space < 0) return null;
  const b64 = field.slice(space + 1).replace(/[^A-Za-z0-9+/=]/g, '');
  if (b64.length % 4 !== 0) return null; // Python: "Incorrect padding"
  const bytes = Buffer.from(b64, 'base64');
  const colon = bytes.indexOf(0x3a);
  try {
    return STRICT_UTF8.decode(colon < 0 ? bytes : bytes.subarray(0, colon)) || null;
  } catch {
    return null;
  }
}

const ATOMS: Record<string, Atom> = {
  h: (e) => e.remote,
  l: () => '-',
  u: (e) => basicAuthUser(e.requestHeader('authorization')) ?? '-',
  t: () => accessLogTimeNow(),
  r: (e) => `${e.method} ${e.target} ${e.protocol}`,
  m: (e) => e.method,
  U: (e) => {
    const q = e.target.indexOf('?');
    return q < 0 ? e.target : e.target.slice(0, q);
  },
  q: (e) => {
    const q = e.target.indexOf('?');
    return q < 0 ? '' : e.target.slice(q + 1);
  },
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
        kind === 'i'
          ? (e) => e.requestHeader(name) ?? '-'
          : kind === 'o'
            ? (e) => e.responseHeader(name) ?? '-'
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
    for (const p of parts) s += typeof p === 'string' ? p : escapeQuotes(p(e, us));
    return s;
  };
}

/** `"` in a value as `\"`, as Gunicorn writes it: a client's header cannot end a quoted field early. */
function escapeQuotes(value: string): string {
  return value.includes('"') ? value.replaceAll('"', '\\"') : value;
}

/** `--access-logformat json`: one object per request per line, fields in this order. */
const JSON_LINE_SCHEMA: Schema = {
  type: 'object',
  properties: {
    time: { type: 'string' },
    remote: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    query: { type: 'string' },
    protocol: { type: 'string' },
    status: { type: 'integer' },
    bytes: { type: 'integer' },
    duration_ms: { type: 'number' },
    referer: { type: 'string', nullable: true },
    user_agent: { type: 'string', nullable: true },
    request_id: { type: 'string', nullable: true },
    pid: { type: 'integer' },
  },
  required: [
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
  ],
};

export interface JsonAccessLine {
  time: string;
  remote: string;
  method: string;
  path: string;
  query: string;
  protocol: string;
  status: number;
  bytes: number;
  duration_ms: number;
  referer: string | null;
  user_agent: string | null;
  request_id: string | null;
  pid: number;
}

/**
 * Compiled once, on first use: fast-json-stringify writes the fields in a fixed order with no
 * per-call reflection, and escapes strings as JSON.stringify does (quotes, control characters, lone
 * surrogates as \uXXXX), so whatever a client sends stays one valid line. Loaded only when the JSON
 * format is chosen: with its schema compiler it adds ~14 MiB to a process.
 */
let compiledJsonLine: ((line: JsonAccessLine) => string) | null = null;
function compileJsonLine(): (line: JsonAccessLine) => string {
  if (compiledJsonLine === null) {
    const fastJson = createRequire(import.meta.url)('fast-json-stringify') as typeof fastJsonType;
    compiledJsonLine = fastJson(JSON_LINE_SCHEMA) as (line: JsonAccessLine) => string;
  }
  return compiledJsonLine;
}
export function jsonAccessLine(line: JsonAccessLine): string {
  return (compiledJsonLine ?? compileJsonLine())(line);
}

function jsonFormat(e: AccessEntry, us: number): string {
  const q = e.target.indexOf('?');
  return jsonAccessLine({
    time: isoTimeNow(),
    remote: e.remote,
    method: e.method,
    path: q < 0 ? e.target : e.target.slice(0, q),
    query: q < 0 ? '' : e.target.slice(q + 1),
    protocol: e.protocol,
    status: e.status,
    bytes: e.length,
    duration_ms: Math.round(us) / 1e3,
    referer: e.requestHeader('referer'),
    user_agent: e.requestHeader('user-agent'),
    request_id: e.requestHeader('x-request-id'),
    pid: process.pid,
  });
}

/** The word `json` for `access_log_format` (any case) selects the JSON lines. */
export const isJsonAccessFormat = (format: string) => format.trim().toLowerCase() === 'json';

export class AccessLog implements RequestLog {
  private readonly format: Atom;
  constructor(
    readonly sink: Sink,
    format: string,
  ) {
    const json = isJsonAccessFormat(format);
    if (json) compileJsonLine(); // at start, not on the first request
    this.format = json ? jsonFormat : compileAccessFormat(format);
    this.peer = json || format.includes('%(h)s');
  }
  /** It reads headers and body length: the engines collect them. */
  readonly detailed = true;
  /** Whether the format prints the peer (`%(h)s`; JSON always does). */
  readonly peer: boolean;
  write(e: AccessEntry): void {
    this.writeTimed(e, (performance.now() - e.startMs) * 1e3);
  }
  /** With the request's duration in µs, measured once for every consumer. */
  writeTimed(e: AccessEntry, us: number): void {
    this.sink.writeLater(this.format(e, us) + '\n');
  }
}
