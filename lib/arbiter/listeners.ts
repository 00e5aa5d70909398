// Where the workers listen, in the engine's two ways behind one interface:
//
// - SharedSockets (node engine, Gunicorn's model): the arbiter creates each listening socket once
//   (lib/arbiter/sockets.ts), keeps it across reloads and hands its fd to every worker; systemd's
//   sockets (LISTEN_FDS) and those an old arbiter handed over on USR2 are used as they are.
// - ReusePortBinds (uws engine): each worker opens its own SO_REUSEPORT listener per bind; the
//   arbiter only binds each new address once with a plain socket and releases it, so that a port
//   another program holds is one clear error at start rather than failing workers.
//
// Either way an address lands where it was asked or not at all, and port 0 becomes one real port
// that every worker (and a reload) keeps.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { bindUrl, formatBind, parseBind, type BindAddress } from '../config/binds.js';
import type { Settings } from '../config/settings.js';
import type { ServedBind } from '../engines/types.js';
import { socketOwner } from '../ops/privileges.js';
import { bindOnce } from './ports.js';
import { bindFailure, closeSocket, createSocket, listenAll, SocketError, type SharedSocket } from './sockets.js';

/** What a new arbiter started by USR2 is handed (lib/arbiter/usr2.ts). */
export interface HandOver {
  /** Listening sockets, in bind order (shared sockets only). */
  sockets: readonly SharedSocket[];
  /** The binds as served, with the ports port 0 became. */
  binds: readonly BindAddress[];
  /** The new arbiter exited: the unix socket files are this arbiter's again (removed at its exit). */
  takeBack(): void;
}

export interface Listeners {
  /** The arbiter holds the sockets and hands them to the workers (node engine). */
  readonly shared: boolean;
  /**
   * Make the binds of `settings` ready for workers, at start and on a reload: what was there
   * already is kept. Throws a SocketError (Gunicorn's wording: `Connection in use: …`).
   */
  open(settings: Settings): Promise<void>;
  /** Where the workers listen, as `Listening at:` says it (before the scheme is added). */
  urls(): string[];
  /** What a worker is forked with: its binds, and the fds it gets after stdio and IPC (4, 5, …). */
  forWorker(): { binds: ServedBind[]; fds: number[] };
  /** USR2: what the new arbiter gets; the unix socket files become its to remove. */
  handOver(): HandOver;
  /** Said once at start. */
  warnings(): string[];
  /** At exit. */
  close(): void;
}

/** The node engine's listeners: sockets the arbiter creates (or was given) and every worker accepts from. */
export class SharedSockets implements Listeners {
  readonly shared = true;
  /** In bind order. */
  private sockets: SharedSocket[];

  /**
   * `systemd`: the sockets LISTEN_FDS passed, which replace the bind setting (as in Gunicorn);
   * `inherited`: those an old arbiter handed over on USR2, kept for the binds they match.
   */
  constructor(
    private readonly systemd: SharedSocket[] | null,
    inherited: SharedSocket[] = [],
  ) {
    this.sockets = inherited;
  }

  async open(settings: Settings): Promise<void> {
    if (this.systemd) {
      this.sockets = this.systemd;
      return;
    }
    const kept = new Map(this.sockets.map((s) => [bindKey(parseBind(s.bind.text)), s])); // as written: port 0 stays 0
    const next: SharedSocket[] = [];
    const fresh: SharedSocket[] = [];
    try {
      for (const b of settings.bind.map(parseBind)) {
        const old = kept.get(bindKey(b));
        if (old) {
          next.push(old);
          kept.delete(bindKey(b));
          continue;
        }
        const s = await createSocket(b, settings.umask, socketOwner(settings));
        fresh.push(s);
        next.push(s);
      }
      listenAll(fresh, settings.backlog);
    } catch (err) {
      for (const s of fresh) closeSocket(s);
      throw err;
    }
    // A bind the new config dropped: the old workers keep their copies until they stop.
    for (const s of kept.values()) closeSocket(s);
    this.sockets = next;
  }

  urls(): string[] {
    return this.sockets.map((s) => s.url);
  }

  forWorker(): { binds: ServedBind[]; fds: number[] } {
    return {
      binds: this.sockets.map((s, i) => ({ ...s.bind, childFd: 4 + i })), // 0–2 stdio, 3 the IPC channel
      fds: this.sockets.map((s) => s.fd),
    };
  }

  handOver(): HandOver {
    const sockets = this.sockets;
    const unlinks = sockets.map((s) => s.unlinkPath);
    for (const s of sockets) s.unlinkPath = null;
    return {
      sockets,
      binds: sockets.map((s) => s.bind),
      takeBack: () =>
        sockets.forEach((s, i) => {
          s.unlinkPath = unlinks[i] ?? null;
        }),
    };
  }

  warnings(): string[] {
    return [];
  }

  close(): void {
    for (const s of this.sockets) closeSocket(s);
    this.sockets = [];
  }
}

/** The uws engine's listeners: each worker listens itself with SO_REUSEPORT; the arbiter only probes. */
export class ReusePortBinds implements Listeners {
  readonly shared = false;
  private binds: BindAddress[] = [];

  /**
   * `inheritedPort`: the port an old arbiter that started this one by USR2 serves a bind on (its
   * workers listen there with SO_REUSEPORT: ours join them), while that arbiter runs.
   */
  constructor(private readonly inheritedPort: (text: string) => number | undefined = () => undefined) {}

  /**
   * Bind each new address once with a plain socket and release it: the workers' SO_REUSEPORT
   * listeners could not share a port another program holds, and this gives one clear error.
   * Port 0 becomes the port the OS picked, so every worker listens on the same one.
   */
  async open(settings: Settings): Promise<void> {
    const out: BindAddress[] = [];
    for (const b of settings.bind.map(parseBind)) {
      const already = this.binds.find((c) => c.text === b.text);
      if (already) {
        out.push(already);
        continue;
      }
      // A plain probe would fail where the old arbiter's workers listen.
      const inherited = b.kind === 'tcp' ? this.inheritedPort(b.text) : undefined;
      if (b.kind === 'tcp' && inherited !== undefined) {
        out.push({ ...b, port: inherited });
        continue;
      }
      out.push(await probeBind(b));
    }
    this.binds = out;
  }

  urls(): string[] {
    return this.binds.map(bindUrl);
  }

  forWorker(): { binds: ServedBind[]; fds: number[] } {
    return { binds: this.binds, fds: [] };
  }

  handOver(): HandOver {
    return { sockets: [], binds: this.binds, takeBack: () => {} };
  }

  warnings(): string[] {
    try {
      if (readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '0') {
        return [
          'net.ipv4.tcp_migrate_req=0: when a worker stops (reload, max_requests, TTOU), connections still ' +
            "in its listener's accept queue are reset; `sysctl -w net.ipv4.tcp_migrate_req=1` makes replacements lossless",
        ];
      }
    } catch {
      /* not Linux, or an older kernel */
    }
    return [];
  }

  close(): void {
    // Nothing held: each worker closes its own listeners.
  }
}

/**
 * Binds that name the same socket across a reload: as written, except that a TCP address with an
 * IP and a fixed port is compared as that address (`:8000` and `0.0.0.0:8000` are one socket).
 */
function bindKey(b: BindAddress): string {
  if (b.kind === 'tcp' && b.port !== 0 && net.isIP(b.host) !== 0) return `tcp:${formatBind(b)}`;
  return b.text;
}

/** Bind an address once and release it: the address with the port it got, or a SocketError. */
async function probeBind(b: BindAddress): Promise<BindAddress> {
  if (b.kind !== 'tcp') throw new SocketError(`the uws engine cannot serve ${b.text}`);
  try {
    return { ...b, port: await bindOnce(b.host, b.port) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SocketError(bindFailure(err.code ?? '', formatBind(b), err.message));
  }
}
