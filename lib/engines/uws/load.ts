// Finds a uWebSockets.js build whose *native* binary loads on this Node and this machine.
//
// A build counts only if its own `uws_<platform>_<arch>_<ABI>.node` loads here: a package's
// JavaScript stand-in (20.30's "NodeJS implementation", picked silently when no binary fits)
// answers no request, so qilin never takes one. The order: a uWebSockets.js the application
// installed itself (resolved from the app's directory: upstream's releases carry binaries for new
// Node lines first), then the builds qilin ships — 20.57 (Node 20–25, glibc ≥ 2.38), 20.30
// (Node ≤ 20, glibc ≥ 2.27).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as UWS from 'uws-legacy';

export type UwsModule = typeof UWS;
export type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
  us_socket_context_t,
} from 'uws-legacy';

const ownRequire = createRequire(import.meta.url);

/** The builds qilin depends on, newest first (package names as package.json aliases them). */
export const BUNDLED_UWS = ['uWebSockets.js', 'uws-legacy'] as const;
/** The name an application installs upstream's build under. */
const APP_PACKAGE = 'uWebSockets.js';

export interface LoadedUws {
  uws: UwsModule;
  /** `uWebSockets.js 20.30.0`. */
  build: string;
  version: string;
  /** Where it came from: `the app's own (PATH)` or `bundled`. */
  origin: string;
  /** The package's main file: what a worker loads to get the same build. */
  main: string;
}

export interface UwsProbe {
  loaded: LoadedUws | null;
  /** Why each other build was skipped: `uWebSockets.js 20.57.0 (bundled): needs glibc ≥ 2.38 …`. */
  skipped: string[];
  /** This machine as uWS builds see it: `Node v24.11.1 (ABI 137), linux-x64, glibc 2.36` (read when asked). */
  readonly platform: string;
  /** With no build: how to get one for this Node and platform. */
  hint: string;
}

interface Candidate {
  main: string;
  origin: string;
}

/** glibc's version, or null on musl (Node's report says which C library it runs on). */
export function glibcVersion(): string | null {
  const report = process.report as unknown as {
    excludeNetwork?: boolean;
    getReport(): { header?: { glibcVersionRuntime?: string } };
  };
  report.excludeNetwork = true; // no DNS look-ups for a report read for one field
  return report.getReport().header?.glibcVersionRuntime ?? null;
}

const nodeMajor = () => Number(process.versions.node.split('.')[0]);

function describePlatform(glibc: string | null): string {
  const libc = process.platform !== 'linux' ? '' : glibc ? `, glibc ${glibc}` : ', musl';
  return `Node ${process.version} (ABI ${process.versions.modules}), ${process.platform}-${process.arch}${libc}`;
}

/** The package.json above a package's main file: its version. */
function packageVersion(main: string): string {
  for (let dir = path.dirname(main); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const v = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
      // `20.30.0-unofficial.0` is uWS 20.30.0 republished.
      if (typeof v === 'string') return v.replace(/-.*$/, '');
    } catch {
      /* not JSON: keep looking */
    }
  }
  return '?';
}

/** Where a build keeps this machine's binary: beside its main file, or in `binaries/` (20.30's layout). */
function nativeBinary(main: string): string | null {
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const dir = path.dirname(main);
  for (const p of [path.join(dir, file), path.join(dir, '..', 'binaries', file), path.join(dir, 'binaries', file)]) {
    if (existsSync(p)) return p;
  }
  return null;
}

/** Why a binary did not load, in a few words. */
function loadFailure(err: Error, glibc: string | null): string {
  const message = err.message;
  const needs = [...message.matchAll(/GLIBC_(\d+(?:\.\d+)+)' not found/g)].map((m) => m[1]!);
  if (needs.length > 0) {
    const newest = needs.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
    return `needs glibc ≥ ${newest} (this system has ${glibc ? `glibc ${glibc}` : 'musl'})`;
  }
  if (!glibc && /ld-linux|Error relocating|symbol not found/i.test(message))
    return 'built for glibc (this system has musl)';
  return message.split('\n')[0]!.slice(0, 200);
}

function candidates(appDir: string | null): Candidate[] {
  const out: Candidate[] = [];
  const bundled: string[] = [];
  for (const pkg of BUNDLED_UWS) {
    try {
      bundled.push(ownRequire.resolve(pkg));
    } catch {
      /* an install without it */
    }
  }
  if (appDir) {
    try {
      // What `import 'uWebSockets.js'` gives the app. When that is qilin's own alias, hoisted
      // beside the app, it is one of the bundled builds, not the app's.
      const main = createRequire(path.join(appDir, 'noop.js')).resolve(APP_PACKAGE);
      if (!bundled.includes(main)) out.push({ main, origin: `the app's own, ${path.dirname(main)}` });
    } catch {
      /* the app installed none */
    }
  }
  for (const main of bundled) out.push({ main, origin: 'bundled' });
  return out;
}

function hintFor(glibc: string | null, skipped: readonly { abiMissing: boolean; glibcMissing: boolean }[]): string {
  const major = nodeMajor();
  if (!glibc && process.platform === 'linux') {
    return 'uWebSockets.js publishes no musl binaries: a glibc-based image (node:24-trixie, node:24-bookworm with Node 20) gets the uws engine';
  }
  if (skipped.some((s) => s.glibcMissing)) {
    return `a glibc ≥ 2.38 system (Debian 13, Ubuntu 24.04, node:${major}-trixie) gets the bundled uWebSockets.js 20.57.0, or install a uWebSockets.js release built for this glibc and Node in the app's project`;
  }
  return `install a uWebSockets.js release with binaries for Node ${major} (ABI ${process.versions.modules}) in the app's project: npm install uNetworking/uWebSockets.js#<release tag>`;
}

let probed: UwsProbe | null = null;
let pinned: string | null = null;

/**
 * Which build serves here, looking first in `appDir` (the app's directory). Loads the build it
 * picks (its native binary only: never a package's JavaScript fallback); remembered per process.
 */
export function probeUws(appDir: string | null = null): UwsProbe {
  if (probed) return probed;
  // Node's report (~6 ms) only when something is said about this machine: not on a worker's boot.
  let libc: string | null | undefined;
  const glibc = (): string | null =>
    libc === undefined ? (libc = process.platform === 'linux' ? glibcVersion() : null) : libc;
  const platform = {
    get platform(): string {
      return describePlatform(glibc());
    },
  };
  const skipped: string[] = [];
  const why: { abiMissing: boolean; glibcMissing: boolean }[] = [];
  const list = pinned
    ? [{ main: pinned, origin: `the arbiter's choice, ${path.dirname(pinned)}` }]
    : candidates(appDir);
  for (const c of list) {
    const version = packageVersion(c.main);
    const name = `uWebSockets.js ${version} (${c.origin})`;
    const binary = nativeBinary(c.main);
    if (!binary) {
      skipped.push(
        `${name}: no binary for Node ${nodeMajor()} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`,
      );
      why.push({ abiMissing: true, glibcMissing: false });
      continue;
    }
    try {
      // The binary itself, not the package's main file: some mains fall back to JavaScript.
      const uws = ownRequire(binary) as UwsModule;
      if (typeof uws.App !== 'function') throw new Error('not a uWebSockets.js binary (no App)');
      probed = Object.assign(platform, {
        loaded: { uws, version, build: `uWebSockets.js ${version}`, origin: c.origin, main: c.main },
        skipped,
        hint: '',
      });
      return probed;
    } catch (err) {
      const reason = loadFailure(err as Error, glibc());
      skipped.push(`${name}: ${reason}`);
      why.push({
        abiMissing: false,
        glibcMissing: reason.startsWith('needs glibc') || reason.startsWith('built for glibc'),
      });
    }
  }
  if (list.length === 0) skipped.push('no uWebSockets.js package is installed');
  probed = Object.assign(platform, { loaded: null, skipped, hint: hintFor(glibc(), why) });
  return probed;
}

/** A worker loads the build its arbiter chose (the package main the arbiter found). */
export function pinUwsBuild(main: string): void {
  if (probed?.loaded?.main === main) return;
  probed = null;
  pinned = main;
}

/** Why no build loads here, as one clause: for the log line and the config error. */
export function noUwsReason(p: UwsProbe): string {
  return `no native uWebSockets.js build loads here: ${p.platform}; ${p.skipped.join('; ')}`;
}

/** The build probeUws picked; throws with the reasons when none loads. */
export function loadUws(): LoadedUws {
  const p = probeUws();
  if (p.loaded) return p.loaded;
  throw new Error(`${noUwsReason(p)} (${p.hint})`);
}
