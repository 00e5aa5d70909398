// Imports user modules (apps, config files). TypeScript loads with no build step through tsx,
// registered only when a TypeScript file is actually imported.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
let tsRegistered = false;

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

export async function importModule(spec: string, cwd: string = process.cwd()): Promise<Record<string, unknown>> {
  const file = resolveModule(spec, cwd);
  if (TS_EXTENSIONS.has(path.extname(file))) await registerTypeScript();
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
