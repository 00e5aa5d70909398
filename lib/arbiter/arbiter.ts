// The arbiter: forks workers and keeps them alive, as Gunicorn's arbiter does. It never accepts,
// reads or writes a client connection.
//
// One loop: handle the queued signals in order; otherwise kill workers that stopped beating
// (murderWorkers), replace those over max_worker_memory, keep the worker count (manageWorkers) and
// sleep until woken. Reaping is event-driven: a worker's 'exit' event (reapWorker).
//
// The rest lives beside it, as Gunicorn keeps pidfile.py, sock.py and ctl/ apart from arbiter.py:
// the worker table (workers.ts), where workers listen (listeners.ts over sockets.ts), the app
// loaded once before forking (app-check.ts), the pid file (pidfile.ts), USR2 (usr2.ts), /metrics,
// the control socket and statsd (admin.ts), the server hooks (hooks.ts), --reload (reloader.ts).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appDirectory } from '../app/load.js';
import { uwsAdvice } from '../app/shapes.js';
import { parseBind } from '../config/binds.js';
import type { ServerHooks } from '../config/hooks.js';
import { resolveConfig } from '../config/resolve.js';
import type { Settings } from '../config/settings.js';
import type { StatusData } from '../ctl/protocol.js';
import { chooseEngine, engineFacts, type EngineChoice, type EngineFacts } from '../engines/index.js';
import { daemonReady } from '../ops/daemon.js';
import { Logger } from '../ops/log.js';
import { ServiceNotifier } from '../ops/systemd.js';
import { checkTls, withScheme } from '../ops/tls.js';
import { VERSION } from '../version.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerMessage, type WorkerSpec } from '../worker/protocol.js';
import { Admin } from './admin.js';
import { checkApp } from './app-check.js';
import { ControlSocketError } from './control.js';
import { ArbiterHooks } from './hooks.js';
import { ReusePortBinds, SharedSockets, type Listeners } from './listeners.js';
import { Pidfile } from './pidfile.js';
import { reloadingLine, syncReloader, type Reloader } from './reloader.js';
import { closeSocket, SocketError, systemdSockets, type SharedSocket } from './sockets.js';
import { Usr2, type Usr2Host } from './usr2.js';
import { MIB, newWorkerRecord, residentBytes, restartReason, WorkerTable, type WorkerRecord } from './workers.js';

const WORKER_ENTRY = fileURLToPath(new URL('../../workers/main.js', import.meta.url));
const SIGNALS = [
  'SIGHUP',
  'SIGQUIT',
  'SIGINT',
  'SIGTERM',
  'SIGTTIN',
  'SIGTTOU',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
] as const;
type ArbiterSignal = (typeof SIGNALS)[number];

/**
 * Said at start when the arbiter is PID 1 (a container with no init). Orphans in the container are
 * re-parented to PID 1; Gunicorn's arbiter reaps any child (waitpid(-1)), but Node.js can wait only
 * for the processes it started itself, so they would stay zombies.
 */
export const PID1_WARNING =
  'qilin is PID 1 (a container without an init): processes the app starts and leaves behind are re-parented to ' +
  'qilin, which cannot reap them (Node.js waits only for its own children), so they stay as zombies. ' +
  "Run an init in front: `docker run --init`, or tini or dumb-init as the image's entrypoint";

/** Stops the arbiter with a reason and an exit code (Gunicorn's HaltServer). */
export class HaltServer extends Error {
  constructor(
    readonly reason: string,
    readonly exitCode: number,
  ) {
    super(reason);
  }
}

export interface ArbiterOptions {
  settings: Settings;
  app: string;
  /** To re-read the config on HUP. */
  argv: readonly string[];
  /** Where the command line was given (before --chdir): config paths are relative to it. */
  cwd?: string;
  /** Warnings from reading the config (unknown keys), logged at start. */
  warnings?: readonly string[];
  /** How settings given as `auto` were settled (workers = auto), logged at start. */
  notes?: readonly string[];
  /** Server hooks from the config file (the arbiter's; workers import the file for theirs). */
  hooks?: ServerHooks;
}

export class Arbiter {
  private settings: Settings;
  private readonly app: string;
  private readonly argv: readonly string[];
  private readonly cwd: string;
  private readonly startWarnings: readonly string[];
  private readonly startNotes: readonly string[];
  private log: Logger;
  private readonly pidfile: Pidfile;
  private readonly workers = new WorkerTable();
  private workerAge = 0;
  /** The number of workers to keep (numWorkers, which tells nworkers_changed). */
  private workerTarget: number;
  /** After a worker failed to boot, no new worker is forked before this time (no fork storm). */
  private spawnPausedUntil = 0;
  private readonly sigQueue: ArbiterSignal[] = [];
  private readonly signalHandlers = new Map<ArbiterSignal, () => void>();
  private wakeUp: (() => void) | null = null;
  /** Set by an event (a worker's report or exit) for the loop to stop with. */
  private pendingHalt: HaltServer | null = null;
  /** Stopping all workers (TERM, INT, QUIT, or a halt): the worker count is no longer kept. */
  private stopping = false;
  private readonly hooks: ArbiterHooks;
  /**
   * Asked for, needed by a bind or a setting, or (unset: `fixed` false) settled at start by what the
   * app is (settleEngine), before any worker is forked; it does not change after that.
   */
  private engine: EngineChoice;
  /** uws: the uWebSockets.js build the arbiter found (its package main), which every worker loads. */
  private uwsMain: string | null = null;
  /** Where the workers listen: made at start, once the engine is settled. */
  private listeners: Listeners | null = null;
  /** Sockets systemd passed (LISTEN_FDS): they replace the bind setting, as in Gunicorn. */
  private readonly systemd: SharedSocket[] | null;
  /** USR2: what an old arbiter handed this one, and the new arbiter this one started. */
  private readonly usr2: Usr2;
  /** /metrics, the control socket and statsd. */
  private readonly admin = new Admin(() => this.workers.heartbeatAges());
  /** systemd's Type=notify: READY=1, RELOADING=1, STOPPING=1 (a no-op without $NOTIFY_SOCKET). */
  private readonly service = new ServiceNotifier((msg) => this.log.warning(msg));
  /** reload: watches the app's files (null when reload is off). */
  private reloader: Reloader | null = null;
  /** Files the reloader saw change, not yet acted on. */
  private changedFiles: string[] | null = null;
  /**
   * Started by npm (`npx qilin`, `npm start`): the parent process then, else null. npm passes TERM
   * to the shell it runs the command in, which dies of it without passing it on: qilin's parent going
   * away is all qilin sees of the stop it was asked for.
   */
  private npmParent: number | null = null;
  /** When max_worker_memory was last checked (ms). */
  private memoryCheckedAt = 0;

  /**
   * Opens the logs and writes the pid file, so that a path that cannot be used is found here, as a
   * ConfigError naming the setting, before any worker is forked.
   */
  constructor(opts: ArbiterOptions) {
    this.settings = opts.settings;
    this.app = opts.app;
    this.argv = opts.argv;
    this.cwd = opts.cwd ?? process.cwd();
    this.startWarnings = opts.warnings ?? [];
    this.startNotes = opts.notes ?? [];
    this.workerTarget = opts.settings.workers;
    this.hooks = new ArbiterHooks(opts.hooks ?? {}, opts.app, () => this.log, {
      settings: () => this.settings,
      numWorkers: () => this.workerTarget,
      workerPids: () => this.workers.pids(),
    });
    this.log = new Logger(opts.settings);
    this.log.statsd = this.admin.useStatsd(opts.settings);
    try {
      this.usr2 = new Usr2(process.env);
      const inherited = this.usr2.inherited;
      this.systemd = systemdSockets(process.env);
      this.engine = chooseEngine(
        opts.settings,
        opts.settings.bind.map(parseBind),
        this.systemd !== null,
        appDirectory(opts.app),
      );
      // Started by USR2 from an arbiter that served with node (it handed over its sockets): an unset
      // engine stays node, which those sockets serve, whatever the app is now.
      if (inherited !== null && inherited.sockets.length > 0 && !this.engine.fixed) {
        this.engine = { name: 'node', why: 'the arbiter that started this one by USR2 served with it', fixed: true };
      }
      checkTls(opts.settings); // here, after --chdir: relative paths name what the workers will read
      // Started by USR2: the old arbiter still runs; `<pidfile>.2` until it is gone (as Gunicorn).
      const { pidfile } = opts.settings;
      this.pidfile = Pidfile.create(pidfile && inherited ? `${pidfile}.2` : pidfile);
    } catch (err) {
      this.log.close();
      throw err;
    }
    // Not for a daemon (its parent exits by design) nor for an arbiter started by USR2 (promoted instead).
    if (startedByNpm(process.env) && !opts.settings.daemon && !this.usr2.inherited) this.npmParent = process.ppid;
  }

  /** The number of workers to keep; a change is told to the nworkers_changed hook (as Gunicorn's setter). */
  private get numWorkers(): number {
    return this.workerTarget;
  }
  private set numWorkers(n: number) {
    const old = this.workerTarget;
    this.workerTarget = n;
    if (n !== old) this.hooks.callSync('nworkers_changed', (h) => h(this.hooks.server, n, old));
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
      if (err instanceof HaltServer) return await this.halt(err);
      this.log.exception('Unhandled exception in main loop', err);
      await this.stop(false);
      return 1;
    } finally {
      this.cleanup();
    }
  }

  private async start(): Promise<void> {
    const { settings } = this;
    const inherited = this.usr2.inherited;
    process.title = inherited ? `qilin: master [${this.procName}.2]` : `qilin: master [${this.procName}]`;
    if (inherited) this.log.info(`Started by arbiter ${inherited.parentPid} (USR2): serving beside it until it exits`);
    this.log.info(`Starting qilin ${VERSION}`);
    if (process.pid === 1) this.log.warning(PID1_WARNING);
    for (const w of this.startWarnings) this.log.warning(w);
    for (const n of this.startNotes) this.log.info(n);
    // Gunicorn sets its worker count as the arbiter is made, telling nworkers_changed (old: None).
    this.hooks.callSync('nworkers_changed', (h) => h(this.hooks.server, this.workerTarget, null));
    await this.hooks.call('on_starting', (h) => h(this.hooks.server), true);
    await this.settleEngine();
    let facts: EngineFacts;
    try {
      facts = await engineFacts(this.engine.name);
    } catch (err) {
      throw new HaltServer((err as Error).message, WORKER_BOOT_ERROR);
    }
    this.uwsMain = facts.uwsMain;
    this.sayEngine(facts);
    if (this.systemd) this.log.info(`Using ${this.systemd.length} socket(s) from systemd; bind is ignored`);
    try {
      // The old arbiter holds the control socket and metrics address until it exits (see usr2.ts).
      if (!inherited) await this.openControl();
      this.listeners = facts.sharedSockets
        ? new SharedSockets(this.systemd, inherited?.sockets)
        : new ReusePortBinds((text) => this.usr2.inherited?.ports.get(text));
      if (!facts.sharedSockets) for (const s of inherited?.sockets ?? []) closeSocket(s);
      await this.listeners.open(settings);
      for (const url of this.listeningAt()) this.log.info(`Listening at: ${url} (${process.pid})`);
      this.log.info(`Using worker: ${settings.worker_class}`);
      for (const w of this.listeners.warnings()) this.log.warning(w);
      if (!inherited) await this.openMetrics();
    } catch (err) {
      throw halting(err);
    }
    for (const sig of SIGNALS) {
      const h = () => this.signal(sig);
      this.signalHandlers.set(sig, h);
      process.on(sig, h);
    }
    this.syncReloader();
    await this.hooks.call('when_ready', (h) => h(this.hooks.server), true);
  }

  /**
   * Load the app in a short-lived child before any worker is forked (lib/arbiter/app-check.ts) when
   * preload_app asks for it, or when nothing has settled the engine yet (unset, and no bind or
   * setting needs node): the child says what the app is, and a Node-style app gets the node engine.
   * So every worker boots on an engine that serves the app. An app that cannot load stops the start
   * here, with Gunicorn's exit code 4.
   */
  private async settleEngine(): Promise<void> {
    if (!this.settings.preload_app && this.engine.fixed) return;
    const report = await checkApp(this.settings, this.app, this.log);
    if (!report) throw new HaltServer('App failed to load.', APP_LOAD_ERROR);
    if (report.style !== 'node' || this.engine.name !== 'uws') return;
    if (this.engine.fixed) throw new HaltServer(uwsRefusal(this.app, report.what, report.bare), 1);
    this.engine = { name: 'node', why: `${this.app} is ${report.what}, a Node-style app`, fixed: false };
  }

  /** `Using engine: …`, why, the build, and its warnings. */
  private sayEngine(facts: EngineFacts): void {
    const notes = [this.engine.why, facts.build].filter((n) => n !== null).join('; ');
    this.log.info(`Using engine: ${facts.label}${notes ? ` (${notes})` : ''}`);
    for (const w of facts.warnings) this.log.warning(w);
  }

  /** Where the workers listen, as logged. */
  private listeningAt(): string[] {
    return this.listeners!.urls().map((u) => withScheme(u, this.settings));
  }

  /** control_socket: listen for `qilin ctl`; reload and stop go through the signal queue, as HUP and TERM. */
  private async openControl(): Promise<void> {
    const at = await this.admin.openControl(this.settings, {
      status: () => this.controlStatus(),
      reload: () => this.signal('SIGHUP'),
      scale: (n) => this.scale(n),
      stop: () => this.signal('SIGTERM'),
    });
    if (at !== null) this.log.info(`Control socket listening at ${at}`);
  }

  /** metrics_bind: open (or move, or close, on a reload) the listener that serves /metrics. */
  private async openMetrics(): Promise<void> {
    const at = await this.admin.openMetrics(this.settings.metrics_bind, this.settings.umask);
    if (at !== null) this.log.info(`Metrics at: ${at}`);
  }

  private controlStatus(): StatusData {
    return { pid: process.pid, target: this.numWorkers, workers: this.workers.statusRows() };
  }

  /** `qilin ctl scale N`: keep `n` workers, as that many TTIN or TTOU would; returns the count before. */
  private scale(n: number): number {
    if (this.stopping) throw new Error('the server is stopping');
    const before = this.numWorkers;
    this.log.info(`Scaling from ${before} to ${n} workers (control socket)`);
    this.numWorkers = n;
    this.wakeup(); // the loop's next pass forks or stops workers (manageWorkers)
    return before;
  }

  /** reload on (it may change on HUP): one watcher for the app's files; a change reloads as HUP does. */
  private syncReloader(): void {
    this.reloader = syncReloader(this.reloader, this.settings, {
      cwd: this.cwd,
      app: this.app,
      onChange: (files) => {
        this.changedFiles = [...(this.changedFiles ?? []), ...files];
        this.wakeup();
      },
      warn: (msg) => this.log.warning(msg),
      debug: (msg) => this.log.debug(msg),
    });
  }

  /** Queue a signal for the loop (as Gunicorn: a bounded queue) and wake it. */
  private signal(sig: ArbiterSignal): void {
    if (this.sigQueue.length < 5) this.sigQueue.push(sig);
    this.wakeup();
  }

  private wakeup(): void {
    const w = this.wakeUp;
    if (w) {
      this.wakeUp = null;
      w();
    }
  }

  /** Sleep until `ms` have passed or something wakes the loop (a signal, a worker's message or exit). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    this.manageWorkers();
    for (;;) {
      if (this.pendingHalt) throw this.pendingHalt;
      if (this.npmParent !== null && process.ppid !== this.npmParent) {
        this.log.info(
          `Parent process ${this.npmParent} is gone (qilin was started by npm, which does not pass TERM on): graceful stop, as on TERM`,
        );
        this.npmParent = null;
        await this.stop(true);
        throw new HaltServer('', 0);
      }
      await this.maybePromote();
      if (this.changedFiles !== null) {
        // Files of the app changed: replace the workers through HUP's path (which keeps them if the app is broken).
        this.log.info(reloadingLine(this.changedFiles, this.cwd));
        this.changedFiles = null;
        await this.reload();
      }
      const sig = this.sigQueue.shift();
      if (sig === undefined) {
        this.murderWorkers();
        this.checkMemory();
        this.manageWorkers();
        this.announceReady();
        this.admin.statsd?.gauge('workers', this.workers.size);
        await this.sleep(1000);
        continue;
      }
      await this.handleSignal(sig);
    }
  }

  private async handleSignal(sig: ArbiterSignal): Promise<void> {
    switch (sig) {
      case 'SIGHUP':
        return this.handleHup();
      case 'SIGTERM':
        return this.handleTerm();
      case 'SIGINT':
        return this.handleInt();
      case 'SIGQUIT':
        return this.handleQuit();
      case 'SIGTTIN':
        return this.handleTtin();
      case 'SIGTTOU':
        return this.handleTtou();
      case 'SIGUSR1':
        return this.handleUsr1();
      case 'SIGUSR2':
        return this.handleUsr2();
      case 'SIGWINCH':
        return this.handleWinch();
    }
  }

  /** HUP: reload the config and replace the workers. */
  private async handleHup(): Promise<void> {
    this.log.info('Handling signal: hup');
    this.log.info('Hang up: Master');
    await this.reload();
  }

  /** TERM: graceful stop. */
  private async handleTerm(): Promise<never> {
    this.log.info('Handling signal: term');
    await this.stop(true);
    throw new HaltServer('', 0);
  }

  /** INT: quick stop. */
  private async handleInt(): Promise<never> {
    this.log.info('Handling signal: int');
    await this.stop(false);
    throw new HaltServer('', 0);
  }

  /** QUIT: quick stop. */
  private async handleQuit(): Promise<never> {
    this.log.info('Handling signal: quit');
    await this.stop(false);
    throw new HaltServer('', 0);
  }

  /** TTIN: one worker more. */
  private handleTtin(): void {
    this.log.info('Handling signal: ttin');
    this.numWorkers += 1;
    this.manageWorkers();
  }

  /** TTOU: one worker fewer, never none. */
  private handleTtou(): void {
    this.log.info('Handling signal: ttou');
    if (this.numWorkers > 1) this.numWorkers -= 1;
    this.manageWorkers();
  }

  /** USR1: reopen the log files, here and in every worker. */
  private handleUsr1(): void {
    this.log.info('Handling signal: usr1');
    this.log.reopen();
    this.killWorkers('SIGUSR1');
  }

  /** USR2: a new arbiter beside this one. */
  private async handleUsr2(): Promise<void> {
    this.log.info('Handling signal: usr2');
    await this.reexec();
  }

  /** WINCH: a daemon's workers stop, the arbiter stays; HUP or TTIN brings workers back. No terminal sends it to a daemon. */
  private handleWinch(): void {
    if (!this.settings.daemon) {
      this.log.debug('SIGWINCH ignored. Not daemonized');
      return;
    }
    this.log.info('Handling signal: winch');
    this.log.info('graceful stop of workers');
    this.numWorkers = 0;
    for (const w of this.workers) if (!w.stopping) this.stopWorker(w);
  }

  /** HUP: re-read the config, start new workers, retire the old ones once the new are ready. */
  private async reload(): Promise<void> {
    this.service.reloading(); // READY=1 follows once the new workers listen (or the old stay)
    let log: Logger | null = null;
    try {
      // fresh: evaluate the config file again, not the module import() cached at start.
      const { settings, warnings, notes, hooks } = await resolveConfig(this.argv, process.env, this.cwd, {
        fresh: true,
      });
      const next = chooseEngine(settings, settings.bind.map(parseBind), this.systemd !== null, appDirectory(this.app));
      // A choice left open keeps the engine running (one the app settled, say).
      if (next.fixed && next.name !== this.engine.name)
        throw new Error(`the engine cannot change on reload (${this.engine.name} → ${next.name}): restart`);
      checkTls(settings); // new workers read the files again: a bad certificate keeps the running ones
      log = new Logger(settings); // before the old one closes: a log that cannot be opened keeps the old
      const before = new Set(this.listeningAt());
      await this.listeners!.open(settings);
      this.pidfile.switchTo(settings.pidfile);
      this.settings = settings;
      this.hooks.replace(hooks);
      this.numWorkers = settings.workers;
      await this.openMetrics();
      this.log.close();
      this.log = log;
      this.log.statsd = this.admin.useStatsd(settings);
      this.syncReloader();
      for (const w of warnings) this.log.warning(w);
      for (const n of notes) this.log.info(n);
      for (const url of this.listeningAt())
        if (!before.has(url)) this.log.info(`Listening at: ${url} (${process.pid})`);
    } catch (err) {
      log?.close();
      this.log.errorMsg(`Reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    await this.hooks.call('on_reload', (h) => h(this.hooks.server));
    this.spawnPausedUntil = 0; // the user may have fixed the app: try now
    for (const w of this.workers) {
      w.retiring = true;
      w.retiredFor ??= 'reload';
    }
    this.manageWorkers();
  }

  /** USR2: a new arbiter from the same command line beside this one (lib/arbiter/usr2.ts). */
  private reexec(): Promise<void> {
    return this.usr2.reexec(this.usr2Host());
  }

  /** The arbiter that started this one on USR2 is gone: this one is the arbiter now (Gunicorn's maybe_promote_master). */
  private async maybePromote(): Promise<void> {
    if (!this.usr2.parentGone) return;
    await this.usr2.promote(this.usr2Host());
    process.title = `qilin: master [${this.procName}]`;
  }

  private usr2Host(): Usr2Host {
    const arbiter = this;
    return {
      argv: this.argv,
      cwd: this.cwd,
      pidfile: this.pidfile,
      listeners: this.listeners!,
      get log() {
        return arbiter.log;
      },
      get wantedPidfile() {
        return arbiter.settings.pidfile;
      },
      preExec: () => this.hooks.call('pre_exec', (h) => h(this.hooks.server)),
      watchFiles: (on) => {
        if (on) {
          this.syncReloader();
          return;
        }
        this.reloader?.close();
        this.reloader = null;
      },
      openAdmin: async () => {
        await this.openControl();
        await this.openMetrics();
      },
    };
  }

  /** Every wanted worker listens, after a start or a reload: READY=1 for systemd; a -D parent may exit. */
  private announceReady(): void {
    if (!this.service.awaitingReady) return;
    const serving = this.workers.current().filter((w) => w.ready).length;
    if (serving < this.numWorkers) return;
    this.service.ready(`${serving} worker${serving === 1 ? '' : 's'} serving`);
    daemonReady();
  }

  /** Keep `numWorkers` serving workers; stop retired and excess ones once others are ready. */
  private manageWorkers(): void {
    const current = this.workers.current();
    if (Date.now() >= this.spawnPausedUntil) current.push(...this.spawnWorkers(this.numWorkers - current.length));

    // TTOU: the oldest go first.
    while (current.length > this.numWorkers) this.stopWorker(current.shift()!);

    // Replacements are listening: the retired can go without a moment where nobody listens.
    if (current.filter((w) => w.ready).length >= this.numWorkers) {
      for (const w of this.workers.oldestFirst()) if (w.retiring && !w.stopping) this.stopWorker(w);
    }
  }

  private spawnWorkers(n: number): WorkerRecord[] {
    const forked: WorkerRecord[] = [];
    for (let i = 0; i < n; i++) forked.push(this.spawnWorker());
    return forked;
  }

  private spawnWorker(): WorkerRecord {
    this.workerAge += 1;
    const { binds, fds } = this.listeners!.forWorker();
    const spec: WorkerSpec = {
      settings: this.settings,
      app: this.app,
      engine: this.engine.name,
      binds,
      uwsMain: this.engine.name === 'uws' ? this.uwsMain : null,
      age: this.workerAge,
      workerHooks: this.hooks.forWorkers,
      reportLoad: this.settings.control_socket !== null && !this.settings.control_socket_disable,
    };
    const env: NodeJS.ProcessEnv = { ...process.env, QILIN_WORKER: JSON.stringify(spec) };
    for (const kv of this.settings.raw_env) {
      const i = kv.indexOf('=');
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    this.hooks.callSync('pre_fork', (h) => h(this.hooks.server, this.hooks.worker(0, this.workerAge)));
    // The listeners' fds follow stdio and the IPC channel: 4, 5, … in the worker.
    const stdio: ('ignore' | 'inherit' | 'ipc' | number)[] = ['ignore', 'inherit', 'inherit', 'ipc', ...fds];
    const proc = fork(WORKER_ENTRY, [], { env, stdio });
    const w = newWorkerRecord(proc, this.workerAge);
    this.workers.add(w);
    proc.on('message', (msg: WorkerMessage) => this.onWorkerMessage(w, msg));
    proc.on('exit', (code, signal) => this.reapWorker(w, code, signal));
    proc.on('error', (err) => this.log.errorMsg(`Worker (pid:${w.pid}) error: ${err.message}`));
    this.log.info(`Booting worker with pid: ${w.pid}`);
    return w;
  }

  private onWorkerMessage(w: WorkerRecord, msg: WorkerMessage): void {
    w.lastBeat = Date.now();
    if (msg.t === 'app') {
      this.appLoaded(w, msg.style, msg.what, msg.bare);
    } else if (msg.t === 'ready') {
      w.ready = true;
      this.log.debug(`Worker (pid:${w.pid}) ready`);
      this.wakeup();
    } else if (msg.t === 'stats') {
      this.admin.metrics.report(w.pid, msg);
      w.load = msg;
    } else if (msg.t === 'load') {
      w.load = msg;
    } else if (msg.t === 'files') {
      this.reloader?.setModuleFiles(msg.files, msg.loaded);
    } else if (msg.t === 'retire' && !w.retiring) {
      w.retiring = true; // max_requests reached: replace it, then stop it
      w.retiredFor = 'max_requests';
      this.wakeup();
    }
  }

  /**
   * A worker loaded the app. A Node-style app on `uws` with nothing serving yet (the engine was asked
   * for, or the app changed since settleEngine looked) is a config error, as a uws-only bind would be;
   * on a reload the worker fails to boot and the running workers stay (bootFailed).
   */
  private appLoaded(w: WorkerRecord, style: 'fetch' | 'node', what: string, bare: boolean): void {
    if (w.stopping || style !== 'node' || this.engine.name !== 'uws') return;
    if (this.workers.listening().length > 0) return;
    this.pendingHalt ??= new HaltServer(uwsRefusal(this.app, what, bare), 1);
    this.wakeup();
  }

  /** A worker exited (Gunicorn's reap_workers, on each child's 'exit' event): say how, and let the loop replace it. */
  private reapWorker(w: WorkerRecord, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.remove(w);
    this.hooks.callSync('child_exit', (h) => h(this.hooks.server, this.hooks.worker(w.pid, w.age)));
    this.admin.metrics.exited(w.pid, restartReason(w, signal));
    // The arbiter's own kill for `timeout` (WORKER TIMEOUT, said as it was sent) is said to be that.
    const timedOut =
      w.aborted && (signal === 'SIGABRT' || (signal === 'SIGKILL' && w.killed) || (signal === null && code !== 0));
    const forTimeout = `the arbiter's, after WORKER TIMEOUT: silent for more than ${this.settings.timeout} s`;
    if (signal && timedOut) {
      const why = signal === 'SIGKILL' ? `${forTimeout}, and still running 1 s after SIGABRT` : forTimeout;
      this.log.errorMsg(`Worker (pid:${w.pid}) was sent ${signal}! (${why})`);
    } else if (signal) {
      const extra = signal === 'SIGKILL' ? ' Perhaps out of memory?' : '';
      this.log.log(signal === 'SIGTERM' ? 'info' : 'error', `Worker (pid:${w.pid}) was sent ${signal}!${extra}`);
    } else if (code !== 0) {
      this.log.errorMsg(
        `Worker (pid:${w.pid}) exited with code ${code}${timedOut ? ` (after the arbiter's SIGABRT for WORKER TIMEOUT)` : ''}`,
      );
      if ((code === WORKER_BOOT_ERROR || code === APP_LOAD_ERROR) && !w.stopping) this.bootFailed(w, code);
    } else {
      this.log.debug(`Worker (pid:${w.pid}) exited with code 0`);
    }
    this.wakeup();
  }

  /**
   * A worker could not boot or load the app. With no worker serving (first boot, or all gone) the
   * arbiter halts with Gunicorn's exit code. Otherwise the app on disk is broken while older workers
   * still serve it fine (a reload or replacement): abort the replacement and keep those workers.
   */
  private bootFailed(w: WorkerRecord, code: number): void {
    const serving = this.workers.listening();
    if (serving.length === 0) {
      this.pendingHalt ??=
        code === APP_LOAD_ERROR
          ? new HaltServer('App failed to load.', APP_LOAD_ERROR)
          : new HaltServer('Worker failed to boot.', WORKER_BOOT_ERROR);
      return;
    }
    const reloading = serving.some((o) => o.retiring);
    const what = code === APP_LOAD_ERROR ? 'load the app' : 'boot';
    const kept = serving.map((o) => o.pid).join(', ');
    this.log.errorMsg(
      `${reloading ? 'Reload failed: worker' : 'Worker'} (pid:${w.pid}) could not ${what}; keeping the running workers (pids ${kept})`,
    );
    for (const o of serving) o.retiring = false;
    // The rest of the new generation loads the same app: stop it rather than let it replace the old.
    if (reloading) for (const o of this.workers) if (!o.ready && !o.stopping) this.stopWorker(o);
    this.spawnPausedUntil = Date.now() + 1000;
  }

  /** Kill workers that have not proved they are alive within `timeout`: SIGABRT, then SIGKILL. */
  private murderWorkers(): void {
    const { timeout } = this.settings;
    if (!timeout) return;
    const now = Date.now();
    for (const w of this.workers) {
      if (now - w.lastBeat <= timeout * 1000) continue;
      if (!w.aborted) {
        this.log.critical(`WORKER TIMEOUT (pid:${w.pid})`);
        w.aborted = true;
        w.abortedAt = now;
        this.killWorker(w, 'SIGABRT');
      } else if (now - w.abortedAt >= 1000) {
        // A second for SIGABRT (the loop may run sooner, woken by another worker or a signal).
        w.killed = true;
        this.killWorker(w, 'SIGKILL');
      }
    }
  }

  /**
   * max_worker_memory: a serving worker whose RSS passed it is replaced as for max_requests (a new
   * worker first, then the old one stops gracefully). The arbiter reads the RSS from /proc itself,
   * so a worker busy in garbage collection (or stuck) is measured all the same.
   */
  private checkMemory(): void {
    const limit = this.settings.max_worker_memory;
    // Once a second: the loop also runs for every worker's heartbeat and report.
    if (limit <= 0 || Date.now() - this.memoryCheckedAt < 1000) return;
    this.memoryCheckedAt = Date.now();
    for (const w of this.workers) {
      if (!w.ready || w.retiring || w.stopping) continue;
      const rss = residentBytes(w.pid);
      if (rss === null || rss <= limit * MIB) continue;
      this.log.warning(
        `Worker (pid:${w.pid}) uses ${Math.round(rss / MIB)} MiB, over max_worker_memory ${limit} MiB: replacing it`,
      );
      w.retiring = true;
      w.retiredFor = 'memory';
    }
  }

  /** TERM to one worker: it finishes its requests, then exits. */
  private stopWorker(w: WorkerRecord): void {
    w.stopping = true;
    this.killWorker(w, 'SIGTERM');
  }

  private killWorker(w: WorkerRecord, sig: NodeJS.Signals): void {
    try {
      process.kill(w.pid, sig);
    } catch {
      /* already gone: reapWorker will see it */
    }
  }

  private killWorkers(sig: NodeJS.Signals): void {
    for (const w of this.workers) this.killWorker(w, sig);
  }

  /** Stop every worker: TERM and wait `graceful_timeout` (graceful), or QUIT (quick); then KILL. */
  private async stop(graceful: boolean): Promise<void> {
    this.service.stopping();
    this.stopping = true;
    this.workerTarget = 0; // not a change of the worker count: nworkers_changed is not told (as Gunicorn)
    this.killWorkers(graceful ? 'SIGTERM' : 'SIGQUIT');
    for (const w of this.workers) w.stopping = true;
    const limit = Date.now() + (graceful ? this.settings.graceful_timeout * 1000 + 1000 : 2000);
    while (this.workers.size > 0 && Date.now() < limit) await this.sleep(50);
    if (this.workers.size === 0) return;
    this.killWorkers('SIGKILL');
    const hard = Date.now() + 2000;
    while (this.workers.size > 0 && Date.now() < hard) await this.sleep(50);
  }

  /** Stop with a reason and an exit code (Gunicorn's halt); resolves with the exit code. */
  private async halt(err: HaltServer): Promise<number> {
    if (err.exitCode !== 0) await this.stop(false);
    this.log.info('Shutting down: Master');
    if (err.reason) this.log.log(err.exitCode === 0 ? 'info' : 'error', `Reason: ${err.reason}`);
    await this.hooks.call('on_exit', (h) => h(this.hooks.server));
    return err.exitCode;
  }

  private cleanup(): void {
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.admin.close();
    this.reloader?.close();
    this.reloader = null;
    this.listeners?.close();
    this.pidfile.remove();
    this.log.flush();
  }
}

/**
 * A socket the start cannot go without, as the HaltServer Gunicorn stops with: exit 3 for a bind,
 * 1 for the control socket (a setting that cannot be used).
 */
function halting(err: unknown): unknown {
  if (err instanceof SocketError) return new HaltServer(err.message, WORKER_BOOT_ERROR);
  if (err instanceof ControlSocketError) return new HaltServer(err.message, 1);
  return err;
}

/** Why `uws` cannot serve a Node-style app, as the arbiter stops with it (exit 1). */
function uwsRefusal(app: string, what: string, bare: boolean): string {
  return `Invalid value for engine: "uws" (${app} is ${what}, a Node-style app: it needs the node engine; use --engine node or leave engine unset${uwsAdvice(bare)})`;
}

/** npm (npx, npm start, npm exec) runs its commands with these in their environment. */
function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env.npm_command !== undefined || env.npm_lifecycle_event !== undefined;
}
