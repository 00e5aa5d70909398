// Entry point of a worker process, forked by the arbiter with its spec in $QILIN_WORKER.
import type { WorkerSpec } from '../lib/worker/protocol.js';
import { PoolWorker } from './pool-worker.js';
import { SyncWorker } from './sync-worker.js';

const WORKER_CLASSES = { pool: PoolWorker, sync: SyncWorker } as const;

const spec = JSON.parse(process.env.QILIN_WORKER ?? 'null') as WorkerSpec | null;
if (!spec) {
  process.stderr.write('qilin worker: started without $QILIN_WORKER; workers are started by the arbiter\n');
  process.exit(1);
}
delete process.env.QILIN_WORKER;

const worker = new WORKER_CLASSES[spec.settings.worker_class](spec);
const code = await worker.run();
// The worker's scope is left: its servers, timers, watchdog thread and handlers are gone, worker_exit
// has run. What the app still holds (its own timers, a database pool) must not keep the process.
process.exit(code);
