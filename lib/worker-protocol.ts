// What the arbiter and its workers agree on: the spec a worker is forked with, the messages it
// sends back over the IPC channel, and the exit codes that stop the arbiter (Gunicorn's).
import type { EngineName } from './engines/index.js';
import type { ServedBind } from './engines/types.js';
import type { Settings } from './settings.js';

export const WORKER_BOOT_ERROR = 3;
export const APP_LOAD_ERROR = 4;

export interface WorkerSpec {
  settings: Settings;
  app: string;
  engine: EngineName;
  binds: ServedBind[];
}

/** ready: listening on every bind; hb: alive; retire: served max_requests, replace me. */
export type WorkerMessage = { t: 'ready' } | { t: 'hb' } | { t: 'retire' };
