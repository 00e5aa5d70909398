// What a worker counts of the requests it serves, for statsd and for the arbiter's /metrics:
// plain arrays indexed by method and status class, and a fixed-bucket duration histogram.
// Recording a request is a few array writes; the arbiter gets a snapshot once a second.

/** Methods counted by name; anything else is `other` (a label set that cannot grow without bound). */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
const METHOD_INDEX: Record<string, number> = Object.fromEntries(METHODS.map((m, i) => [m, i]));
/** Status classes 1xx..5xx; index 0 holds anything outside 100..599. */
export const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Upper bounds (seconds) of the request duration histogram, Prometheus's defaults. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Cumulative counts since the worker started: what one worker reports. */
export interface RequestTotals {
  /** requests[method * STATUS_CLASSES.length + statusClass] */
  requests: number[];
  /** Non-cumulative bucket counts; the last is above the largest bound (+Inf). */
  buckets: number[];
  durationSum: number;
  /** Requests answered 503 for request_timeout. */
  timeouts: number;
}

export function emptyTotals(): RequestTotals {
  return {
    requests: new Array<number>(METHODS.length * STATUS_CLASSES.length).fill(0),
    buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    durationSum: 0,
    timeouts: 0,
  };
}

/** a += b, element by element (totals of workers that exited, summed with live ones). */
export function addTotals(a: RequestTotals, b: RequestTotals): void {
  for (let i = 0; i < a.requests.length; i++) a.requests[i]! += b.requests[i] ?? 0;
  for (let i = 0; i < a.buckets.length; i++) a.buckets[i]! += b.buckets[i] ?? 0;
  a.durationSum += b.durationSum;
  a.timeouts += b.timeouts ?? 0;
}

/** a − b, element by element (what a late report adds to totals counted already). */
export function subtractTotals(a: RequestTotals, b: RequestTotals): RequestTotals {
  return {
    requests: a.requests.map((v, i) => Math.max(0, v - (b.requests[i] ?? 0))),
    buckets: a.buckets.map((v, i) => Math.max(0, v - (b.buckets[i] ?? 0))),
    durationSum: Math.max(0, a.durationSum - b.durationSum),
    timeouts: Math.max(0, a.timeouts - (b.timeouts ?? 0)),
  };
}

export class RequestStats {
  private readonly requests = new Float64Array(METHODS.length * STATUS_CLASSES.length);
  private readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  private durationSum = 0;
  private timeouts = 0;

  record(method: string, status: number, seconds: number): void {
    const m = METHOD_INDEX[method] ?? METHODS.length - 1;
    const c = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    this.requests[m * STATUS_CLASSES.length + c]!++;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    this.buckets[b]!++;
    this.durationSum += seconds;
  }

  /** A request was answered 503 for request_timeout (it is counted as a request too, as it ends). */
  timedOut(): void {
    this.timeouts++;
  }

  totals(): RequestTotals {
    return {
      requests: Array.from(this.requests),
      buckets: Array.from(this.buckets),
      durationSum: this.durationSum,
      timeouts: this.timeouts,
    };
  }
}
