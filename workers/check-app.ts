// preload_app: a short-lived process that loads the app once, as a worker does, before the arbiter
// forks any worker. Exit 0: the app loaded; APP_LOAD_ERROR (4): it did not, and why is logged.
// The app's top-level code (timers, connections it opens) runs here and ends with this process.
import { AppLoadError, loadApp } from '../lib/app/load.js';
import { Logger } from '../lib/ops/log.js';
import { becomeWorkerUser } from '../lib/ops/privileges.js';
import { APP_LOAD_ERROR, type WorkerSpec } from '../lib/worker/protocol.js';

type CheckSpec = Pick<WorkerSpec, 'settings' | 'app'>;

const spec = JSON.parse(process.env.QILIN_CHECK_APP ?? 'null') as CheckSpec | null;
if (!spec) {
  process.stderr.write('qilin app check: started without $QILIN_CHECK_APP; it is started by the arbiter\n');
  process.exit(1);
}
delete process.env.QILIN_CHECK_APP;
process.title = `qilin: preload [${spec.settings.proc_name ?? spec.app}]`;
// The arbiter is gone (stopped while the app loads): nobody waits for the answer.
process.on('disconnect', () => process.exit(1));

const log = new Logger({ ...spec.settings, accesslog: null });
let code = 0;
try {
  becomeWorkerUser({ settings: spec.settings }); // the app's code runs as the workers' user, never as root
  const app = await loadApp(spec.app, { appInterface: spec.settings.app_interface });
  log.debug(`App loaded before forking workers: ${app.what}`);
} catch (err) {
  log.exception(err instanceof AppLoadError ? err.message : 'Exception while loading the app', err instanceof AppLoadError ? err.cause ?? '' : err);
  code = APP_LOAD_ERROR;
}
log.flush();
process.exit(code);
