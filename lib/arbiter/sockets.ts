// The listening sockets the arbiter owns for the node engine (Gunicorn's model): created once,
// kept across reloads, passed to every worker as a file descriptor. The arbiter binds them and
// makes them listen, but never polls them: it accepts nothing and holds no client connection.
//
// Node offers no public call that listens without also accepting in the calling process, so the
// arbiter binds with net's handle factory (what node:cluster's primary uses for its shared
// handles) and a one-shot helper process inherits the sockets and calls listen(2) on them before
// its event loop ever runs. From then on the sockets queue connections while the arbiter holds
// them, whether or not a worker is alive, and workers accept from that one queue.
import { spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { chownSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { bindUrl, formatBind, parseBind, type BindAddress } from '../config/binds.js';

/** net's server handle (TCP or Pipe wrap): what `_createServerHandle` returns. */
interface ServerHandle {
  readonly fd: number;
  getsockname?(out: { address?: string; port?: number }): number;
  close(): void;
}

const createServerHandle = (
  net as unknown as {
    _createServerHandle(
      address: string | null,
      port: number | null,
      addressType: number | null,
      fd?: number,
    ): ServerHandle | number;
  }
)._createServerHandle;

export interface SharedSocket {
  /** The bind, with the port the OS picked for port 0. */
  bind: BindAddress;
  /** The descriptor in the arbiter. */
  fd: number;
  /** A unix socket file this arbiter created, removed when the socket is closed. */
  unlinkPath: string | null;
  /**
   * For `Listening at:`: the URL, and for an inherited TCP socket the address it is bound to (with
   * `(fd://N)` after it when it was given as a descriptor: fd://N, systemd).
   */
  url: string;
  handle: ServerHandle;
}

/** A socket that cannot be made; `reason` is the line the arbiter halts with (Gunicorn's wording). */
export class SocketError extends Error {}

function errnoName(code: number): string {
  try {
    return getSystemErrorName(code);
  } catch {
    return `errno ${code}`;
  }
}

/** Why an address cannot be bound, as Gunicorn says it (the arbiter halts with it, exit 3). */
export function bindFailure(code: string, where: string, detail = ''): string {
  switch (code) {
    case 'EADDRINUSE':
      return `Connection in use: ${where}`;
    case 'EACCES':
      return `Permission denied: ${where}`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Invalid address: ${where}`;
    default:
      return `Can't bind ${where}: ${detail || code}`;
  }
}

/** Bind one address (not yet listening; see listenAll). */
export async function createSocket(
  bind: BindAddress,
  umask: number,
  owner: { uid: number; gid: number } | null = null,
): Promise<SharedSocket> {
  const where = formatBind(bind);
  if (bind.kind === 'fd') return adopt(bind.fd, bind);
  if (bind.kind === 'unix') {
    await removeStale(bind.path, where);
    const old = process.umask(umask); // the socket file's mode comes from the umask, as Gunicorn's
    let h: ServerHandle | number;
    try {
      h = createServerHandle(bind.path, -1, -1);
    } finally {
      process.umask(old);
    }
    if (typeof h === 'number') throw new SocketError(unixReason(errnoName(h), bind.path, where));
    // The workers' user and group own it, as in Gunicorn: with a umask of 0o007, their group may connect.
    if (owner) {
      try {
        chownSync(bind.path, owner.uid, owner.gid);
      } catch (err) {
        h.close();
        try {
          unlinkSync(bind.path);
        } catch {
          /* gone already */
        }
        throw new SocketError(`Can't bind ${where}: ${(err as Error).message}`);
      }
    }
    return { bind, fd: h.fd, unlinkPath: bind.path, handle: h, url: bindUrl(bind) };
  }
  let address = bind.host;
  let family = net.isIP(address);
  if (family === 0) {
    try {
      ({ address, family } = await lookup(bind.host));
    } catch (err) {
      throw new SocketError(bindFailure((err as NodeJS.ErrnoException).code ?? '', where));
    }
  }
  const h = createServerHandle(address, bind.port, family);
  if (typeof h === 'number') throw new SocketError(bindFailure(errnoName(h), where));
  // libuv defers a bind error to listen(), and listen() on a socket whose bind failed binds a
  // random port on every interface. Ask the socket where it is bound, as Node's own listen() does
  // (checkBindError): an error, or another port than the one asked for, means it is in use.
  const name: { port?: number } = {};
  const err = h.getsockname ? h.getsockname(name) : 0;
  if (err !== 0 || (bind.port !== 0 && name.port !== bind.port)) {
    h.close();
    throw new SocketError(bindFailure(err !== 0 ? errnoName(err) : 'EADDRINUSE', where));
  }
  const bound: BindAddress = { ...bind, port: name.port ?? bind.port };
  return { bind: bound, fd: h.fd, unlinkPath: null, handle: h, url: bindUrl(bound) };
}

/**
 * libuv reports a unix socket path in a missing directory as EACCES (for Windows' sake): say
 * which it is, since "Permission denied" sends people after the wrong fix.
 */
function unixReason(code: string, file: string, where: string): string {
  const dir = path.dirname(path.resolve(file));
  if (code === 'EACCES' && !existsSync(dir)) return `Can't bind ${where}: directory ${dir} does not exist`;
  return bindFailure(code, where);
}

/** A socket given to us (fd://N, systemd): used as it is, never unlinked. */
function adopt(fd: number, bind: BindAddress): SharedSocket {
  const h = createServerHandle(null, null, null, fd);
  if (typeof h === 'number')
    throw new SocketError(`Can't use ${formatBind(bind)}: ${errnoName(h)} (not an open socket?)`);
  // Logged as the address it is bound to, as Gunicorn does for inherited sockets, and the descriptor.
  const name: { address?: string; port?: number } = {};
  let url = bindUrl(bind);
  if (h.getsockname && h.getsockname(name) === 0 && name.address !== undefined && name.port !== undefined) {
    url =
      bindUrl({ kind: 'tcp', host: name.address, port: name.port, text: '' }) +
      (bind.kind === 'fd' ? ` (${formatBind(bind)})` : '');
  }
  return { bind, fd, unlinkPath: null, handle: h, url };
}

/** systemd socket activation: the sockets at fds 3.. when LISTEN_PID is us (then unset, as Gunicorn). */
export function systemdSockets(env: NodeJS.ProcessEnv): SharedSocket[] | null {
  if (!env.LISTEN_FDS || Number(env.LISTEN_PID) !== process.pid) return null;
  const n = Number(env.LISTEN_FDS);
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  const out: SharedSocket[] = [];
  for (let fd = 3; fd < 3 + n; fd++) out.push(adopt(fd, { kind: 'fd', fd, text: `fd://${fd}` }));
  return out;
}

/**
 * Sockets a parent arbiter handed over on USR2 (lib/arbiter/usr2.ts): listening already, at `fd`, for the
 * bind written `text` (matched against the config's binds as a reload matches them).
 */
export function inheritedSockets(list: readonly { fd: number; text: string }[]): SharedSocket[] {
  return list.map(({ fd, text }) => {
    const b = parseBind(text);
    // A unix socket keeps its path: the new arbiter removes the file when it closes the socket.
    const s = adopt(fd, b);
    if (b.kind === 'unix') {
      s.unlinkPath = b.path;
      s.url = bindUrl(b);
    }
    return s;
  });
}

/** A unix socket file left by a run that died: replaced. One a live server answers on: refused. */
export async function removeStale(path: string, where: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new SocketError(`Can't bind ${where}: ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new SocketError(`Connection in use: ${where}`);
  unlinkSync(path);
}

const LISTEN_HELPER = `
const net = require('node:net');
const fds = JSON.parse(process.argv[1]);
const backlog = Number(process.argv[2]);
for (const fd of fds) {
  const h = net._createServerHandle(null, null, null, fd);
  const err = typeof h === 'number' ? h : h.listen(backlog);
  if (err) { process.stdout.write(JSON.stringify([fd, err])); process.exit(1); }
}
process.exit(0); // before the event loop runs: nothing is ever accepted here
`;

/** listen(2) on each socket with `backlog`, in a helper that exits before it could accept. */
export function listenAll(sockets: readonly SharedSocket[], backlog: number): void {
  if (sockets.length === 0) return;
  const childFds = sockets.map((_, i) => 3 + i);
  const r = spawnSync(process.execPath, ['-e', LISTEN_HELPER, JSON.stringify(childFds), String(backlog)], {
    stdio: ['ignore', 'pipe', 'pipe', ...sockets.map((s) => s.fd)],
    env: {},
  });
  if (r.status === 0) return;
  const [fd, err] = (JSON.parse(r.stdout.toString() || 'null') ?? [-1, 0]) as [number, number];
  const s = sockets[childFds.indexOf(fd)];
  const where = s ? formatBind(s.bind) : 'a socket';
  throw new SocketError(
    err ? bindFailure(errnoName(err), where) : `Can't listen on ${where}: ${r.stderr.toString().trim()}`,
  );
}

export function closeSocket(s: SharedSocket): void {
  try {
    s.handle.close();
  } catch {
    /* closed already */
  }
  if (s.unlinkPath) {
    try {
      unlinkSync(s.unlinkPath);
    } catch {
      /* gone already */
    }
  }
}
