// Load the app once before any worker is forked, in a short-lived child (workers/check-app.ts), and
// learn what it is: for preload_app (an app that cannot load stops the start with Gunicorn's exit
// code 4 rather than in its first workers), and to settle an unset engine (a Node-style app needs
// node) before any worker boots on one that cannot serve it. In a child, not in the arbiter: the
// app's top-level code (timers, connections, a listen()) would otherwise run and stay in the
// arbiter, and an ES module cannot be unloaded.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../ops/log.js';
import type { AppReport } from '../worker/protocol.js';

const CHECK_APP_ENTRY = fileURLToPath(new URL('../../workers/check-app.js', import.meta.url));

/** What the app is, once it loaded; null when it did not (the child logged why, or this did). */
export async function checkApp(settings: Settings, app: string, log: Logger): Promise<AppReport | null> {
  const env: NodeJS.ProcessEnv = { ...process.env, QILIN_CHECK_APP: JSON.stringify({ settings, app }) };
  for (const kv of settings.raw_env) {
    const i = kv.indexOf('=');
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const child = fork(CHECK_APP_ENTRY, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let report: AppReport | null = null;
  child.on('message', (msg: AppReport) => {
    if (msg?.t === 'app') report = msg;
  });
  // An app whose import never ends would hang the start: give it `timeout`, as a booting worker has.
  const timer =
    settings.timeout > 0
      ? setTimeout(() => {
          log.errorMsg(`The app did not load within ${settings.timeout} s (timeout)`);
          child.kill('SIGKILL');
        }, settings.timeout * 1000)
      : null;
  // 'close', not 'exit': it comes once the IPC channel has closed too, so the report is in.
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      log.errorMsg(`Could not load the app: ${err.message}`);
      resolve(null);
    });
    child.on('close', (c) => resolve(c));
  });
  if (timer) clearTimeout(timer);
  return code === 0 ? report : null;
}
