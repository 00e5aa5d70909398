// Imports user modules (apps, config files). TypeScript loads with no build step through tsx,
// registered only when a TypeScript file is actually imported.
import { existsSync, readFileSync } from 'node:fs';
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

/** What esbuild says of an error (its `errors[i]`). */
interface EsbuildMessage {
  text: string;
  location: { line: number; column: number } | null;
}
interface Esbuild {
  transform(code: string, options: Record<string, unknown>): Promise<unknown>;
}

/** esbuild, as tsx (which compiles TypeScript with it) has it. */
function esbuild(): Esbuild {
  const require = createRequire(import.meta.url);
  return createRequire(require.resolve('tsx'))('esbuild') as Esbuild;
}

/** tsx names a `.mts`/`.cts` file `.ts`, and a `.mjs` one `.js`, to esbuild: the file on disk. */
function onDisk(file: string): string {
  if (existsSync(file)) return file;
  const ext = path.extname(file);
  const others = ext === '.ts' ? ['.mts', '.cts'] : ext === '.js' ? ['.mjs'] : [];
  return others.map((e) => file.slice(0, -ext.length) + e).find((f) => existsSync(f)) ?? file;
}

/**
 * Where and why importing `spec` failed on a syntax error, in one line: `FILE:LINE:COLUMN: REASON`
 * (the column counted from 1), or null for any other error. TypeScript is compiled by esbuild
 * (through tsx), whose error says where. V8 does not say where in an ES module, so a JavaScript file
 * is parsed again, by the same esbuild, to find it (only then: after it failed to load).
 */
export async function syntaxErrorAt(err: unknown, spec: string, cwd: string = process.cwd()): Promise<string | null> {
  if (!(err instanceof Error)) return null;
  if (err.name === 'TransformError') {
    const m = /^(.+):(\d+):(\d+): ERROR: (.+)$/m.exec(err.message);
    return m ? `${onDisk(m[1]!)}:${m[2]}:${Number(m[3]) + 1}: ${m[4]}` : null;
  }
  if (!(err instanceof SyntaxError)) return null;
  // A CommonJS file names itself first in the stack (`/app/lib.cjs:3`): maybe one the module requires.
  const cjs = /^(\/.*):(\d+)\n/.exec(err.stack ?? '');
  let file: string;
  try {
    file = cjs ? cjs[1]! : resolveModule(spec, cwd);
  } catch {
    return null;
  }
  try {
    await esbuild().transform(readFileSync(file, 'utf8'), { loader: 'js', sourcefile: file, logLevel: 'silent' });
  } catch (e) {
    const first = (e as { errors?: EsbuildMessage[] }).errors?.[0];
    if (first?.location) return `${file}:${first.location.line}:${first.location.column + 1}: ${first.text}`;
  }
  // esbuild took it (V8 is stricter here), or the error is in a module this one imports.
  return cjs ? `${file}:${cjs[2]}: ${err.message}` : null;
}
