// `qilin ctl [--socket PATH] status|reload|scale N|stop [--json]`: one request to a running arbiter's
// control socket (protocol: lib/ctl/protocol.ts), its answer printed as text or JSON. Exit 0 when the arbiter says
// ok; 1, with one `Error: …` line, when it cannot be reached or refuses.
import net from 'node:net';
import {
  CONTROL_COMMANDS,
  workerCount,
  type Command,
  type ControlRequest,
  type ControlResponse,
  type ScaleData,
  type SignalledData,
  type StatusData,
  type WorkerStatus,
} from './protocol.js';

export const CTL_USAGE = `usage: qilin ctl [--socket PATH] COMMAND [--json]

Talk to a running qilin arbiter through its control socket (--control-socket PATH).

commands:
  status      the workers: pid, state, age, requests served, in flight, queued, last heartbeat, RSS
  reload      reload as HUP does: re-read the config, replace the workers
  scale N     keep N workers (as TTIN/TTOU do)
  stop        graceful stop, as TERM

options:
  -s, --socket PATH   the control socket [default: $QILIN_CONTROL_SOCKET]
  --json              print the arbiter's answer as JSON
  -h, --help          show this help and exit
`;

/** How long to wait for the arbiter's answer. */
const ANSWER_TIMEOUT_MS = 10_000;

interface CtlArgs {
  socket: string | null;
  json: boolean;
  help: boolean;
  words: string[];
}

class UsageError extends Error {}

function parseCtlArgs(argv: readonly string[]): CtlArgs {
  const out: CtlArgs = { socket: null, json: false, help: false, words: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') out.json = true;
    else if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '-s' || arg === '--socket') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${arg} needs a path`);
      out.socket = v;
    } else if (arg.startsWith('--socket=')) out.socket = arg.slice('--socket='.length);
    else if (arg.startsWith('-') && !/^-?\d+$/.test(arg))
      throw new UsageError(`unrecognized option: ${arg} (see qilin ctl --help)`);
    else out.words.push(arg);
  }
  return out;
}

/** The request line for the command words, or a usage error. */
function requestFor(words: readonly string[]): ControlRequest & { command: Command } {
  const [command, ...rest] = words;
  switch (command) {
    case 'status':
    case 'reload':
    case 'stop':
      if (rest.length > 0) throw new UsageError(`${command} takes no argument`);
      return { command };
    case 'scale': {
      const n = rest.length === 1 ? workerCount(rest[0]) : null;
      if (n === null) throw new UsageError('scale needs a number of workers >= 1: qilin ctl scale 4');
      return { command, args: [n] };
    }
    case undefined:
      throw new UsageError(`no command given (${CONTROL_COMMANDS}; see qilin ctl --help)`);
    default:
      throw new UsageError(`unknown command: ${command} (${CONTROL_COMMANDS})`);
  }
}

/** Send one request line, resolve with the answer line parsed. */
export function ask(socket: string, request: ControlRequest, timeoutMs = ANSWER_TIMEOUT_MS): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let text = '';
    let settled = false;
    const fail = (msg: string) => {
      if (!settled) {
        settled = true;
        c.destroy();
        reject(new Error(msg));
      }
    };
    c.setEncoding('utf8');
    c.setTimeout(timeoutMs, () => fail(`no answer from the control socket ${socket} within ${timeoutMs / 1000}s`));
    c.on('connect', () => c.write(JSON.stringify(request) + '\n'));
    c.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0 || settled) return;
      settled = true;
      c.destroy();
      try {
        resolve(JSON.parse(text.slice(0, nl)) as ControlResponse);
      } catch {
        reject(new Error(`the control socket ${socket} answered something that is not JSON: ${text.slice(0, 80)}`));
      }
    });
    c.on('error', (err: NodeJS.ErrnoException) => fail(connectFailure(err, socket)));
    c.on('close', () => fail(`the control socket ${socket} closed the connection without an answer`));
  });
}

function connectFailure(err: NodeJS.ErrnoException, socket: string): string {
  switch (err.code) {
    case 'ENOENT':
      return `no control socket at ${socket} (is qilin running with --control-socket ${socket}?)`;
    case 'ECONNREFUSED':
      return `connection refused on ${socket}: no qilin is running there (a stale socket file, or not a socket)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${socket} (control_socket_mode limits who may connect)`;
    case 'ENOTSOCK':
      return `${socket} is not a socket`;
    default:
      return `can't connect to ${socket}: ${err.message}`;
  }
}

const seconds = (s: number) => (s < 10 ? `${s.toFixed(1)}s` : `${Math.round(s)}s`);
const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)}M`;
const orDash = <T>(v: T | null, f: (v: T) => string) => (v === null ? '-' : f(v));

/** `status` as an aligned table, one row per worker, oldest first. */
export function statusTable(data: StatusData): string {
  const head = ['PID', 'STATE', 'AGE', 'REQUESTS', 'IN-FLIGHT', 'QUEUED', 'LAST-BEAT', 'RSS'];
  const right = [true, false, true, true, true, true, true, true];
  const rows = data.workers.map((w: WorkerStatus) => [
    String(w.pid),
    w.state,
    seconds(w.age),
    orDash(w.requests, String),
    orDash(w.in_flight, String),
    orDash(w.queued, String),
    `${seconds(w.last_heartbeat)} ago`,
    orDash(w.rss, mib),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const n = data.workers.length;
  return (
    [
      `master ${data.pid}: ${n} worker${n === 1 ? '' : 's'} (target ${data.target})`,
      line(head),
      ...rows.map(line),
    ].join('\n') + '\n'
  );
}

function describe(command: Command, data: unknown): string {
  switch (command) {
    case 'status':
      return statusTable(data as StatusData);
    case 'reload':
      return `Reloading (master ${String((data as SignalledData).pid)})\n`;
    case 'scale': {
      const { previous, target } = data as ScaleData;
      return `Scaling from ${String(previous)} to ${String(target)} workers\n`;
    }
    default:
      return `Stopping (master ${String((data as SignalledData).pid)})\n`;
  }
}

/** `qilin ctl ARGS`: resolves with the exit code. */
export async function runCtl(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const error = (msg: string) => {
    process.stderr.write(`Error: ${msg}\n`);
    return 1;
  };
  let args: CtlArgs;
  let request: ReturnType<typeof requestFor>;
  try {
    args = parseCtlArgs(argv);
    if (args.help) {
      process.stdout.write(CTL_USAGE);
      return 0;
    }
    request = requestFor(args.words);
  } catch (err) {
    if (err instanceof UsageError) return error(err.message);
    throw err;
  }
  const socket = args.socket ?? env.QILIN_CONTROL_SOCKET ?? '';
  if (socket === '') return error('no control socket given: qilin ctl --socket PATH … (or set QILIN_CONTROL_SOCKET)');
  let answer: ControlResponse;
  try {
    answer = await ask(socket, request);
  } catch (err) {
    return error((err as Error).message);
  }
  // Checked as it arrived: another version of qilin may answer something else.
  if (answer.status !== 'ok')
    return error(typeof answer.error === 'string' ? answer.error : `unexpected answer: ${JSON.stringify(answer)}`);
  const data = answer.data ?? {};
  process.stdout.write(args.json ? JSON.stringify(data, null, 2) + '\n' : describe(request.command, data));
  return 0;
}
