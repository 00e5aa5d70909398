// Resolves settings: defaults < config file < $QILIN_CMD_ARGS < command line (Gunicorn's order).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllowList } from './allow-list.js';
import { parseBind, parseMetricsBind, parseStatsdHost } from './binds.js';
import { configExports, pickHooks, type ServerHooks } from './hooks.js';
import { importModule, syntaxErrorAt } from './loader.js';
import { usableCpus, type CpuCount } from '../ops/cpus.js';
import { workerOwner } from '../ops/privileges.js';
import {
  AUTO,
  ConfigError,
  SETTINGS_BY_FLAG,
  SETTINGS_BY_NAME,
  closestSetting,
  coerce,
  defaultSettings,
  setSetting,
  type SettingName,
  type SettingValue,
  type Settings,
} from './settings.js';

/** What a config file exports: any subset of the settings, and server hooks (lib/config/hooks.ts). */
export type QilinConfig = Partial<Omit<Settings, 'config' | 'check_config' | 'print_config'>> & ServerHooks;

/** Typed helper for `qilin.config.ts`: `export default defineConfig({ workers: 4 })`. */
export function defineConfig(config: QilinConfig): QilinConfig {
  return config;
}

export interface ParsedArgs {
  values: Map<SettingName, SettingValue>;
  app: string | null;
  help: boolean;
  version: boolean;
}

export const DEFAULT_CONFIG_FILES = ['qilin.config.ts', 'qilin.config.js', 'qilin.config.mjs'];

/** Parse argv against the settings table. List settings accumulate; the last value wins otherwise. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), app: null, help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (arg === '-v' || arg === '--version') {
      out.version = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (out.app !== null) throw new ConfigError('app', `unexpected argument: ${arg} (the app is already ${out.app})`);
      out.app = arg;
      continue;
    }
    let flag = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      flag = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (!arg.startsWith('--') && arg.length > 2) {
      flag = arg.slice(0, 2);
      inline = arg.slice(2);
    }
    const def = SETTINGS_BY_FLAG.get(flag);
    if (!def) throw new ConfigError('argv', `unrecognized option: ${arg} (see qilin --help)`);
    const name = def.name;
    if (def.type === 'bool') {
      out.values.set(name, inline === undefined ? true : coerce(def, inline));
      continue;
    }
    if (def.type === 'choice' && def.bare !== undefined && inline === undefined) {
      // An optional value: taken only when the next word is one (else it may be the app).
      const next = argv[i + 1]?.toLowerCase();
      const known =
        next !== undefined && (def.choices.includes(next) || (def.aliases !== undefined && next in def.aliases));
      out.values.set(name, known ? coerce(def, argv[++i]) : def.bare);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new ConfigError(def.name, `option ${flag} (${def.name}) needs a value`);
    if (def.type === 'list') {
      const prev = out.values.get(name);
      out.values.set(name, [...(Array.isArray(prev) ? prev : []), raw]);
    } else {
      out.values.set(name, coerce(def, raw));
    }
  }
  return out;
}

/**
 * Split $QILIN_CMD_ARGS into words as Gunicorn splits GUNICORN_CMD_ARGS (Python's `shlex.split`, a
 * POSIX shell's rules without expansions): whitespace separates words; quotes may be anywhere in a
 * word (`--name="my app"` is `--name=my app`); inside '…' every character is itself; inside "…" a
 * backslash escapes only `"` and `\`; outside quotes a backslash escapes any character.
 */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let word: string | null = null; // null: between words (`''` makes an empty word, not none)
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (word !== null) out.push(word);
      word = null;
    } else if (c === '\\') {
      if (i + 1 >= s.length)
        throw new ConfigError('QILIN_CMD_ARGS', '$QILIN_CMD_ARGS: no escaped character after the last \\');
      word = (word ?? '') + s[++i];
    } else if (c === "'" || c === '"') {
      word ??= '';
      let j = i + 1;
      for (; j < s.length && s[j] !== c; j++) {
        if (c === '"' && s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\')) j++;
        word += s[j];
      }
      if (j >= s.length) throw new ConfigError('QILIN_CMD_ARGS', `$QILIN_CMD_ARGS: no closing quotation (${c})`);
      i = j;
    } else word = (word ?? '') + c;
  }
  if (word !== null) out.push(word);
  return out;
}

interface ConfigFileValues {
  values: Map<SettingName, SettingValue>;
  hooks: ServerHooks;
  warnings: string[];
}

async function loadConfigFile(file: string, fresh: boolean): Promise<ConfigFileValues> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file, process.cwd(), { fresh });
  } catch (err) {
    // A syntax error: one line saying where (`FILE:LINE:COLUMN: REASON`), as for an app.
    const where = await syntaxErrorAt(err, file);
    if (where?.startsWith(`${file}:`)) throw new ConfigError('config', `Failed to read config file: ${where}`);
    const why = where ?? (err as Error)?.message?.split('\n')[0] ?? String(err);
    throw new ConfigError('config', `Failed to read config file: ${file} (${why})`);
  }
  const source = configExports(mod, (k) => SETTINGS_BY_NAME.has(k));
  const hooks = pickHooks(source);
  const values = new Map<SettingName, SettingValue>();
  const warnings: string[] = [];
  for (const [key, raw] of Object.entries(source)) {
    const def = SETTINGS_BY_NAME.get(key);
    if (key === 'config' || key === 'default') continue;
    if (!def) {
      // Hooks and helpers (functions) live here too; any other unknown key is most likely a typo.
      if (typeof raw !== 'function') warnings.push(unknownSettingWarning(key, file));
      continue;
    }
    values.set(def.name, coerce(def, raw));
  }
  return { values, hooks, warnings };
}

function unknownSettingWarning(key: string, file: string): string {
  const near = closestSetting(key);
  const hint = near ? ` (did you mean '${near}'?)` : '';
  return `Unknown setting '${key}' in config file ${file}, ignored${hint}`;
}

export interface ResolvedConfig {
  settings: Settings;
  app: string | null;
  help: boolean;
  version: boolean;
  /** Absolute path of the config file that was read, if any. */
  configFile: string | null;
  /** The server hooks the config file defines. */
  hooks: ServerHooks;
  /** Problems worth a warning that do not stop the server (unknown keys in the config file). */
  warnings: string[];
  /** How a setting given as `auto` was settled, for the start-up log. */
  notes: string[];
}

export interface ResolveOptions {
  /** Evaluate the config file again (HUP) instead of reusing the module already imported. */
  fresh?: boolean;
}

export async function resolveConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  opts: ResolveOptions = {},
): Promise<ResolvedConfig> {
  const cli = parseArgs(argv);
  const envArgs = env.QILIN_CMD_ARGS ? parseArgs(splitArgs(env.QILIN_CMD_ARGS)) : null;
  const settings = defaultSettings(env);

  const explicit = cli.values.get('config') ?? envArgs?.values.get('config');
  let configFile: string | null;
  if (typeof explicit === 'string' && explicit !== '') {
    configFile = path.resolve(cwd, explicit);
    if (!existsSync(configFile)) throw new ConfigError('config', `Config file not found: ${explicit}`);
  } else {
    const found = DEFAULT_CONFIG_FILES.map((f) => path.join(cwd, f)).find((f) => existsSync(f));
    configFile = found ?? null;
  }
  const fromFile = configFile ? await loadConfigFile(configFile, opts.fresh ?? false) : null;
  if (fromFile) for (const [k, v] of fromFile.values) setSetting(settings, k, v);
  for (const source of [envArgs, cli]) if (source) for (const [k, v] of source.values) setSetting(settings, k, v);
  settings.config = configFile;

  const notes: string[] = [];
  if (settings.workers === AUTO) {
    const workers = autoWorkers(env);
    settings.workers = workers.count;
    notes.push(`workers = auto: ${workers.count} (${workers.source})`);
  }
  for (const b of settings.bind) parseBind(b); // validate early
  const statsd = settings.statsd_host;
  if (statsd !== null) {
    const target = parseStatsdHost(statsd);
    if (typeof target === 'string')
      throw new ConfigError('statsd_host', `Invalid value for statsd_host: ${JSON.stringify(statsd)} (${target})`);
  }
  const metrics = settings.metrics_bind;
  if (metrics !== null) parseMetricsBind(metrics);
  if (settings.control_socket === '')
    throw new ConfigError('control_socket', 'Invalid value for control_socket: "" (a path is needed)');
  const mode = settings.control_socket_mode;
  if (mode > 0o777) {
    // 600 read as decimal is not 0o600: say how to write it.
    throw new ConfigError(
      'control_socket_mode',
      `Invalid value for control_socket_mode: ${mode} (permission bits, at most 0o777: write 0o600, not 600)`,
    );
  }
  // Address lists are checked here, so that a typo stops qilin at start (exit 1), not a worker.
  parseAllowList('forwarded_allow_ips', settings.forwarded_allow_ips);
  parseAllowList('proxy_allow_ips', settings.proxy_allow_ips);
  for (const e of settings.raw_env) {
    if (!e.includes('='))
      throw new ConfigError('raw_env', `Invalid value for raw_env: ${JSON.stringify(e)} (expected KEY=VALUE)`);
  }
  // A user or group that does not exist stops qilin here, before any worker is forked.
  workerOwner(settings);
  // As Gunicorn: a path that does not exist is an error (no glob patterns: Node 20 has no fs.glob).
  for (const f of settings.reload_extra_files) {
    if (!existsSync(path.resolve(cwd, f))) {
      throw new ConfigError(
        'reload_extra_files',
        `Invalid value for reload_extra_files: ${JSON.stringify(f)} (no such file or directory)`,
      );
    }
  }
  settings.http_protocols = parseHttpProtocols(settings.http_protocols).join(',');
  const h2Notes = http2Warnings(settings);
  const app = cli.app ?? envArgs?.app ?? null;
  return {
    settings,
    app,
    help: cli.help,
    version: cli.version,
    configFile,
    hooks: fromFile?.hooks ?? {},
    warnings: [...(fromFile?.warnings ?? []), ...h2Notes],
    notes,
  };
}

/**
 * `workers = auto`: $WEB_CONCURRENCY when it holds a number (the platform's word, as in Gunicorn),
 * else the CPUs this process may use.
 */
export function autoWorkers(env: NodeJS.ProcessEnv, cpus: () => CpuCount = usableCpus): CpuCount {
  const web = env.WEB_CONCURRENCY?.trim();
  if (web && /^\d+$/.test(web) && Number(web) >= 1) return { count: Number(web), source: `from $WEB_CONCURRENCY` };
  return cpus();
}

/** What `http_protocols` may list: HTTP/1.1 and HTTP/2 (Gunicorn's `h3` is a name it reserves; nothing serves it). */
export type HttpProtocol = 'h1' | 'h2';

/**
 * `http_protocols`: a comma list in order of preference (Gunicorn's validate_http_protocols: any
 * case, blanks ignored, empty means `h1`, a protocol listed twice is refused); `h3` is refused too,
 * rather than accepted and never served.
 */
export function parseHttpProtocols(text: string): HttpProtocol[] {
  const bad = (why: string): never => {
    throw new ConfigError('http_protocols', `Invalid value for http_protocols: ${JSON.stringify(text)} (${why})`);
  };
  if (typeof text !== 'string') bad('not a string');
  const list = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  if (list.length === 0) return ['h1'];
  for (const p of list) {
    if (p === 'h3') bad('h3 (HTTP/3 over QUIC) is not served: use h1, h2 or both');
    if (p !== 'h1' && p !== 'h2') bad(`unknown protocol ${JSON.stringify(p)}: one or more of h1, h2`);
  }
  if (new Set(list).size !== list.length) bad('a protocol is listed twice');
  return list as HttpProtocol[];
}

/**
 * HTTP/2 settings that cannot take effect as given, each said once at start (Gunicorn applies the
 * same rules silently): h2 with neither TLS nor h2c serves HTTP/1.1 only; http2_cleartext needs h2
 * and is ignored on TLS binds; node:http2 cannot take over a connection upgraded from HTTP/1.1.
 */
export function http2Warnings(s: Settings): string[] {
  const out: string[] = [];
  const h2 = s.http_protocols.split(',').includes('h2');
  const tls = s.certfile !== null && s.keyfile !== null;
  const cleartext = s.http2_cleartext;
  if (h2 && !tls && cleartext === 'off')
    out.push(
      'http_protocols lists h2, but no bind serves TLS and http2_cleartext is off: HTTP/2 is negotiated by TLS (ALPN) only, so HTTP/1.1 is served (set certfile and keyfile, or http2_cleartext = prior-knowledge behind a trusted proxy)',
    );
  if (cleartext !== 'off' && !h2)
    out.push(`http2_cleartext is ${cleartext}, but http_protocols does not list h2: it has no effect`);
  else if (cleartext !== 'off' && tls)
    out.push(
      `http2_cleartext is ${cleartext}, but every bind serves TLS: HTTP/2 is negotiated by ALPN there, and http2_cleartext has no effect`,
    );
  else if (cleartext === 'upgrade' || cleartext === 'both')
    out.push(
      `http2_cleartext is ${cleartext}: an \`Upgrade: h2c\` request is served as HTTP/1.1, not upgraded (node:http2 cannot take over a connection upgraded from HTTP/1.1)` +
        (cleartext === 'both'
          ? '; connections that open with the HTTP/2 preface are served HTTP/2'
          : '; set prior-knowledge to serve HTTP/2 without TLS'),
    );
  return out;
}
