// systemd's notify protocol (Type=notify): READY=1 once the workers listen, RELOADING=1 and READY=1
// around a reload, STOPPING=1 at shutdown, each a datagram on the unix socket in $NOTIFY_SOCKET.
//
// Node 20 cannot send a unix datagram (node:dgram is UDP only; node:net's unix sockets are streams,
// and connecting one to a SOCK_DGRAM socket fails with EPROTOTYPE), so the arbiter runs systemd's
// own `systemd-notify`, which ships with systemd. Started by a root arbiter, systemd-notify sends
// with the arbiter's pid in its credentials, so systemd's default NotifyAccess=main accepts it;
// started by another user it sends as itself, which needs NotifyAccess=all (it waits until systemd
// has read the message, so systemd can still tell which service it came from).
import { spawn } from 'node:child_process';

export class ServiceNotifier {
  /** READY=1 is due once every wanted worker listens: at start, and after each RELOADING=1. */
  awaitingReady = true;
  private readonly socket = process.env.NOTIFY_SOCKET || null;
  /** One systemd-notify at a time, so that systemd reads the states in the order they happened. */
  private queue: Promise<void> = Promise.resolve();
  private missing = false;
  private stopped = false;

  /** `warn` logs a notification that could not be sent (systemd then times out waiting). */
  constructor(private readonly warn: (msg: string) => void) {}

  ready(status: string): void {
    this.awaitingReady = false;
    this.send(['READY=1', `MAINPID=${process.pid}`, `STATUS=${status}`]);
  }

  reloading(): void {
    if (this.stopped) return;
    this.awaitingReady = true;
    // MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match the reload to its signal.
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, 'STATUS=Reloading']);
  }

  stopping(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.awaitingReady = false;
    this.send(['STOPPING=1', 'STATUS=Stopping']);
  }

  private send(state: string[]): void {
    if (this.socket === null || this.missing) return;
    this.queue = this.queue.then(() => this.run(state));
  }

  private run(state: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn('systemd-notify', state, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => {
        stderr += d;
      });
      let failed = false; // 'close' may follow 'error': say it once
      child.on('error', (err: NodeJS.ErrnoException) => {
        failed = true;
        if (err.code === 'ENOENT') {
          this.missing = true;
          this.warn(
            `NOTIFY_SOCKET is set but systemd-notify is not installed: systemd is not told ${state[0]} (Node cannot send a unix datagram itself)`,
          );
        } else {
          this.warn(`Cannot tell systemd ${state[0]}: ${err.message}`);
        }
        resolve();
      });
      child.on('close', (code) => {
        if (failed) return;
        if (code !== 0 && code !== null)
          this.warn(`Cannot tell systemd ${state[0]}: systemd-notify exited with ${code}: ${stderr.trim()}`);
        resolve();
      });
    });
  }
}
