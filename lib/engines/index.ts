// The one module that knows the engines. The arbiter asks it which engine serves a config, what
// to log and warn about, and whether the arbiter must create the sockets; a worker asks it for the
// engine's serving half. Engines are imported only when asked for.
import type { BindAddress } from '../config/binds.js';
import { ConfigError, type Settings } from '../config/settings.js';
import { uwsCannotServe } from '../ops/tls.js';
import type { ServingEngine } from './types.js';
import { loadUws, noUwsReason, pinUwsBuild, probeUws } from './uws/load.js';

export type EngineName = 'uws' | 'node';

export interface EngineChoice {
  name: EngineName;
  /** Why qilin picked it when the user did not (logged), else null. */
  why: string | null;
  /**
   * Asked for, or needed by a bind. Otherwise `uws` is provisional: the arbiter loads the app once
   * before forking and picks `node` for a Node-style app (lib/arbiter/app-check.ts).
   */
  fixed: boolean;
}

/**
 * The engine for this config: the one asked for, or `uws` unless something needs `node` (a unix
 * socket, an inherited fd, systemd's sockets, the PROXY protocol, required client certificates, h2
 * in http_protocols, a Node-style app) or no native uWebSockets.js build loads here (looked for from `appDir`, the
 * app's directory, first). Asking for `uws` where it cannot serve is a config error.
 */
export function chooseEngine(
  settings: Settings,
  binds: readonly BindAddress[],
  systemd: boolean,
  appDir: string | null,
): EngineChoice {
  // The PROXY protocol is read in JS before node:http parses (uWS reads v2 only, from any peer, and
  // says nothing of v1: not enough to honour proxy_protocol and proxy_allow_ips).
  const need = systemd
    ? 'systemd socket activation (LISTEN_FDS)'
    : (binds.filter((b) => b.kind !== 'tcp').map((b) => `bind ${b.text}`)[0] ??
      (settings.proxy_protocol !== 'off' ? `proxy_protocol ${settings.proxy_protocol}` : null) ??
      // uWebSockets.js serves HTTP/1.1 only; node:http2 serves HTTP/2.
      (settings.http_protocols.split(',').includes('h2') ? `http_protocols ${settings.http_protocols}` : null) ??
      uwsCannotServe(settings));
  if (settings.engine === 'uws' && need !== null) {
    throw new ConfigError(
      'engine',
      `Invalid value for engine: "uws" (${need} needs the node engine: use --engine node)`,
    );
  }
  if (settings.engine === 'node') return { name: 'node', why: null, fixed: true };
  if (need !== null) return { name: 'node', why: `${need} needs it`, fixed: true };
  const probe = probeUws(appDir);
  if (!probe.loaded) {
    if (settings.engine === 'uws')
      throw new ConfigError('engine', `Invalid value for engine: "uws" (${noUwsReason(probe)}; ${probe.hint})`);
    // A default never silently does something else: the line that says node says why, and how to get uws.
    return { name: 'node', why: `${noUwsReason(probe)}; ${probe.hint}`, fixed: true };
  }
  if (settings.engine === 'uws') return { name: 'uws', why: null, fixed: true };
  return { name: 'uws', why: null, fixed: false };
}

export interface EngineFacts {
  /** `uws (uWebSockets.js 20.30.0)`. */
  label: string;
  /** Which build, from where, and why others were skipped (said with the label), else null. */
  build: string | null;
  /** For a worker: the uWS package main file to load (the arbiter's choice), else null. */
  uwsMain: string | null;
  /** The arbiter creates the listening sockets and passes them to every worker. */
  sharedSockets: boolean;
  /** Said once at start. */
  warnings: string[];
}

/** What the arbiter needs to know of an engine (for uws, the build chooseEngine found). */
export async function engineFacts(name: EngineName): Promise<EngineFacts> {
  if (name === 'node')
    return { label: 'node (node:http)', build: null, uwsMain: null, sharedSockets: true, warnings: [] };
  const { version, origin, main } = loadUws();
  const warnings: string[] = [];
  if (version === '20.30.0') {
    warnings.push(
      "uWebSockets.js 20.30.0 cannot answer HTTP/1.0 requests (nginx's default proxy_pass, ab, curl --http1.0): " +
        'set `proxy_http_version 1.1;` in nginx, or serve with --engine node',
    );
  }
  const { skipped } = probeUws();
  const build = skipped.length ? `${origin}; skipped ${skipped.join('; ')}` : origin;
  return { label: `uws (uWebSockets.js ${version})`, build, uwsMain: main, sharedSockets: false, warnings };
}

/** For `qilin --version`: this platform, the uWS build the uws engine would use, and why others were skipped. */
export function engineReport(appDir: string | null): string[] {
  const p = probeUws(appDir);
  const lines = [p.platform];
  if (p.loaded) lines.push(`uws engine: ${p.loaded.build} (${p.loaded.origin})`);
  else lines.push(`uws engine: unavailable, engine unset serves with node (${p.hint})`);
  for (const s of p.skipped) lines.push(`  skipped ${s}`);
  lines.push('node engine: node:http');
  return lines;
}

/** The serving half of an engine, for a worker; uws loads the build its arbiter chose (`uwsMain`). */
export async function servingEngine(name: EngineName, uwsMain: string | null = null): Promise<ServingEngine> {
  if (name === 'node') return (await import('./node/server.js')).nodeEngine;
  if (uwsMain) pinUwsBuild(uwsMain);
  return (await import('./uws/server.js')).uwsEngine;
}
