// Loads `MODULE[:EXPORT]` (Gunicorn's syntax, factory calls included) and tells what the app is
// (lib/app/shapes.ts): fetch-style or Node-style, and which framework.
import { describe, recognise, ShapeError, type AppInterface, type LoadedApp } from './shapes.js';
import path from 'node:path';
import { importModule, resolveModule, syntaxErrorAt } from '../config/loader.js';

/** The app could not be loaded or is not an app qilin serves; the worker exits with APP_LOAD_ERROR (4). */
export class AppLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppLoadError';
  }
}

export function splitAppUri(uri: string): { module: string; exportName: string } {
  // A factory call's arguments may hold ':' (a URL): split at the last ':' before its '('.
  const paren = uri.indexOf('(');
  const i = uri.lastIndexOf(':', paren < 0 ? uri.length : paren);
  // A Windows drive letter is not an export separator; elsewhere that ':' is.
  if (i <= 1) return { module: uri, exportName: 'default' };
  return { module: uri.slice(0, i), exportName: uri.slice(i + 1) || 'default' };
}

/** The app module's directory, where the app's own packages resolve from (`cwd` when not found). */
export function appDirectory(uri: string, cwd: string = process.cwd()): string {
  try {
    return path.dirname(resolveModule(splitAppUri(uri).module, cwd));
  } catch {
    return cwd;
  }
}

/** `name` or `name(args)`, Gunicorn's app syntax: a factory called with literal arguments. */
export function parseExport(expr: string): { name: string; args: unknown[] | null } {
  const m = /^\s*([A-Za-z_$][\w$]*)\s*(?:\((.*)\))?\s*$/s.exec(expr);
  if (!m) throw new AppLoadError(`Failed to parse '${expr}' as an attribute name or function call.`);
  if (m[2] === undefined) return { name: m[1]!, args: null };
  try {
    return { name: m[1]!, args: parseLiterals(m[2]) };
  } catch {
    throw new AppLoadError(`Failed to parse arguments as literal values: '${expr}'.`);
  }
}

export interface LoadOptions {
  /** How a bare function is taken (the app_interface setting). */
  appInterface?: AppInterface;
  cwd?: string;
}

/** Import MODULE, find EXPORT (calling it when it is a factory call), and tell what it is. */
export async function loadApp(uri: string, opts: LoadOptions = {}): Promise<LoadedApp> {
  const { module, exportName } = splitAppUri(uri);
  const { name, args } = parseExport(exportName);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(module, opts.cwd ?? process.cwd());
  } catch (err) {
    const why = (await syntaxErrorAt(err, module, opts.cwd)) ?? (err as Error)?.message ?? String(err);
    throw new AppLoadError(`Failed to load module ${module}: ${why}`, { cause: err });
  }
  const cjsExports = commonJsExports(mod);
  let app: unknown;
  if (name in mod) app = mod[name];
  // A CommonJS module's `module.exports = { handler }` often hides its names from import():
  // they are still the keys of module.exports, which arrives as `default`.
  else if (cjsExports && Object.hasOwn(cjsExports, name)) app = cjsExports[name];
  else {
    throw new AppLoadError(`Failed to find attribute '${name}' in '${module}' (exports: ${exportNames(mod)}).`);
  }
  // A CommonJS module's `module.exports = app` arrives as `default`; a default export may wrap an app.
  if (isWrapper(app)) app = (app as { default: unknown }).default;
  if (args !== null) {
    if (typeof app !== 'function') {
      throw new AppLoadError(
        `'${name}' in '${module}' is not a function: it cannot be called as a factory (it is ${describe(app)}).`,
      );
    }
    try {
      const made = (app as (...a: unknown[]) => unknown)(...args);
      app = isPromised(made) ? await made : made;
    } catch (err) {
      throw new AppLoadError(`The factory '${name}' in '${module}' failed: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
    }
    if (app === undefined || app === null) {
      throw new AppLoadError(`Failed to find application object: '${exportName.trim()}' returned ${app}.`);
    }
  } else if (isPromised(app)) {
    // `export default NestFactory.create(AppModule)`: an app still being made.
    try {
      app = await app;
    } catch (err) {
      throw new AppLoadError(
        `'${name}' in '${module}' is a promise that rejected: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
  }
  if (isWrapper(app)) app = (app as { default: unknown }).default;
  try {
    return recognise(app, opts.appInterface ?? 'auto', `'${name}' in '${module}'`);
  } catch (err) {
    if (err instanceof ShapeError) {
      throw new AppLoadError(err.notAnApp ? `${err.message} (exports: ${exportNames(mod)})` : err.message);
    }
    throw err;
  }
}

/**
 * An app still being made (a promise, a thenable): not an object with a fetch method, whatever
 * else it has. itty-router's routers answer every property with a function, `then` included:
 * awaiting one would register a route named THEN and wait forever.
 */
const isPromised = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { then?: unknown }).then === 'function' &&
  typeof (v as { fetch?: unknown }).fetch !== 'function';

/** A namespace-like object around the app (`{ default: app }`), not an app itself. */
function isWrapper(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !('fetch' in v) && 'default' in v;
}

/**
 * The arguments of a factory call, as JavaScript literals: strings ('…' or "…"), numbers, true,
 * false, null, arrays and objects of these. Nothing is evaluated (as Gunicorn's ast.literal_eval).
 */
export function parseLiterals(source: string): unknown[] {
  const text = `${source}\u0000`; // the end of the argument list
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new SyntaxError(`unexpected input at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '"' || c === "'") return string(c);
    if (c === '[') {
      i++;
      return list(']');
    }
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const q = text[i];
        let key: string;
        if (q === '"' || q === "'") key = string(q);
        else {
          const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(i));
          if (!m) fail();
          key = m![0];
          i += key.length;
        }
        ws();
        if (text[i++] !== ':') fail();
        out[key] = value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') {
            i++;
            return out;
          }
          continue;
        }
        if (text[i++] === '}') return out;
        fail();
      }
    }
    const m = /^(?:-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
    return JSON.parse(m![0]);
  };
  const string = (q: string): string => {
    let out = '';
    i++;
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\') {
        const e = text[i + 1];
        const simple: Record<string, string> = {
          n: '\n',
          t: '\t',
          r: '\r',
          '\\': '\\',
          "'": "'",
          '"': '"',
          '/': '/',
          b: '\b',
          f: '\f',
        };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        fail();
      }
      out += text[i++];
    }
    if (text[i++] !== q) fail();
    return out;
  };
  const list = (end: string): unknown[] => {
    const out: unknown[] = [];
    ws();
    if (text[i] === end) {
      i++;
      return out;
    }
    for (;;) {
      out.push(value());
      ws();
      if (text[i] === ',') {
        i++;
        ws();
        if (text[i] === end) {
          i++;
          return out;
        }
        continue;
      }
      if (text[i++] === end) return out;
      fail();
    }
  };
  const args = list('\u0000');
  if (i !== text.length) fail();
  return args;
}

/** module.exports of a CommonJS module (or any plain object default export), else null. */
function commonJsExports(mod: Record<string, unknown>): Record<string, unknown> | null {
  const d = mod.default;
  if (!d || typeof d !== 'object') return null;
  const proto: unknown = Object.getPrototypeOf(d);
  return proto === Object.prototype || proto === null ? (d as Record<string, unknown>) : null;
}

/** The names a user can put after `:`: the module's exports and the keys of module.exports. */
function exportNames(mod: Record<string, unknown>): string {
  const names = new Set(Object.keys(mod));
  const cjs = commonJsExports(mod);
  if (cjs && !('fetch' in cjs)) for (const k of Object.keys(cjs)) names.add(k);
  return [...names].join(', ') || 'none';
}
