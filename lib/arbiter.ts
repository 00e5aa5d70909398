// The arbiter: forks workers and keeps them alive, as Gunicorn's arbiter does. It never accepts,
// reads or writes a client connection: with the uWS engine every worker opens its own
// SO_REUSEPORT listeners; the arbiter only checks up front that each address can be bound.
//
// One loop: handle queued signals in order; otherwise kill workers that stopped beating
// (murder), reap is event-driven (child 'exit'), then keep the worker count (manage) and sleep.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatBind, parseBind, resolveConfig, type BindAddress } from './config.js';
import { Logger } from './log.js';
import { bindOnce } from './ports.js';
import type { Settings } from './settings.js';
import { loadUws } from './uws.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerMessage, type WorkerSpec } from './worker-protocol.js';

export const VERSION = '0.1.0';

const WORKER_ENTRY = fileURLToPath(new URL('../workers/main.js', import.meta.url));
const SIGNALS = ['SIGHUP', 'SIGQUIT', 'SIGINT', 'SIGTERM', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
type ArbiterSignal = (typeof SIGNALS)[number];

/** Stops the arbiter with a reason and an exit code (Gunicorn's HaltServer). */
export class HaltServer extends Error {
  constructor(readonly reason: string, readonly exitCode: number) {
    super(reason);
  }
}

interface WorkerRecord {
  pid: number;
  proc: ChildProcess;
  age: number;
  lastBeat: number;
  /** Listening on every bind. */
  ready: boolean;
  /** To be replaced (reload, max_requests): stopped once its replacements are ready. */
  retiring: boolean;
  /** TERM sent: finishing its requests. */
  stopping: boolean;
  /** SIGABRT sent after a timeout; SIGKILL next. */
  aborted: boolean;
}

export interface ArbiterOptions {
  settings: Settings;
  app: string;
  /** To re-read the config on HUP. */
  argv: readonly string[];
}

export class Arbiter {
  private settings: Settings;
  private readonly app: string;
  private readonly argv: readonly string[];
  private log: Logger;
  private readonly workers = new Map<number, WorkerRecord>();
  private readonly sigQueue: ArbiterSignal[] = [];
  private numWorkers: number;
  private binds: BindAddress[] = [];
  private workerAge = 0;
  private halt: HaltServer | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly signalHandlers = new Map<ArbiterSignal, () => void>();

  constructor(opts: ArbiterOptions) {
    this.settings = opts.settings;
    this.app = opts.app;
    this.argv = opts.argv;
    this.numWorkers = opts.settings.workers;
    this.log = new Logger(opts.settings);
  }

  private get procName(): string {
    return this.settings.proc_name ?? this.app;
  }

  /** Run until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    try {
      await this.start();
      await this.loop();
      return 0;
    } catch (err) {
      if (err instanceof HaltServer) {
        if (err.exitCode !== 0) await this.stop(false);
        this.log.info('Shutting down: Master');
        if (err.reason) this.log.log(err.exitCode === 0 ? 'info' : 'error', `Reason: ${err.reason}`);
        return err.exitCode;
      }
      this.log.exception('Unhandled exception in main loop', err);
      await this.stop(false);
      return 1;
    } finally {
      this.cleanup();
    }
  }

  private async start(): Promise<void> {
    const { settings } = this;
    process.title = `qilin: master [${this.procName}]`;
    this.log.info(`Starting qilin ${VERSION}`);
    try {
      this.log.info(`Using ${loadUws().build}`);
    } catch (err) {
      throw new HaltServer((err as Error).message, WORKER_BOOT_ERROR);
    }
    this.binds = await this.checkBinds(settings.bind.map(parseBind), []);
    for (const b of this.binds) this.log.info(`Listening at: http://${formatBind(b)} (${process.pid})`);
    this.log.info(`Using worker: ${settings.worker_class}`);
    this.warnReusePortReload();
    if (settings.pidfile) writeFileSync(settings.pidfile, `${process.pid}\n`);
    for (const sig of SIGNALS) {
      const h = () => this.signal(sig);
      this.signalHandlers.set(sig, h);
      process.on(sig, h);
    }
  }

  /**
   * Bind each new address once with a plain socket and release it: the workers' SO_REUSEPORT
   * listeners could not share a port another program holds, and this gives one clear error.
   * Port 0 becomes the port the OS picked, so every worker listens on the same one.
   */
  private async checkBinds(wanted: BindAddress[], current: BindAddress[]): Promise<BindAddress[]> {
    const out: BindAddress[] = [];
    for (const b of wanted) {
      const already = current.find((c) => c.text === b.text);
      if (already) { out.push(already); continue; }
      out.push(await probeBind(b));
    }
    return out;
  }

  private warnReusePortReload(): void {
    try {
      if (readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '0') {
        this.log.warning(
          'net.ipv4.tcp_migrate_req=0: when a worker stops (reload, max_requests, TTOU), connections still ' +
          'in its listener\'s accept queue are reset; `sysctl -w net.ipv4.tcp_migrate_req=1` makes replacements lossless',
        );
      }
    } catch { /* not Linux, or an older kernel */ }
  }

  private signal(sig: ArbiterSignal): void {
    if (this.sigQueue.length < 5) this.sigQueue.push(sig); // as Gunicorn: a bounded queue
    this.wake();
  }

  private wake(): void {
    const w = this.wakeUp;
    if (w) { this.wakeUp = null; w(); }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wakeUp = null; resolve(); }, ms);
      this.wakeUp = () => { clearTimeout(t); resolve(); };
    });
  }

  private async loop(): Promise<void> {
    this.manageWorkers();
    for (;;) {
      if (this.halt) throw this.halt;
      const sig = this.sigQueue.shift();
      if (sig === undefined) {
        this.murderWorkers();
        this.manageWorkers();
        await this.sleep(1000);
        continue;
      }
      switch (sig) {
        case 'SIGHUP':
          this.log.info('Handling signal: hup');
          this.log.info('Hang up: Master');
          await this.reload();
          break;
        case 'SIGTERM':
          this.log.info('Handling signal: term');
          await this.stop(true);
          throw new HaltServer('', 0);
        case 'SIGINT':
        case 'SIGQUIT':
          this.log.info(`Handling signal: ${sig === 'SIGINT' ? 'int' : 'quit'}`);
          await this.stop(false);
          throw new HaltServer('', 0);
        case 'SIGTTIN':
          this.log.info('Handling signal: ttin');
          this.numWorkers += 1;
          this.manageWorkers();
          break;
        case 'SIGTTOU':
          this.log.info('Handling signal: ttou');
          if (this.numWorkers > 1) this.numWorkers -= 1;
          this.manageWorkers();
          break;
        case 'SIGUSR1':
          this.log.info('Handling signal: usr1');
          this.log.reopen();
          this.killWorkers('SIGUSR1');
          break;
        case 'SIGUSR2':
          this.log.warning('Handling signal: usr2: re-executing the arbiter is not supported yet; use HUP to reload');
          break;
        case 'SIGWINCH':
          this.log.debug('SIGWINCH ignored. Not daemonized');
          break;
      }
    }
  }

  /** HUP: re-read the config, start new workers, retire the old ones once the new are ready. */
  private async reload(): Promise<void> {
    try {
      const { settings } = await resolveConfig(this.argv);
      const binds = await this.checkBinds(settings.bind.map(parseBind), this.binds);
      this.settings = settings;
      this.binds = binds;
      this.numWorkers = settings.workers;
      this.log.close();
      this.log = new Logger(settings);
    } catch (err) {
      this.log.errorMsg(`Reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    for (const w of this.workers.values()) w.retiring = true;
    this.manageWorkers();
  }

  /** Keep `numWorkers` serving workers; stop retired and excess ones once others are ready. */
  private manageWorkers(): void {
    const all = [...this.workers.values()].sort((a, b) => a.age - b.age);
    const serving = all.filter((w) => !w.retiring && !w.stopping);
    for (let i = serving.length; i < this.numWorkers; i++) serving.push(this.spawnWorker());

    // TTOU: the oldest go first.
    while (serving.length > this.numWorkers) this.stopWorker(serving.shift()!);

    // Replacements are listening: the retired can go without a moment where nobody listens.
    const ready = serving.filter((w) => w.ready).length;
    if (ready >= this.numWorkers) {
      for (const w of all) if (w.retiring && !w.stopping) this.stopWorker(w);
    }
  }

  private spawnWorker(): WorkerRecord {
    this.workerAge += 1;
    const spec: WorkerSpec = { settings: this.settings, app: this.app, binds: this.binds };
    const env: NodeJS.ProcessEnv = { ...process.env, QILIN_WORKER: JSON.stringify(spec) };
    for (const kv of this.settings.raw_env) {
      const i = kv.indexOf('=');
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const proc = fork(WORKER_ENTRY, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const w: WorkerRecord = {
      pid: proc.pid!, proc, age: this.workerAge, lastBeat: Date.now(),
      ready: false, retiring: false, stopping: false, aborted: false,
    };
    this.workers.set(w.pid, w);
    proc.on('message', (msg: WorkerMessage) => this.onWorkerMessage(w, msg));
    proc.on('exit', (code, signal) => this.reap(w, code, signal));
    proc.on('error', (err) => this.log.errorMsg(`Worker (pid:${w.pid}) error: ${err.message}`));
    this.log.info(`Booting worker with pid: ${w.pid}`);
    return w;
  }

  private onWorkerMessage(w: WorkerRecord, msg: WorkerMessage): void {
    w.lastBeat = Date.now();
    if (msg.t === 'ready') {
      w.ready = true;
      this.log.debug(`Worker (pid:${w.pid}) ready`);
      this.wake();
    } else if (msg.t === 'retire' && !w.retiring) {
      w.retiring = true; // max_requests reached: replace it, then stop it
      this.wake();
    }
  }

  private reap(w: WorkerRecord, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w.pid);
    if (signal) {
      const extra = signal === 'SIGKILL' ? ' Perhaps out of memory?' : '';
      this.log.log(signal === 'SIGTERM' ? 'info' : 'error', `Worker (pid:${w.pid}) was sent ${signal}!${extra}`);
    } else if (code !== 0) {
      this.log.errorMsg(`Worker (pid:${w.pid}) exited with code ${code}`);
      if (code === WORKER_BOOT_ERROR && !this.halt) this.halt = new HaltServer('Worker failed to boot.', WORKER_BOOT_ERROR);
      if (code === APP_LOAD_ERROR && !this.halt) this.halt = new HaltServer('App failed to load.', APP_LOAD_ERROR);
    } else {
      this.log.debug(`Worker (pid:${w.pid}) exited with code 0`);
    }
    this.wake();
  }

  /** Kill workers that have not proved they are alive within `timeout`: SIGABRT, then SIGKILL. */
  private murderWorkers(): void {
    const { timeout } = this.settings;
    if (!timeout) return;
    const now = Date.now();
    for (const w of this.workers.values()) {
      if (now - w.lastBeat <= timeout * 1000) continue;
      if (!w.aborted) {
        this.log.critical(`WORKER TIMEOUT (pid:${w.pid})`);
        w.aborted = true;
        this.kill(w, 'SIGABRT');
      } else {
        this.kill(w, 'SIGKILL');
      }
    }
  }

  private stopWorker(w: WorkerRecord): void {
    w.stopping = true;
    this.kill(w, 'SIGTERM');
  }

  private kill(w: WorkerRecord, sig: NodeJS.Signals): void {
    try { process.kill(w.pid, sig); } catch { /* already gone: reap will see it */ }
  }

  private killWorkers(sig: NodeJS.Signals): void {
    for (const w of this.workers.values()) this.kill(w, sig);
  }

  /** Stop every worker: TERM and wait `graceful_timeout` (graceful), or QUIT (quick); then KILL. */
  private async stop(graceful: boolean): Promise<void> {
    this.numWorkers = 0;
    this.killWorkers(graceful ? 'SIGTERM' : 'SIGQUIT');
    for (const w of this.workers.values()) w.stopping = true;
    const limit = Date.now() + (graceful ? this.settings.graceful_timeout * 1000 + 1000 : 2000);
    while (this.workers.size > 0 && Date.now() < limit) await this.sleep(50);
    if (this.workers.size === 0) return;
    this.killWorkers('SIGKILL');
    const hard = Date.now() + 2000;
    while (this.workers.size > 0 && Date.now() < hard) await this.sleep(50);
  }

  private cleanup(): void {
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    const { pidfile } = this.settings;
    if (pidfile) {
      try {
        if (readFileSync(pidfile, 'utf8').trim() === String(process.pid)) unlinkSync(pidfile);
      } catch { /* already gone */ }
    }
    this.log.flush();
  }
}

/** Bind an address once and release it; a clear HaltServer when it cannot work. */
async function probeBind(b: BindAddress): Promise<BindAddress> {
  try {
    return { host: b.host, port: await bindOnce(b.host, b.port), text: b.text };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const where = formatBind(b);
    const reason =
      err.code === 'EADDRINUSE' ? `Connection in use: ${where}`
        : err.code === 'EACCES' ? `Permission denied: ${where}`
          : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? `Invalid address: ${where}`
            : `Can't bind ${where}: ${err.message}`;
    throw new HaltServer(reason, WORKER_BOOT_ERROR);
  }
}
