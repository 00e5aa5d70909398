// The control socket's protocol, shared by the arbiter's server (lib/arbiter/control.ts) and its
// client, `qilin ctl` (lib/ctl/ctl.ts), so that the client loads nothing of the arbiter. One JSON
// request line in, one JSON response line out, then the server closes the connection:
//
//   → {"command": "status"}            ← {"status": "ok", "data": {"pid": 1, "target": 2, "workers": [...]}}
//   → {"command": "scale", "args": [3]} ← {"status": "ok", "data": {"previous": 2, "target": 3}}
//   → {"command": "nope"}              ← {"status": "error", "error": "unknown command: nope (...)"}
//
// The field names follow Gunicorn's control socket; its length-prefixed framing does not (a line is
// what a shell can type).

/** The commands. */
export type Command = 'status' | 'reload' | 'scale' | 'stop';

/** The commands as a help or an error message lists them. */
export const CONTROL_COMMANDS = 'status, reload, scale N, stop';

/** One request line. `"scale 3"` as the command and `{"command": "scale", "args": [3]}` mean the same. */
export interface ControlRequest {
  /** Echoed in the response, for a client that sends several requests. */
  id?: unknown;
  command: string;
  args?: unknown[];
}

/** One response line. */
export type ControlResponse =
  { id?: unknown; status: 'ok'; data: unknown } | { id?: unknown; status: 'error'; error: string };

/** One worker as `status` reports it. Numbers from the worker's reports are null until its first. */
export interface WorkerStatus {
  pid: number;
  /** booting (not yet listening), ready, retiring (replaced once its successor is ready), stopping. */
  state: 'booting' | 'ready' | 'retiring' | 'stopping';
  /** Seconds since it was forked. */
  age: number;
  /** Requests it has answered. */
  requests: number | null;
  /** Requests it holds and has not answered: running in the app, or waiting for a pool slot. */
  in_flight: number | null;
  /** Of those, waiting for a slot (`worker_connections` reached). */
  queued: number | null;
  /** Seconds since the arbiter last heard from it. */
  last_heartbeat: number;
  /** Resident set size in bytes. */
  rss: number | null;
}

/** `status`'s data. */
export interface StatusData {
  /** The arbiter's pid. */
  pid: number;
  /** The number of workers it keeps (`workers`, changed by scale, TTIN, TTOU and reloads). */
  target: number;
  workers: WorkerStatus[];
}

/** `reload`'s and `stop`'s data: what the arbiter started, and its pid. */
export interface SignalledData {
  status: 'reloading' | 'stopping';
  pid: number;
}

/** `scale`'s data: the worker count before and after. */
export interface ScaleData {
  previous: number;
  target: number;
}

/** `scale`'s argument as a worker count (a whole number ≥ 1), else null. */
export function workerCount(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n : null;
}
