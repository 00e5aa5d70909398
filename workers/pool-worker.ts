// `-k pool` (the default): up to `worker_connections` concurrent requests per listener,
// as Gunicorn's gevent worker with its pool of greenlets.
import { Worker } from '../lib/worker/worker.js';

export class PoolWorker extends Worker {
  protected poolSize(): number {
    return this.spec.settings.worker_connections;
  }
}
