// What happens once per finished request: the access log line, the counts for /metrics, statsd.
import type { AccessEntry, AccessLog, RequestLog } from '../ops/log.js';
import type { RequestStats } from './stats.js';
import type { Statsd } from './statsd.js';

/** The post_request hook, told of each finished request with its duration. */
export type AfterRequest = (e: AccessEntry, ms: number) => void;

class RequestRecorder implements RequestLog {
  readonly detailed: boolean;
  readonly peer: boolean;
  constructor(
    private readonly access: AccessLog | null,
    private readonly stats: RequestStats | null,
    private readonly statsd: Statsd | null,
    private readonly after: AfterRequest | null,
  ) {
    // post_request may read response headers: the engines keep them, as for the access log.
    this.detailed = access !== null || after !== null;
    this.peer = access !== null && access.peer;
  }

  write(e: AccessEntry): void {
    const ms = performance.now() - e.startMs;
    this.access?.writeTimed(e, ms * 1e3);
    this.stats?.record(e.method, e.status, ms / 1e3);
    this.statsd?.request(e.status, ms);
    this.after?.(e, ms);
  }
}

/** null when nothing listens: the engines then skip the clock and the entry altogether. */
export function requestLog(
  access: AccessLog | null,
  stats: RequestStats | null,
  statsd: Statsd | null,
  after: AfterRequest | null = null,
): RequestLog | null {
  if (stats === null && statsd === null && after === null) return access;
  return new RequestRecorder(access, stats, statsd, after);
}
