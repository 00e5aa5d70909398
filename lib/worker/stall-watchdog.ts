// Where a stuck worker is stuck. The arbiter kills a worker that has not beaten for `timeout` s
// (WORKER TIMEOUT); by then its event loop is blocked and it cannot say anything itself. So each
// worker runs this small thread: it reads the time of the worker's last message to the arbiter from
// shared memory and, shortly before the arbiter's deadline, pauses the main thread through the V8
// inspector (which interrupts running JavaScript from another thread), reads the paused call
// frames, writes them to the error log and resumes it. Nothing runs per request: the main thread
// only stores a timestamp with each message it sends the arbiter (a few per second at most).
//
// This one file is both sides: `startStallWatchdog` (main thread; reports.ts runs it as an effection
// resource of the worker's scope) and the thread's body below, which imports as little as it can.
import { readFileSync } from 'node:fs';
import { Session, type Debugger } from 'node:inspector';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, SHARE_ENV, Worker, workerData } from 'node:worker_threads';
import { Logger } from '../ops/log.js';
import type { Settings } from '../config/settings.js';

type LogSettings = Pick<Settings, 'loglevel' | 'errorlog'>;

interface WatchdogData {
  /** Marks this file's own thread (a module may be started as a thread by an app too). */
  qilinStallWatchdog: true;
  /** [0]: Date.now() of the worker's last message to the arbiter; 0 while not armed. */
  lastBeat: BigInt64Array;
  timeoutMs: number;
  log: LogSettings;
}

/**
 * How long before the arbiter's deadline the stack is taken. The arbiter kills a worker at its first
 * once-a-second check after `timeout` s of silence, so the earliest kill is right at `timeout`: the
 * report has this long to pause the main thread (~20–40 ms measured on a busy loop), map the frames
 * and write them. Half a second leaves room for a loaded machine and still fires only after several
 * missed heartbeats (one every timeout/4 s, at most 1 s); for a 1 s timeout it is a quarter of it.
 */
function reportMarginMs(timeoutMs: number): number {
  return Math.min(500, timeoutMs / 4);
}
/** Of that margin, how long to wait for the pause: a main thread in native code never pauses. */
const PAUSE_SHARE = 0.6;
/** Frames printed; the rest are counted. */
const MAX_FRAMES = 30;

export interface StallWatchdog {
  /** The worker is alive now (it just sent the arbiter a message). */
  beat(): void;
  /** The worker is stopping: no more reports; resolves once the thread has ended. */
  stop(): Promise<void>;
}

/**
 * Start the watchdog thread (with `timeout` 0 nothing kills a silent worker, so nothing is started;
 * `--no-stuck-stack` saves the thread's memory).
 * `onError` hears why it could not run (a Node built without the inspector, say).
 */
export function startStallWatchdog(
  settings: LogSettings & Pick<Settings, 'timeout' | 'stuck_stack_disable'>,
  onError: (err: Error) => void,
): StallWatchdog | null {
  if (settings.timeout <= 0 || settings.stuck_stack_disable) return null;
  const lastBeat = new BigInt64Array(new SharedArrayBuffer(8));
  // The arbiter counts silence from the fork: start counting from this process's start, not from now.
  Atomics.store(lastBeat, 0, BigInt(Math.floor(performance.timeOrigin)));
  const data: WatchdogData = {
    qilinStallWatchdog: true,
    lastBeat,
    timeoutMs: settings.timeout * 1000,
    log: { loglevel: settings.loglevel, errorlog: settings.errorlog },
  };
  let thread: Worker;
  try {
    // No execArgv (no --import of the app's loaders) and the process's env, not a copy: a small thread.
    thread = new Worker(new URL(import.meta.url), {
      workerData: data,
      execArgv: [],
      env: SHARE_ENV,
      name: 'qilin stall watchdog',
    });
  } catch (err) {
    onError(err as Error);
    return null;
  }
  thread.unref(); // it never keeps the worker alive
  thread.on('error', onError);
  return {
    beat: () => {
      Atomics.store(lastBeat, 0, BigInt(Date.now()));
    },
    stop: async () => {
      Atomics.store(lastBeat, 0, 0n);
      await thread.terminate();
    },
  };
}

// ---- The thread ----

interface ScriptInfo {
  url: string;
  sourceMapURL: string;
  /** Loaded on first use; null when there is none or it cannot be read. */
  map?: SourceMap | null;
}

function watch({ lastBeat, timeoutMs, log }: WatchdogData): void {
  const margin = reportMarginMs(timeoutMs);
  const threshold = timeoutMs - margin;
  /** The beat whose silence was reported: once per stall. */
  let reported = -1n;

  const check = async (): Promise<void> => {
    const beat = Atomics.load(lastBeat, 0);
    const silentMs = Date.now() - Number(beat);
    if (beat !== 0n && beat !== reported && silentMs >= threshold) {
      reported = beat;
      try {
        await report(silentMs, margin * PAUSE_SHARE, log);
      } catch (err) {
        writeErrorLog(log, `Cannot tell where worker (pid:${process.pid}) is stuck: ${(err as Error).message}`);
      }
    }
    schedule();
  };
  // One wake-up per `threshold` while the worker beats; sooner only when its deadline is nearer.
  const schedule = (): void => {
    const beat = Atomics.load(lastBeat, 0);
    const due = beat === 0n || beat === reported ? threshold : Number(beat) + threshold - Date.now();
    setTimeout(
      () => {
        void check();
      },
      Math.max(10, due),
    );
  };
  schedule();
}

async function report(silentMs: number, pauseWaitMs: number, logSettings: LogSettings): Promise<void> {
  const session = new Session();
  // Replies the session waits for do not keep this thread's event loop alive: without a timer the
  // thread would end between a request and its reply.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    session.connectToMainThread();
    const scripts = new Map<string, ScriptInfo>();
    session.on('Debugger.scriptParsed', ({ params }) => {
      // CommonJS scripts are named by their path, ES modules by their URL: keep URLs only.
      const url = params.url.startsWith('/') ? pathToFileURL(params.url).href : params.url;
      scripts.set(params.scriptId, { url, sourceMapURL: params.sourceMapURL ?? '' });
    });
    const frames = await new Promise<Debugger.CallFrame[] | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), pauseWaitMs);
      session.once('Debugger.paused', ({ params }) => {
        clearTimeout(timer);
        resolve(params.callFrames);
      });
      // Both run on the main thread from a V8 interrupt even while it spins; the pause breaks at once.
      session.post('Debugger.enable');
      session.post('Debugger.pause');
    });

    // Written while the main thread is still paused: the arbiter's SIGABRT may come any moment now.
    const seconds = (silentMs / 1000).toFixed(1);
    const msg = frames
      ? `Worker (pid:${process.pid}) stuck for ${seconds}s in:\n${formatFrames(frames, scripts)}`
      : `Worker (pid:${process.pid}) stuck for ${seconds}s outside JavaScript (in a synchronous native call): no stack`;
    writeErrorLog(logSettings, msg);

    // Resumed, the worker goes on as before: the arbiter kills it, or it recovers by itself.
    if (frames) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pauseWaitMs);
        session.post('Debugger.resume', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  } finally {
    // Leaving also resumes the main thread, should the resume not have been answered.
    session.disconnect();
    clearInterval(keepAlive);
  }
}

/** One ERROR entry; the log is opened now, not at start: it may have been rotated (USR1) since. */
function writeErrorLog(logSettings: LogSettings, msg: string): void {
  try {
    const logger = new Logger({ ...logSettings, accesslog: null, access_log_format: '' });
    logger.errorMsg(msg);
    logger.close();
  } catch {
    /* the log file cannot be opened now: nowhere to say it */
  }
}

function formatFrames(frames: Debugger.CallFrame[], scripts: Map<string, ScriptInfo>): string {
  const lines = frames.slice(0, MAX_FRAMES).map((f) => {
    const script = scripts.get(f.location.scriptId);
    const where = sourcePosition(script, f.url, f.location.lineNumber, f.location.columnNumber ?? 0);
    return f.functionName ? `    at ${f.functionName} (${where})` : `    at ${where}`;
  });
  if (frames.length > MAX_FRAMES) lines.push(`    ... ${frames.length - MAX_FRAMES} more`);
  return lines.join('\n');
}

/** `file:line:column` (1-based), in the original source when the script has a source map. */
function sourcePosition(script: ScriptInfo | undefined, fallbackUrl: string, line: number, column: number): string {
  const url = script?.url || fallbackUrl || '<unknown>';
  const map = script ? sourceMapOf(script) : null;
  const entry = map?.findEntry(line, column);
  if (entry && 'originalSource' in entry) {
    return `${displayPath(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  }
  return `${displayPath(url)}:${line + 1}:${column + 1}`;
}

/** A file URL as its path (`node:` and other URLs as they are). */
function displayPath(url: string): string {
  try {
    return url.startsWith('file:') ? fileURLToPath(url) : url;
  } catch {
    return url;
  }
}

function sourceMapOf(script: ScriptInfo): SourceMap | null {
  if (script.map !== undefined) return script.map;
  script.map = null;
  const ref = script.sourceMapURL;
  if (!ref) return null;
  try {
    let text: string;
    if (ref.startsWith('data:')) {
      const comma = ref.indexOf(',');
      const body = ref.slice(comma + 1);
      text = ref.slice(0, comma).endsWith(';base64')
        ? Buffer.from(body, 'base64').toString('utf8')
        : decodeURIComponent(body);
    } else {
      const file = new URL(ref, script.url);
      if (file.protocol !== 'file:') return null;
      text = readFileSync(file, 'utf8');
    }
    const payload = JSON.parse(text) as SourceMapPayload;
    // Sources are relative to the map (and its sourceRoot): make them absolute once.
    const base = ref.startsWith('data:') ? script.url : new URL(ref, script.url).href;
    const root = payload.sourceRoot
      ? new URL(payload.sourceRoot.endsWith('/') ? payload.sourceRoot : `${payload.sourceRoot}/`, base).href
      : base;
    payload.sources = payload.sources.map((s) => new URL(s, root).href);
    payload.sourceRoot = '';
    script.map = new SourceMap(payload);
  } catch {
    /* no usable map: V8's own position is printed */
  }
  return script.map;
}

if (!isMainThread && (workerData as Partial<WatchdogData> | null)?.qilinStallWatchdog === true) {
  watch(workerData as WatchdogData);
}
