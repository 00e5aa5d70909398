// The arbiter's control socket (`control_socket`): a unix socket that `qilin ctl` (or `nc -U`) talks
// to, with the protocol of lib/ctl/protocol.ts (one JSON request line in, one JSON response line
// out). The socket is the arbiter's own: libuv opens it close-on-exec and the workers are forked
// with an explicit stdio list, so no worker ever holds it.
import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  CONTROL_COMMANDS,
  workerCount,
  type ControlRequest,
  type ControlResponse,
  type ScaleData,
  type SignalledData,
  type StatusData,
} from '../ctl/protocol.js';

/** What the arbiter does for each command; a thrown error becomes the error response. */
export interface ControlActions {
  status(): StatusData;
  /** As HUP. */
  reload(): void;
  /** Keep `n` workers; returns the count before. */
  scale(n: number): number;
  /** As TERM. */
  stop(): void;
}

/** The control socket cannot be opened: the arbiter refuses to start with this line. */
export class ControlSocketError extends Error {}

/** Longest request line read; a client that sends more is answered with an error. */
const MAX_REQUEST = 64 * 1024;
/** A client that connects and sends nothing is dropped after this long. */
const IDLE_MS = 10_000;

export class ControlServer {
  private readonly clients = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    /** Absolute path of the socket file. */
    readonly path: string,
    /** The file this server created: removed at close only while it is still this one. */
    private readonly ino: number,
    private readonly actions: ControlActions,
  ) {
    server.on('connection', (sock) => this.serve(sock));
    server.on('error', () => {
      /* a listening server's later errors are per connection: nothing to do */
    });
  }

  /**
   * Listen on `file` (relative to the current directory) with permissions `mode`. A socket file left
   * by a server that died is replaced; one a live server answers on, or a file that is not a socket,
   * is refused.
   */
  static async open(file: string, mode: number, actions: ControlActions): Promise<ControlServer> {
    const where = path.resolve(file);
    // Longer than sun_path holds, libuv would bind a truncated name instead.
    const max = process.platform === 'linux' ? 107 : 103;
    if (Buffer.byteLength(where) > max) {
      throw new ControlSocketError(
        `Can't create the control socket ${where}: the path is longer than ${max} bytes, the most a unix socket may have`,
      );
    }
    await removeStaleControl(where);
    const server = net.createServer({ allowHalfOpen: true });
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // The file is created by listen() itself (errors come later): with no access for anyone but us,
    // then widened to `mode`, so it is never more open than asked for, even for a moment.
    const old = process.umask(0o177);
    try {
      server.listen(where);
    } finally {
      process.umask(old);
    }
    try {
      await listening;
    } catch (err) {
      throw new ControlSocketError(
        `Can't create the control socket ${where}: ${reason(err as NodeJS.ErrnoException, where)}`,
      );
    }
    try {
      chmodSync(where, mode);
    } catch (err) {
      server.close();
      throw new ControlSocketError(`Can't set the mode of the control socket ${where}: ${(err as Error).message}`);
    }
    return new ControlServer(server, where, statSync(where).ino, actions);
  }

  close(): void {
    this.server.close();
    // Open connections would keep the arbiter's event loop, and so the process, alive.
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    try {
      if (statSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      /* gone already */
    }
  }

  private serve(sock: net.Socket): void {
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => {
      /* the client left: nothing to answer */
    });
    sock.setTimeout(IDLE_MS, () => sock.destroy());
    sock.setEncoding('utf8');
    let buffered = '';
    let answered = false;
    const answer = (line: string) => {
      answered = true;
      sock.removeAllListeners('data');
      sock.end(JSON.stringify(this.dispatch(line)) + '\n');
    };
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) answer(buffered.slice(0, nl));
      else if (buffered.length > MAX_REQUEST) answer('');
    });
    // A client that half-closes after its request without a newline (`printf … | nc -N -U`).
    sock.on('end', () => {
      if (!answered && buffered.trim() !== '') answer(buffered);
      else if (!answered) sock.end();
    });
  }

  /** One request line → one response object. */
  dispatch(line: string): ControlResponse {
    let id: unknown;
    try {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new Error('the request is not a JSON line: {"command": "status"}');
      }
      if (msg === null || typeof msg !== 'object' || typeof (msg as { command?: unknown }).command !== 'string') {
        throw new Error('the request needs a "command" string: {"command": "status"}');
      }
      const req = msg as ControlRequest;
      id = req.id;
      // "scale 3" and {"command": "scale", "args": [3]} mean the same, as in Gunicorn.
      const [command = '', ...words] = req.command.trim().split(/\s+/);
      const args = [...words, ...(Array.isArray(req.args) ? req.args.map(String) : [])];
      return { ...(id !== undefined ? { id } : {}), status: 'ok', data: this.run(command.toLowerCase(), args) };
    } catch (err) {
      return { ...(id !== undefined ? { id } : {}), status: 'error', error: (err as Error).message };
    }
  }

  private run(command: string, args: string[]): StatusData | SignalledData | ScaleData {
    switch (command) {
      case 'status':
        return this.actions.status();
      case 'reload':
        this.actions.reload();
        return { status: 'reloading', pid: process.pid };
      case 'scale': {
        const n = args.length === 1 ? workerCount(args[0]) : null;
        if (n === null) throw new Error('scale needs one whole number of workers >= 1');
        return { previous: this.actions.scale(n), target: n };
      }
      case 'stop':
        this.actions.stop();
        return { status: 'stopping', pid: process.pid };
      default:
        throw new Error(`unknown command: ${command || '(empty)'} (${CONTROL_COMMANDS})`);
    }
  }
}

/** A socket file left by a dead server is removed; a live one, or a file that is not a socket, refused. */
async function removeStaleControl(file: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(file).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new ControlSocketError(`Control socket ${file} exists and is not a socket: not replaced`);
  // Only a refused connection proves nobody listens (EAGAIN, say, is a live server that is busy).
  const failure = await new Promise<string | null>((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => {
      c.destroy();
      resolve(null);
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  if (failure === 'ENOENT') return; // removed meanwhile
  if (failure !== 'ECONNREFUSED') {
    throw new ControlSocketError(
      `Control socket ${file} is in use by a running server (stop it, or give this one another --control-socket)` +
        (failure === null ? '' : ` [${failure}]`),
    );
  }
  try {
    unlinkSync(file);
  } catch {
    /* removed meanwhile */
  }
}

/** libuv says EACCES for a path in a missing directory: say which it is. */
function reason(err: NodeJS.ErrnoException, file: string): string {
  const dir = path.dirname(file);
  if ((err.code === 'EACCES' || err.code === 'ENOENT') && !existsDir(dir)) return `directory ${dir} does not exist`;
  return err.message;
}

function existsDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
