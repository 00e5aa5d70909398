// What happens once per finished request: the access log line, the counts for /metrics, statsd.
import type { AccessEntry, AccessLog } from '../log.js';
import type { RequestStats } from './stats.js';
import type { Statsd } from './statsd.js';

/** Told of every finished request (status and length final). */
export interface RequestLog {
  write(e: AccessEntry): void;
}

class RequestRecorder implements RequestLog {
  constructor(
    private readonly access: AccessLog | null,
    private readonly stats: RequestStats | null,
    private readonly statsd: Statsd | null,
  ) {}

  write(e: AccessEntry): void {
    const us = Number(process.hrtime.bigint() - e.startNs) / 1e3;
    this.access?.writeTimed(e, us);
    this.stats?.record(e.method, e.status, us / 1e6);
    this.statsd?.request(e.status, us / 1e3);
  }
}

/** null when nothing listens: the engines then skip the clock and the entry altogether. */
export function requestLog(access: AccessLog | null, stats: RequestStats | null, statsd: Statsd | null): RequestLog | null {
  if (stats === null && statsd === null) return access;
  return new RequestRecorder(access, stats, statsd);
}
