// Module customization hooks (module.register) for reload: they note every file an import
// resolves to, so that a worker can tell the arbiter which files make up the app. They run on
// Node's loader thread; the worker asks for the list over the port it passed to initialize().
import type { InitializeHook, ResolveHook } from 'node:module';
import type { MessagePort } from 'node:worker_threads';

const resolved = new Set<string>();

export const initialize: InitializeHook<{ port: MessagePort }> = ({ port }) => {
  port.on('message', () => port.postMessage([...resolved]));
  port.unref(); // the loader thread must not outlive the worker because of this port
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const out = await nextResolve(specifier, context);
  if (out.url.startsWith('file:')) resolved.add(out.url);
  return out;
};
