// The one module that knows the engines. The arbiter asks it which engine serves a config, what
// to log and warn about, and whether the arbiter must create the sockets; a worker asks it for the
// engine's serving half. Engines are imported only when asked for.
import type { BindAddress } from '../config.js';
import { ConfigError, type Settings } from '../settings.js';
import { uwsCannotServe } from '../tls.js';
import type { ServingEngine } from './types.js';

export type EngineName = 'uws' | 'node';

export interface EngineChoice {
  name: EngineName;
  /** Why qilin picked it when the user did not (logged), else null. */
  why: string | null;
  /**
   * Asked for, or needed by a bind. Otherwise `uws` is provisional: the first worker to load the
   * app says whether it is Node-style, and the arbiter then moves to `node` (see Arbiter).
   */
  fixed: boolean;
}

/**
 * The engine for this config: the one asked for, or `uws` unless something needs `node` (a unix
 * socket, an inherited fd, systemd's sockets, the PROXY protocol, required client certificates, a
 * Node-style app). Asking for `uws` with such a config is a config error.
 */
export function chooseEngine(settings: Settings, binds: readonly BindAddress[], systemd: boolean): EngineChoice {
  // The PROXY protocol is read in JS before node:http parses (uWS reads v2 only, from any peer, and
  // says nothing of v1: not enough to honour proxy_protocol and proxy_allow_ips).
  const need = systemd ? 'systemd socket activation (LISTEN_FDS)'
    : binds.filter((b) => b.kind !== 'tcp').map((b) => `bind ${b.text}`)[0] ??
      (settings.proxy_protocol !== 'off' ? `proxy_protocol ${settings.proxy_protocol}` : null) ?? uwsCannotServe(settings);
  if (settings.engine === 'uws' && need !== null) {
    throw new ConfigError('engine', `Invalid value for engine: "uws" (${need} needs the node engine: use --engine node)`);
  }
  if (settings.engine !== null) return { name: settings.engine, why: null, fixed: true };
  if (need !== null) return { name: 'node', why: `${need} needs it`, fixed: true };
  return { name: 'uws', why: null, fixed: false };
}

export interface EngineFacts {
  /** `uws (uWebSockets.js 20.30.0)`; throws when the engine cannot run here. */
  label: string;
  /** The arbiter creates the listening sockets and passes them to every worker. */
  sharedSockets: boolean;
  /** Said once at start. */
  warnings: string[];
  /** Said at debug level: why newer builds were skipped, say. */
  details: string[];
}

/** What the arbiter needs to know of an engine; loads it to find out (a uWS build that loads). */
export async function engineFacts(name: EngineName): Promise<EngineFacts> {
  if (name === 'node') return { label: 'node (node:http)', sharedSockets: true, warnings: [], details: [] };
  const { loadUws } = await import('./uws/load.js');
  const { version, skipped } = loadUws();
  const warnings: string[] = [];
  if (version === '20.30.0') {
    warnings.push(
      'uWebSockets.js 20.30.0 cannot answer HTTP/1.0 requests (nginx\'s default proxy_pass, ab, curl --http1.0): ' +
      'set `proxy_http_version 1.1;` in nginx, or serve with --engine node',
    );
  }
  const details = skipped.map((why) => `uWebSockets.js build skipped: ${why}`);
  return { label: `uws (uWebSockets.js ${version})`, sharedSockets: false, warnings, details };
}

/** The serving half of an engine, for a worker. */
export async function servingEngine(name: EngineName): Promise<ServingEngine> {
  if (name === 'node') return (await import('./node/listener.js')).nodeEngine;
  return (await import('./uws/listener.js')).uwsEngine;
}
