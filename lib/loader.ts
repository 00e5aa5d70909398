// Imports user modules (apps, config files). TypeScript loads with no build step through tsx,
// registered only when a TypeScript file is actually imported.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
let tsRegistered = false;
let freshCount = 0;

async function registerTypeScript(): Promise<void> {
  if (tsRegistered) return;
  tsRegistered = true;
  const esm = await import('tsx/esm/api');
  esm.register();
  const cjs = await import('tsx/cjs/api');
  cjs.register();
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || /\.(m?[jt]s|c[jt]s|tsx)$/.test(spec);
}

/** Resolve MODULE as a path relative to `cwd`, or as a package name installed there. */
export function resolveModule(spec: string, cwd: string = process.cwd()): string {
  if (looksLikePath(spec)) return path.resolve(cwd, spec);
  return createRequire(path.join(cwd, 'package.json')).resolve(spec);
}

export interface ImportOptions {
  /**
   * Evaluate the file again even if it was imported before (a config file on HUP). Only this file
   * is re-read; what it imports stays cached. Each fresh ESM import keeps one more module instance
   * in memory (ESM has no way to unload), which is fine for a config file read once per reload.
   */
  fresh?: boolean;
}

export async function importModule(
  spec: string,
  cwd: string = process.cwd(),
  opts: ImportOptions = {},
): Promise<Record<string, unknown>> {
  const file = resolveModule(spec, cwd);
  if (TS_EXTENSIONS.has(path.extname(file))) await registerTypeScript();
  const url = pathToFileURL(file);
  if (opts.fresh) {
    // ESM caches by URL, so a new query makes a new module; a CommonJS file (or TypeScript that
    // tsx compiles to CommonJS) imported from ESM is served from require.cache, so drop it there too.
    delete createRequire(import.meta.url).cache[file];
    url.searchParams.set('qilin-reload', String(++freshCount));
  }
  return (await import(url.href)) as Record<string, unknown>;
}
