// In a worker, with reload on: which files the app is made of, told to the arbiter's reloader
// (lib/arbiter/reloader.ts) so that it watches those rather than the app's whole directory.
import { createRequire, register } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

/** How long a worker waits for the loader thread's list of imported files. */
const HOOKS_REPLY_MS = 2000;

export interface ModuleFiles {
  /** The files the app's imports loaded so far, outside node_modules; null when they cannot be known. */
  list(): Promise<string[] | null>;
}

/**
 * Start noting the files the app loads; call before loading it. CommonJS modules are in
 * require.cache; ES modules (and TypeScript through tsx) are noted by a resolve hook.
 */
export function trackModuleFiles(): ModuleFiles {
  let port: MessagePort | null = null;
  try {
    const channel = new MessageChannel();
    register(new URL('./module-hooks.js', import.meta.url), {
      data: { port: channel.port2 },
      transferList: [channel.port2],
    });
    port = channel.port1;
    port.unref();
  } catch {
    /* no module.register: the arbiter watches the app's directory instead */
  }
  const cache = createRequire(import.meta.url).cache;
  return {
    async list() {
      const urls = port ? await askLoaderThread(port) : null;
      if (urls === null) return null;
      const files = new Set([...urls.map((u) => fileURLToPath(u)), ...Object.keys(cache)]);
      return [...files].filter((f) => path.isAbsolute(f) && !f.split(path.sep).includes('node_modules'));
    },
  };
}

function askLoaderThread(port: MessagePort): Promise<string[] | null> {
  return new Promise((resolve) => {
    const done = (urls: string[] | null) => {
      clearTimeout(timer);
      port.off('message', done);
      port.unref();
      resolve(urls);
    };
    const timer = setTimeout(() => done(null), HOOKS_REPLY_MS);
    port.on('message', done);
    port.ref();
    port.postMessage(null);
  });
}
