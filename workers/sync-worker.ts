// `-k sync`: one request at a time per listener, as Gunicorn's sync worker.
import { Worker } from '../lib/worker/worker.js';

export class SyncWorker extends Worker {
  protected poolSize(): number {
    return 1;
  }
}
