// Loads the newest uWebSockets.js build that loads on this machine.
// 20.57 needs glibc >= 2.38; 20.30 runs on glibc >= 2.27 (Node 16/18/20 only).
import { createRequire } from 'node:module';
import type * as UWS from 'uws-legacy';

export type UwsModule = typeof UWS;
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uws-legacy';

const require = createRequire(import.meta.url);
const BUILDS = [
  { pkg: 'uWebSockets.js', version: '20.57.0' },
  { pkg: 'uws-legacy', version: '20.30.0' },
] as const;

export interface LoadedUws {
  uws: UwsModule;
  /** The build in use, e.g. `uWebSockets.js 20.30.0 (uws-legacy)`. */
  build: string;
  version: string;
  /** Why newer builds were skipped. */
  skipped: string[];
}

let loaded: LoadedUws | null = null;

export function loadUws(): LoadedUws {
  if (loaded) return loaded;
  const skipped: string[] = [];
  for (const b of BUILDS) {
    try {
      // uWS prints its own banner on some platforms; keep the error log ours.
      const uws = require(b.pkg) as UwsModule;
      loaded = { uws, version: b.version, build: `uWebSockets.js ${b.version} (${b.pkg})`, skipped };
      return loaded;
    } catch (err) {
      skipped.push(`${b.pkg}@${b.version}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no uWebSockets.js build loads here:\n  ${skipped.join('\n  ')}`);
}
