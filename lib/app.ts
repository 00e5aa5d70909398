// Loads `MODULE[:EXPORT]` and checks it is a fetch app: a function `(Request) => Response` or an
// object with such a `fetch` method (a Hono app is one).
import { importModule } from './loader.js';
import type { FetchHandler } from './http/exchange.js';

/** The app could not be loaded or is not a fetch app; the worker exits with APP_LOAD_ERROR (4). */
export class AppLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppLoadError';
  }
}

export function splitAppUri(uri: string): { module: string; exportName: string } {
  // A Windows drive letter is not an export separator; elsewhere the last ':' is.
  const i = uri.lastIndexOf(':');
  if (i <= 1) return { module: uri, exportName: 'default' };
  return { module: uri.slice(0, i), exportName: uri.slice(i + 1) || 'default' };
}

export async function loadApp(uri: string, cwd: string = process.cwd()): Promise<FetchHandler> {
  const { module, exportName } = splitAppUri(uri);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(module, cwd);
  } catch (err) {
    throw new AppLoadError(`Failed to load module ${module}: ${(err as Error).message}`, { cause: err });
  }
  const cjsExports = commonJsExports(mod);
  let app: unknown;
  if (exportName in mod) app = mod[exportName];
  // A CommonJS module's `module.exports = { handler }` often hides its names from import():
  // they are still the keys of module.exports, which arrives as `default`.
  else if (cjsExports && Object.hasOwn(cjsExports, exportName)) app = cjsExports[exportName];
  else {
    throw new AppLoadError(`Failed to find attribute '${exportName}' in '${module}' (exports: ${exportNames(mod)}).`);
  }
  // A CommonJS module's `module.exports = app` arrives as `default`; a default export may wrap an app.
  if (app && typeof app === 'object' && !('fetch' in app) && 'default' in app) app = (app as { default: unknown }).default;
  if (typeof app === 'function') return app as FetchHandler;
  if (app && typeof app === 'object' && typeof (app as { fetch?: unknown }).fetch === 'function') {
    const target = app as { fetch: FetchHandler };
    return target.fetch.bind(target);
  }
  throw new AppLoadError(
    `'${exportName}' in '${module}' is not a fetch app: expected a function (request) => Response ` +
    `or an object with a fetch method, got ${app === null ? 'null' : typeof app} (exports: ${exportNames(mod)}).`,
  );
}

/** module.exports of a CommonJS module (or any plain object default export), else null. */
function commonJsExports(mod: Record<string, unknown>): Record<string, unknown> | null {
  const d = mod.default;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : null;
}

/** The names a user can put after `:`: the module's exports and the keys of module.exports. */
function exportNames(mod: Record<string, unknown>): string {
  const names = new Set(Object.keys(mod));
  const cjs = commonJsExports(mod);
  if (cjs && !('fetch' in cjs)) for (const k of Object.keys(cjs)) names.add(k);
  return [...names].join(', ') || 'none';
}
