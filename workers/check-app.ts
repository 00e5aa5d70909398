// A short-lived process that loads the app once, as a worker does, before the arbiter forks any
// worker (lib/arbiter/app-check.ts): for preload_app, and to settle an unset engine (a Node-style
// app needs node). It reports what the app is over IPC (an AppReport) and exits 0; APP_LOAD_ERROR
// (4) when the app did not load, and why is logged. The app's top-level code (timers, connections
// it opens) runs here and ends with this process.
import { AppLoadError, loadApp } from '../lib/app/load.js';
import { Logger } from '../lib/ops/log.js';
import { becomeWorkerUser } from '../lib/ops/privileges.js';
import { APP_LOAD_ERROR, type AppReport, type WorkerSpec } from '../lib/worker/protocol.js';

type CheckSpec = Pick<WorkerSpec, 'settings' | 'app'>;

const spec = JSON.parse(process.env.QILIN_CHECK_APP ?? 'null') as CheckSpec | null;
if (!spec) {
  process.stderr.write('qilin app check: started without $QILIN_CHECK_APP; it is started by the arbiter\n');
  process.exit(1);
}
delete process.env.QILIN_CHECK_APP;
process.title = `qilin: app check [${spec.settings.proc_name ?? spec.app}]`;
// The arbiter is gone (stopped while the app loads): nobody waits for the answer.
process.on('disconnect', () => process.exit(1));

const log = new Logger({ ...spec.settings, accesslog: null });
let report: AppReport | null = null;
try {
  becomeWorkerUser({ settings: spec.settings }); // the app's code runs as the workers' user, never as root
  const app = await loadApp(spec.app, { appInterface: spec.settings.app_interface });
  log.debug(`App loaded before forking workers: ${app.what}`);
  report = { t: 'app', style: app.style, what: app.what, bare: app.bare !== null };
} catch (err) {
  log.exception(
    err instanceof AppLoadError ? err.message : 'Exception while loading the app',
    err instanceof AppLoadError ? (err.cause ?? '') : err,
  );
}
log.flush();
// Exit once the report is handed to the channel: the arbiter reads it before it sees the channel close.
if (report && process.send)
  await new Promise<void>((resolve) => process.send!(report, undefined, undefined, () => resolve()));
process.exit(report ? 0 : APP_LOAD_ERROR);
