// What a worker does with the signals it is sent, as Gunicorn's workers: TERM asks for a graceful
// stop; INT and QUIT for a quick one (exit 0, after worker_int); SIGABRT, which the arbiter sends a
// worker silent past `timeout`, for a quick one with exit 1 after worker_abort, but only when that
// hook is set (otherwise SIGABRT keeps its default); USR1 reopens the logs. The signals the arbiter
// acts on itself (HUP, TTIN, TTOU, WINCH) are ignored here, since a terminal sends some of them to the
// whole process group. An arbiter that went away asks for a graceful stop too (Gunicorn checks ppid).
//
// A handler only records what was asked (StopRequests); the worker's scope acts on it. The handlers
// are an effection resource of that scope: leaving it removes them.
import { resource, withResolvers, type Operation } from 'effection';
import type { Logger } from '../ops/log.js';

/**
 * How long the hooks of a quick stop (worker_int or worker_abort, then worker_exit) may take together,
 * from the signal on (ms): the arbiter kills what is still running two seconds after its QUIT.
 */
export const QUICK_STOP_HOOKS_MS = 1000;

/** A quick stop that was asked for: its exit code, the hook it calls, and when its hooks run out of time. */
export interface QuickStop {
  code: number;
  hook: 'worker_int' | 'worker_abort';
  /** Date.now() past which the hooks are no longer waited for. */
  deadline: number;
}

/** The stops asked of a worker so far. The first quick stop counts; a graceful one after it changes nothing. */
export class StopRequests {
  private readonly gracefulAsked = withResolvers<void>();
  private readonly quickAsked = withResolvers<QuickStop>();
  private quickStop: QuickStop | null = null;

  /** The quick stop asked for, if any. */
  get quick(): QuickStop | null {
    return this.quickStop;
  }

  graceful(): void {
    this.gracefulAsked.resolve();
  }

  quickly(code: number, hook: QuickStop['hook']): void {
    if (this.quickStop) return;
    this.quickStop = { code, hook, deadline: Date.now() + QUICK_STOP_HOOKS_MS };
    this.quickAsked.resolve(this.quickStop);
  }

  /** Returns once a graceful stop has been asked for (at once if it already was). */
  untilGraceful(): Operation<void> {
    return this.gracefulAsked.operation;
  }

  /** Returns the quick stop once one has been asked for (at once if it already was). */
  untilQuick(): Operation<QuickStop> {
    return this.quickAsked.operation;
  }
}

const ignore = (): void => {};

/** What the signal handlers add once the worker knows its hooks. */
export interface WorkerSignals {
  /** Handle SIGABRT from now on (worker_abort is set). */
  handleAbort(): void;
}

/**
 * From the worker's start until its scope ends: TERM, INT, QUIT, USR1, the ignored ones, the arbiter
 * going away, and SIGABRT once handleAbort() is called. Every handler stays until the very end of the
 * scope, so that a signal sent again while it ends (code of the app's own that re-sends one it sees,
 * as signal-exit may) still finds the worker's handler rather than the signal's default.
 */
export function useWorkerSignals(stops: StopRequests, log: Logger): Operation<WorkerSignals> {
  const handlers: [event: string, handler: () => void][] = [
    ['SIGTERM', () => stops.graceful()],
    ['SIGINT', () => stops.quickly(0, 'worker_int')],
    ['SIGQUIT', () => stops.quickly(0, 'worker_int')],
    ['SIGUSR1', () => log.reopen()],
    ['SIGHUP', ignore], // the arbiter reloads by replacing workers
    ['SIGTTIN', ignore],
    ['SIGTTOU', ignore],
    ['SIGWINCH', ignore],
    // Nobody is left to replace or stop this worker: stop now.
    [
      'disconnect',
      () => {
        log.info(`Parent changed, shutting down: ${process.pid}`);
        stops.graceful();
      },
    ],
  ];
  const abort = (): void => stops.quickly(1, 'worker_abort');
  return resource(function* (provide) {
    for (const [event, handler] of handlers) process.on(event, handler);
    try {
      yield* provide({
        handleAbort: () => {
          if (!process.listeners('SIGABRT').includes(abort)) process.on('SIGABRT', abort);
        },
      });
    } finally {
      for (const [event, handler] of handlers) process.off(event, handler);
      process.off('SIGABRT', abort);
    }
  });
}
