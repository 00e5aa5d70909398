// The arbiter: forks workers and keeps them alive, as Gunicorn's arbiter does. It never accepts,
// reads or writes a client connection. With the node engine it creates the listening sockets once
// (lib/arbiter/sockets.ts) and passes them to every worker; with the uws engine every worker opens its own
// SO_REUSEPORT listeners and the arbiter only checks up front that each address can be bound.
//
// One loop: handle queued signals in order; otherwise kill workers that stopped beating
// (murder), reap is event-driven (child 'exit'), then keep the worker count (manage) and sleep.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../config/resolve.js';
import { bindUrl, formatBind, parseBind, parseMetricsBind, type BindAddress } from '../config/binds.js';
import { ControlServer, ControlSocketError } from './control.js';
import type { StatusData } from '../ctl/protocol.js';
import { chooseEngine, engineFacts, type EngineChoice, type EngineFacts } from '../engines/index.js';
import type { ServedBind } from '../engines/types.js';
import { appDirectory, splitAppUri } from '../app/load.js';
import { uwsAdvice } from '../app/shapes.js';
import { resolveModule } from '../config/loader.js';
import { HOOKS, hookLog, type HookLog, type ServerHooks, type ServerInfo, type WorkerInfo } from '../config/hooks.js';
import { daemonReady } from '../ops/daemon.js';
import { Logger } from '../ops/log.js';
import { socketOwner } from '../ops/privileges.js';
import { MetricsHub, MetricsServer, type RestartReason } from '../metrics/prometheus.js';
import { statsdFor, type Statsd } from '../metrics/statsd.js';
import { checkApp } from './app-check.js';
import { bindOnce } from './ports.js';
import { inheritance, spawnNewArbiter, type Inheritance } from './reexec.js';
import { Reloader } from './reloader.js';
import { ConfigError, type Settings } from '../config/settings.js';
import { checkTls, withScheme } from '../ops/tls.js';
import { bindFailure, closeSocket, createSocket, listenAll, SocketError, systemdSockets, type SharedSocket } from './sockets.js';
import { ServiceNotifier } from '../ops/systemd.js';
import { VERSION } from '../version.js';
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type WorkerLoad, type WorkerMessage, type WorkerSpec } from '../worker/protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('../../workers/main.js', import.meta.url));
const SIGNALS = ['SIGHUP', 'SIGQUIT', 'SIGINT', 'SIGTERM', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
type ArbiterSignal = (typeof SIGNALS)[number];

/**
 * Said at start when the arbiter is PID 1 (a container with no init). Orphans in the container are
 * re-parented to PID 1; Gunicorn's arbiter reaps any child (waitpid(-1)), but Node.js can wait only
 * for the processes it started itself, so they would stay zombies.
 */
export const PID1_WARNING =
  'qilin is PID 1 (a container without an init): processes the app starts and leaves behind are re-parented to ' +
  'qilin, which cannot reap them (Node.js waits only for its own children), so they stay as zombies. ' +
  'Run an init in front: `docker run --init`, or tini or dumb-init as the image\'s entrypoint';

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
  /** When that SIGABRT was sent (ms). */
  abortedAt: number;
  /** SIGKILL sent after that SIGABRT did not end it within a second. */
  killed: boolean;
  /** Why it is being replaced, for /metrics. */
  retiredFor: 'max_requests' | 'memory' | 'reload' | null;
  /** When it was forked (ms), for the control socket's status. */
  forkedAt: number;
  /** Its latest report (control socket or metrics_bind on), null before the first. */
  load: WorkerLoad | null;
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
  /** Server hooks from the config file (the arbiter's; workers import the file for theirs). */
  hooks?: ServerHooks;
}

export class Arbiter {
  private settings: Settings;
  private readonly app: string;
  private readonly argv: readonly string[];
  private readonly cwd: string;
  private readonly startWarnings: readonly string[];
  private log: Logger;
  /** The pid file this arbiter wrote, removed at exit. */
  private pidfile: string | null = null;
  /** After a worker failed to boot, no new worker is forked before this time (no fork storm). */
  private spawnPausedUntil = 0;
  private readonly workers = new Map<number, WorkerRecord>();
  private readonly sigQueue: ArbiterSignal[] = [];
  /** Started by another arbiter's USR2: what it handed over (null once that one is gone: promoted). */
  private inherited: Inheritance | null = null;
  /** The arbiter this one started on USR2, while it runs. */
  private reexecChild: ChildProcess | null = null;
  /** The number of workers to keep (numWorkers, which tells nworkers_changed). */
  private workerTarget: number;
  private hooks: ServerHooks;
  /** The arbiter as hooks see it. */
  private readonly server: ServerInfo;
  private binds: BindAddress[] = [];
  /**
   * Asked for, needed by a bind or a setting, or (unset: `fixed` false) settled at start by what the
   * app is (settleEngine), before any worker is forked; it does not change after that.
   */
  private engine: EngineChoice;
  /** uws: the uWebSockets.js build the arbiter found (its package main), which every worker loads. */
  private uwsMain: string | null = null;
  /** The arbiter creates the sockets and passes them to the workers (node engine). */
  private sharedSockets = false;
  /** Sockets held for the workers, in bind order (node engine). */
  private sockets: SharedSocket[] = [];
  /** Sockets systemd passed (LISTEN_FDS): they replace the bind setting, as in Gunicorn. */
  private readonly systemd: SharedSocket[] | null;
  private workerAge = 0;
  private halt: HaltServer | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly signalHandlers = new Map<ArbiterSignal, () => void>();
  /** Totals of every worker's reports (metrics_bind set), and the listener that serves them. */
  private readonly metrics = new MetricsHub();
  /** systemd's Type=notify: READY=1, RELOADING=1, STOPPING=1 (a no-op without $NOTIFY_SOCKET). */
  private readonly service = new ServiceNotifier((msg) => this.log.warning(msg));
  private metricsServer: MetricsServer | null = null;
  private statsd: Statsd | null = null;
  private statsdKey = '';
  /** reload: watches the app's files (null when reload is off). */
  private reloader: Reloader | null = null;
  /** Files the reloader saw change, not yet acted on. */
  private changedFiles: string[] | null = null;
  /** The control socket (control_socket set), opened at start and kept until exit. */
  private control: ControlServer | null = null;
  /** Stopping all workers (TERM, INT, QUIT, or a halt): the worker count is no longer kept. */
  private stopping = false;
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
    this.hooks = opts.hooks ?? {};
    this.workerTarget = opts.settings.workers;
    const arbiter = this;
    const log: HookLog = hookLog({
      debug: (m) => this.log.debug(m), info: (m) => this.log.info(m), warning: (m) => this.log.warning(m),
      errorMsg: (m) => this.log.errorMsg(m), critical: (m) => this.log.critical(m),
    });
    this.server = {
      pid: process.pid, app: opts.app, log,
      get settings() { return arbiter.settings; },
      get numWorkers() { return arbiter.workerTarget; },
      get workers() { return [...arbiter.workers.keys()]; },
    };
    this.log = new Logger(opts.settings);
    this.useStatsd(opts.settings);
    try {
      this.inherited = inheritance(process.env);
      this.systemd = systemdSockets(process.env);
      this.engine = chooseEngine(opts.settings, opts.settings.bind.map(parseBind), this.systemd !== null, appDirectory(opts.app));
      // Started by USR2 from an arbiter that served with node (it handed over its sockets): an unset
      // engine stays node, which those sockets serve, whatever the app is now.
      if (this.inherited !== null && this.inherited.sockets.length > 0 && !this.engine.fixed) {
        this.engine = { name: 'node', why: 'the arbiter that started this one by USR2 served with it', fixed: true };
      }
      checkTls(opts.settings); // here, after --chdir: relative paths name what the workers will read
      // Started by USR2: the old arbiter still runs; `<pidfile>.2` until it is gone (as Gunicorn).
      if (opts.settings.pidfile) createPidfile(this.inherited ? `${opts.settings.pidfile}.2` : opts.settings.pidfile);
    } catch (err) {
      this.log.close();
      throw err;
    }
    this.pidfile = opts.settings.pidfile && this.inherited ? `${opts.settings.pidfile}.2` : opts.settings.pidfile;
    // Not for a daemon (its parent exits by design) nor for an arbiter started by USR2 (promoted instead).
    if (startedByNpm(process.env) && !opts.settings.daemon && !this.inherited) this.npmParent = process.ppid;
  }

  /** The number of workers to keep; a change is told to the nworkers_changed hook (as Gunicorn's setter). */
  private get numWorkers(): number {
    return this.workerTarget;
  }
  private set numWorkers(n: number) {
    const old = this.workerTarget;
    this.workerTarget = n;
    if (n !== old) this.syncHook('nworkers_changed', (h) => h(this.server, n, old));
  }

  /** A worker as arbiter-side hooks see it. */
  private workerInfo(pid: number, age: number): WorkerInfo {
    return { pid, age, app: this.app, settings: this.settings, log: this.server.log };
  }

  /**
   * Call an arbiter hook and wait for it. A throw is logged and the arbiter goes on, except for
   * on_starting and when_ready, whose throw stops the start (`rethrow`), as in Gunicorn.
   */
  private async hook<K extends keyof ServerHooks>(
    name: K, call: (h: NonNullable<ServerHooks[K]>) => unknown, rethrow = false,
  ): Promise<void> {
    const h = this.hooks[name];
    if (!h) return;
    try {
      await call(h as NonNullable<ServerHooks[K]>);
    } catch (err) {
      if (rethrow) throw err;
      this.log.exception(`Exception in ${name} hook`, err);
    }
  }

  /** A synchronous hook (pre_fork, child_exit, nworkers_changed): a promise it returns is not awaited. */
  private syncHook<K extends keyof ServerHooks>(name: K, call: (h: NonNullable<ServerHooks[K]>) => unknown): void {
    const h = this.hooks[name];
    if (!h) return;
    try {
      const r = call(h as NonNullable<ServerHooks[K]>);
      if (r instanceof Promise) r.catch((err: unknown) => this.log.exception(`Exception in ${name} hook`, err));
    } catch (err) {
      this.log.exception(`Exception in ${name} hook`, err);
    }
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
        await this.hook('on_exit', (h) => h(this.server));
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
    process.title = this.inherited ? `qilin: master [${this.procName}.2]` : `qilin: master [${this.procName}]`;
    if (this.inherited) this.log.info(`Started by arbiter ${this.inherited.parentPid} (USR2): serving beside it until it exits`);
    this.log.info(`Starting qilin ${VERSION}`);
    if (process.pid === 1) this.log.warning(PID1_WARNING);
    for (const w of this.startWarnings) this.log.warning(w);
    // Gunicorn sets its worker count as the arbiter is made, telling nworkers_changed (old: None).
    this.syncHook('nworkers_changed', (h) => h(this.server, this.workerTarget, null));
    await this.hook('on_starting', (h) => h(this.server), true);
    await this.settleEngine();
    try {
      const facts = await engineFacts(this.engine.name);
      this.sharedSockets = facts.sharedSockets;
      this.uwsMain = facts.uwsMain;
      this.sayEngine(facts);
    } catch (err) {
      throw new HaltServer((err as Error).message, WORKER_BOOT_ERROR);
    }
    if (this.systemd) this.log.info(`Using ${this.systemd.length} socket(s) from systemd; bind is ignored`);
    // The old arbiter holds the control socket and metrics address until it exits (see promote).
    if (!this.inherited) await this.openControl(settings);
    if (this.inherited && this.sharedSockets) this.sockets = this.inherited.sockets;
    else for (const s of this.inherited?.sockets ?? []) closeSocket(s);
    this.binds = await this.openBinds(settings);
    for (const url of this.listeningAt()) this.log.info(`Listening at: ${url} (${process.pid})`);
    this.log.info(`Using worker: ${settings.worker_class}`);
    if (!this.sharedSockets) this.warnReusePortReload();
    if (!this.inherited) await this.openMetrics(settings.metrics_bind);
    for (const sig of SIGNALS) {
      const h = () => this.signal(sig);
      this.signalHandlers.set(sig, h);
      process.on(sig, h);
    }
    this.syncReloader();
    await this.hook('when_ready', (h) => h(this.server), true);
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

  /** reload on (it may change on HUP): one watcher for the app's files; a change reloads as HUP does. */
  private syncReloader(): void {
    const { reload, reload_engine, reload_extra_files } = this.settings;
    const extra = reload_extra_files.map((f) => path.resolve(this.cwd, f)); // relative to where qilin started
    if (reload && this.reloader?.engine === reload_engine) { this.reloader.setExtra(extra); return; }
    this.reloader?.close();
    this.reloader = null;
    if (!reload) return;
    this.log.warning('Reloader is on. Use in development only!');
    this.reloader = new Reloader({
      engine: reload_engine,
      extra,
      appDir: this.appDirectory(),
      onChange: (files) => {
        this.changedFiles = [...(this.changedFiles ?? []), ...files];
        this.wake();
      },
      warn: (msg) => this.log.warning(msg),
      debug: (msg) => this.log.debug(msg),
    });
  }

  /** The directory of the app's module, watched until a worker says which files the app is made of. */
  private appDirectory(): string {
    try {
      return path.dirname(resolveModule(splitAppUri(this.app).module));
    } catch {
      return process.cwd(); // a package that does not resolve: the workers will say why
    }
  }

  /** Files of the app changed: replace the workers through HUP's path (which keeps them if the app is broken). */
  private async reloadForChanges(files: string[]): Promise<void> {
    const shown = [...new Set(files)].map((f) => {
      const rel = path.relative(this.cwd, f);
      return rel.startsWith('..') || path.isAbsolute(rel) ? f : rel;
    });
    const more = shown.length > 3 ? ` and ${shown.length - 3} more` : '';
    this.log.info(`Reloading workers: ${shown.slice(0, 3).join(', ')}${more} modified`);
    await this.reload();
  }

  /** metrics_bind: open (or move, on a reload) the admin listener that serves /metrics. */
  private async openMetrics(bind: string | null): Promise<void> {
    const current = this.metricsServer;
    if ((current?.bind.text ?? null) === bind) return;
    if (bind === null) { current?.close(); this.metricsServer = null; return; }
    let server: MetricsServer;
    try {
      server = await MetricsServer.open(parseMetricsBind(bind), this.settings.umask, () => this.renderMetrics());
    } catch (err) {
      if (err instanceof SocketError) throw new HaltServer(err.message, WORKER_BOOT_ERROR);
      throw err;
    }
    current?.close();
    this.metricsServer = server;
    this.log.info(`Metrics at: ${server.bind.kind === 'unix' ? server.bind.text : `http://${formatBind(server.bind)}`}/metrics`);
  }

  private renderMetrics(): string {
    const now = Date.now();
    const workers = [...this.workers.values()].map((w) => ({ pid: w.pid, heartbeatAgeMs: now - w.lastBeat }));
    return this.metrics.render(workers);
  }

  /**
   * control_socket: listen for `qilin ctl`. Its path is settled at start (a reload does not move it).
   * reload and stop go through the signal queue, as HUP and TERM do.
   */
  private async openControl(settings: Settings): Promise<void> {
    if (settings.control_socket === null || settings.control_socket_disable) return;
    try {
      this.control = await ControlServer.open(settings.control_socket, settings.control_socket_mode, {
        status: () => this.controlStatus(),
        reload: () => this.signal('SIGHUP'),
        scale: (n) => this.scale(n),
        stop: () => this.signal('SIGTERM'),
      });
    } catch (err) {
      if (err instanceof ControlSocketError) throw new HaltServer(err.message, 1);
      throw err;
    }
    this.log.info(`Control socket listening at ${this.control.path}`);
  }

  private controlStatus(): StatusData {
    const now = Date.now();
    const secs = (ms: number) => Math.round(ms / 100) / 10;
    const workers = [...this.workers.values()].sort((a, b) => a.age - b.age).map((w) => ({
      pid: w.pid,
      state: w.stopping ? 'stopping' as const : w.retiring ? 'retiring' as const : w.ready ? 'ready' as const : 'booting' as const,
      age: secs(now - w.forkedAt),
      requests: w.load?.requests ?? null,
      in_flight: w.load ? w.load.running + w.load.queued : null,
      queued: w.load?.queued ?? null,
      last_heartbeat: secs(now - w.lastBeat),
      rss: w.load?.rss ?? null,
    }));
    return { pid: process.pid, target: this.numWorkers, workers };
  }

  /** `qilin ctl scale N`: keep `n` workers, as that many TTIN or TTOU would; returns the count before. */
  private scale(n: number): number {
    if (this.stopping) throw new Error('the server is stopping');
    const before = this.numWorkers;
    this.log.info(`Scaling from ${before} to ${n} workers (control socket)`);
    this.numWorkers = n;
    this.wake(); // the loop's next pass forks or stops workers (manageWorkers)
    return before;
  }

  /** statsd_host: the arbiter sends `qilin.workers` and counts its own log lines. */
  private useStatsd(settings: Settings): void {
    const key = JSON.stringify([settings.statsd_host, settings.statsd_prefix, settings.dogstatsd_tags]);
    if (key !== this.statsdKey) {
      this.statsdKey = key;
      this.statsd?.close();
      this.statsd = statsdFor(settings);
    }
    this.log.statsd = this.statsd;
  }

  /** `Using engine: …`, why, the build, and its warnings. */
  private sayEngine(facts: EngineFacts): void {
    const notes = [this.engine.why, facts.build].filter((n) => n !== null).join('; ');
    this.log.info(`Using engine: ${facts.label}${notes ? ` (${notes})` : ''}`);
    for (const w of facts.warnings) this.log.warning(w);
  }

  /** Where the workers listen, as logged. */
  private listeningAt(): string[] {
    const urls = this.sharedSockets ? this.sockets.map((s) => s.url) : this.binds.map(bindUrl);
    return urls.map((u) => withScheme(u, this.settings));
  }

  /**
   * The binds of `settings`, ready for workers: with shared sockets, each created (or kept from
   * before a reload) and listening; otherwise probed (see checkBinds).
   */
  private async openBinds(settings: Settings): Promise<BindAddress[]> {
    if (!this.sharedSockets) return this.checkBinds(settings.bind.map(parseBind), this.binds);
    if (this.systemd) {
      this.sockets = this.systemd;
      return this.sockets.map((s) => s.bind);
    }
    const kept = new Map(this.sockets.map((s) => [bindKey(parseBind(s.bind.text)), s])); // as written: port 0 stays 0
    const next: SharedSocket[] = [];
    const fresh: SharedSocket[] = [];
    try {
      for (const b of settings.bind.map(parseBind)) {
        const old = kept.get(bindKey(b));
        if (old) { next.push(old); kept.delete(bindKey(b)); continue; }
        const s = await createSocket(b, settings.umask, socketOwner(settings));
        fresh.push(s);
        next.push(s);
      }
      listenAll(fresh, settings.backlog);
    } catch (err) {
      for (const s of fresh) closeSocket(s);
      if (err instanceof SocketError) throw new HaltServer(err.message, WORKER_BOOT_ERROR);
      throw err;
    }
    // A bind the new config dropped: the old workers keep their copies until they stop.
    for (const s of kept.values()) closeSocket(s);
    this.sockets = next;
    return next.map((s) => s.bind);
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
      // The old arbiter's workers listen there with SO_REUSEPORT: a plain probe would fail; ours join them.
      const inheritedPort = b.kind === 'tcp' ? this.inherited?.ports.get(b.text) : undefined;
      if (b.kind === 'tcp' && inheritedPort !== undefined) { out.push({ ...b, port: inheritedPort }); continue; }
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
      if (this.npmParent !== null && process.ppid !== this.npmParent) {
        this.log.info(`Parent process ${this.npmParent} is gone (qilin was started by npm, which does not pass TERM on): graceful stop, as on TERM`);
        this.npmParent = null;
        await this.stop(true);
        throw new HaltServer('', 0);
      }
      if (this.inherited && process.ppid !== this.inherited.parentPid) await this.promote();
      if (this.changedFiles !== null) {
        const files = this.changedFiles;
        this.changedFiles = null;
        await this.reloadForChanges(files);
      }
      const sig = this.sigQueue.shift();
      if (sig === undefined) {
        this.murderWorkers();
        this.checkMemory();
        this.manageWorkers();
        this.announceReady();
        this.statsd?.gauge('workers', this.workers.size);
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
          this.log.info('Handling signal: usr2');
          await this.reexec();
          break;
        case 'SIGWINCH':
          if (this.settings.daemon) {
            // No terminal sends it to a daemon: stop the workers, keep the arbiter; HUP or TTIN brings workers back.
            this.log.info('Handling signal: winch');
            this.log.info('graceful stop of workers');
            this.numWorkers = 0;
            for (const w of this.workers.values()) if (!w.stopping) this.stopWorker(w);
          } else {
            this.log.debug('SIGWINCH ignored. Not daemonized');
          }
          break;
      }
    }
  }

  /** HUP: re-read the config, start new workers, retire the old ones once the new are ready. */
  private async reload(): Promise<void> {
    this.service.reloading(); // READY=1 follows once the new workers listen (or the old stay)
    let log: Logger | null = null;
    try {
      // fresh: evaluate the config file again, not the module import() cached at start.
      const { settings, warnings, hooks } = await resolveConfig(this.argv, process.env, this.cwd, { fresh: true });
      const next = chooseEngine(settings, settings.bind.map(parseBind), this.systemd !== null, appDirectory(this.app));
      // A provisional choice keeps the engine running (one the app settled, say).
      if (next.fixed && next.name !== this.engine.name) throw new Error(`the engine cannot change on reload (${this.engine.name} → ${next.name}): restart`);
      checkTls(settings); // new workers read the files again: a bad certificate keeps the running ones
      const before = new Set(this.listeningAt());
      const binds = await this.openBinds(settings);
      log = new Logger(settings); // before the old one closes: a log that cannot be opened keeps the old
      this.switchPidfile(settings.pidfile);
      this.settings = settings;
      this.hooks = hooks;
      this.binds = binds;
      this.numWorkers = settings.workers;
      await this.openMetrics(settings.metrics_bind);
      this.log.close();
      this.log = log;
      this.useStatsd(settings);
      this.syncReloader();
      for (const w of warnings) this.log.warning(w);
      for (const url of this.listeningAt()) if (!before.has(url)) this.log.info(`Listening at: ${url} (${process.pid})`);
    } catch (err) {
      log?.close();
      this.log.errorMsg(`Reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    await this.hook('on_reload', (h) => h(this.server));
    this.spawnPausedUntil = 0; // the user may have fixed the app: try now
    for (const w of this.workers.values()) { w.retiring = true; w.retiredFor ??= 'reload'; }
    this.manageWorkers();
  }

  /** Every wanted worker listens, after a start or a reload: READY=1 for systemd; a -D parent may exit. */
  private announceReady(): void {
    if (!this.service.awaitingReady) return;
    const serving = [...this.workers.values()].filter((w) => w.ready && !w.retiring && !w.stopping).length;
    if (serving < this.numWorkers) return;
    this.service.ready(`${serving} worker${serving === 1 ? '' : 's'} serving`);
    daemonReady();
  }

  /**
   * USR2: start a new arbiter from the same command line beside this one (Gunicorn's reexec). This
   * one keeps serving until the operator stops it (TERM, or WINCH then QUIT when daemonized); the
   * new one takes over the pid file, the control socket and /metrics once this one is gone.
   */
  private async reexec(): Promise<void> {
    if (this.reexecChild) { this.log.warning('USR2 signal ignored. Child exists.'); return; }
    if (this.inherited) { this.log.warning('USR2 signal ignored. Parent exists.'); return; }
    const pidfile = this.pidfile;
    if (pidfile) {
      try {
        renameSync(pidfile, `${pidfile}.oldbin`);
        this.pidfile = `${pidfile}.oldbin`;
      } catch (err) {
        this.log.warning(`Cannot rename the pid file to ${pidfile}.oldbin: ${(err as Error).message}`);
      }
    }
    await this.hook('pre_exec', (h) => h(this.server));
    // The new arbiter owns the unix socket files from now on: this one must not remove them as it exits.
    const unlinks = this.sockets.map((s) => s.unlinkPath);
    for (const s of this.sockets) s.unlinkPath = null;
    const child = spawnNewArbiter({
      argv: this.argv, cwd: this.cwd, sockets: this.sharedSockets ? this.sockets : [], binds: this.binds,
    });
    this.reexecChild = child;
    // The new arbiter watches the app's files now (reload): one reload per edit, not one per generation.
    this.reloader?.close();
    this.reloader = null;
    child.on('error', (err) => this.log.errorMsg(`Cannot start a new arbiter: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.reexecChild = null;
      this.log.errorMsg(`The new arbiter (pid:${child.pid ?? '?'}) exited (${signal ?? `code ${code}`}); this one goes on`);
      // Back to how it was before USR2.
      this.sockets.forEach((s, i) => { s.unlinkPath = unlinks[i] ?? null; });
      this.syncReloader();
      if (pidfile && this.pidfile === `${pidfile}.oldbin`) {
        try { renameSync(this.pidfile, pidfile); this.pidfile = pidfile; } catch { /* removed meanwhile */ }
      }
    });
  }

  /** The arbiter that started this one on USR2 is gone: this one is the arbiter now (Gunicorn's maybe_promote_master). */
  private async promote(): Promise<void> {
    this.inherited = null;
    this.log.info('Master has been promoted.');
    process.title = `qilin: master [${this.procName}]`;
    const wanted = this.settings.pidfile;
    if (wanted && this.pidfile && this.pidfile !== wanted) {
      try {
        renameSync(this.pidfile, wanted);
        this.pidfile = wanted;
      } catch (err) {
        this.log.warning(`Cannot rename the pid file to ${wanted}: ${(err as Error).message}`);
      }
    }
    try {
      await this.openControl(this.settings);
      await this.openMetrics(this.settings.metrics_bind);
    } catch (err) {
      // Serving goes on without them: an admin socket is not worth stopping the server for.
      this.log.errorMsg(`After promotion: ${err instanceof HaltServer ? err.reason : (err as Error).message}`);
    }
  }

  /** A HUP that names another pid file writes the new one, then removes ours (as Gunicorn). */
  private switchPidfile(next: string | null): void {
    if (next === this.pidfile) return;
    if (next) createPidfile(next);
    if (this.pidfile) removePidfile(this.pidfile);
    this.pidfile = next;
  }

  /** Keep `numWorkers` serving workers; stop retired and excess ones once others are ready. */
  private manageWorkers(): void {
    const all = [...this.workers.values()].sort((a, b) => a.age - b.age);
    const serving = all.filter((w) => !w.retiring && !w.stopping);
    if (Date.now() >= this.spawnPausedUntil) {
      for (let i = serving.length; i < this.numWorkers; i++) serving.push(this.spawnWorker());
    }

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
    // Shared sockets go to the worker as fds 4, 5, … (0–2 stdio, 3 the IPC channel).
    const binds: ServedBind[] = this.sharedSockets
      ? this.sockets.map((s, i) => ({ ...s.bind, childFd: 4 + i }))
      : this.binds;
    const spec: WorkerSpec = {
      settings: this.settings, app: this.app, engine: this.engine.name, binds,
      uwsMain: this.engine.name === 'uws' ? this.uwsMain : null,
      age: this.workerAge,
      workerHooks: HOOKS.some((h) => h.where === 'worker' && this.hooks[h.name] !== undefined),
      reportLoad: this.settings.control_socket !== null && !this.settings.control_socket_disable,
    };
    const env: NodeJS.ProcessEnv = { ...process.env, QILIN_WORKER: JSON.stringify(spec) };
    for (const kv of this.settings.raw_env) {
      const i = kv.indexOf('=');
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const stdio = ['ignore', 'inherit', 'inherit', 'ipc', ...(this.sharedSockets ? this.sockets.map((s) => s.fd) : [])];
    this.syncHook('pre_fork', (h) => h(this.server, this.workerInfo(0, this.workerAge)));
    const proc = fork(WORKER_ENTRY, [], { env, stdio: stdio as ('ignore' | 'inherit' | 'ipc' | number)[] });
    const w: WorkerRecord = {
      pid: proc.pid!, proc, age: this.workerAge, lastBeat: Date.now(),
      ready: false, retiring: false, stopping: false, aborted: false, abortedAt: 0, killed: false, retiredFor: null, forkedAt: Date.now(), load: null,
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
    if (msg.t === 'app') {
      this.appLoaded(w, msg.style, msg.what, msg.bare);
    } else if (msg.t === 'ready') {
      w.ready = true;
      this.log.debug(`Worker (pid:${w.pid}) ready`);
      this.wake();
    } else if (msg.t === 'stats') {
      this.metrics.report(w.pid, msg);
      w.load = msg;
    } else if (msg.t === 'load') {
      w.load = msg;
    } else if (msg.t === 'files') {
      this.reloader?.setModuleFiles(msg.files, msg.loaded);
    } else if (msg.t === 'retire' && !w.retiring) {
      w.retiring = true; // max_requests reached: replace it, then stop it
      w.retiredFor = 'max_requests';
      this.wake();
    }
  }

  /**
   * A worker loaded the app. A Node-style app on `uws` with nothing serving yet (the engine was asked
   * for, or the app changed since settleEngine looked) is a config error, as a uws-only bind would be;
   * on a reload the worker fails to boot and the running workers stay (bootFailed).
   */
  private appLoaded(w: WorkerRecord, style: 'fetch' | 'node', what: string, bare: boolean): void {
    if (w.stopping || style !== 'node' || this.engine.name !== 'uws') return;
    if ([...this.workers.values()].some((o) => o.ready && !o.stopping)) return;
    this.halt ??= new HaltServer(uwsRefusal(this.app, what, bare), 1);
    this.wake();
  }

  private reap(w: WorkerRecord, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w.pid);
    this.syncHook('child_exit', (h) => h(this.server, this.workerInfo(w.pid, w.age)));
    this.metrics.exited(w.pid, restartReason(w, code, signal));
    // The arbiter's own kill for `timeout` (WORKER TIMEOUT, said as it was sent) is said to be that.
    const timedOut = w.aborted && (signal === 'SIGABRT' || (signal === 'SIGKILL' && w.killed) || (signal === null && code !== 0));
    const forTimeout = `the arbiter's, after WORKER TIMEOUT: silent for more than ${this.settings.timeout} s`;
    if (signal && timedOut) {
      const why = signal === 'SIGKILL' ? `${forTimeout}, and still running 1 s after SIGABRT` : forTimeout;
      this.log.errorMsg(`Worker (pid:${w.pid}) was sent ${signal}! (${why})`);
    } else if (signal) {
      const extra = signal === 'SIGKILL' ? ' Perhaps out of memory?' : '';
      this.log.log(signal === 'SIGTERM' ? 'info' : 'error', `Worker (pid:${w.pid}) was sent ${signal}!${extra}`);
    } else if (code !== 0) {
      this.log.errorMsg(`Worker (pid:${w.pid}) exited with code ${code}${timedOut ? ` (after the arbiter's SIGABRT for WORKER TIMEOUT)` : ''}`);
      if ((code === WORKER_BOOT_ERROR || code === APP_LOAD_ERROR) && !w.stopping) this.bootFailed(w, code);
    } else {
      this.log.debug(`Worker (pid:${w.pid}) exited with code 0`);
    }
    this.wake();
  }

  /**
   * A worker could not boot or load the app. With no worker serving (first boot, or all gone) the
   * arbiter halts with Gunicorn's exit code. Otherwise the app on disk is broken while older workers
   * still serve it fine (a reload or replacement): abort the replacement and keep those workers.
   */
  private bootFailed(w: WorkerRecord, code: number): void {
    const serving = [...this.workers.values()].filter((o) => o.ready && !o.stopping);
    if (serving.length === 0) {
      this.halt ??= code === APP_LOAD_ERROR
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
    if (reloading) for (const o of this.workers.values()) if (!o.ready && !o.stopping) this.stopWorker(o);
    this.spawnPausedUntil = Date.now() + 1000;
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
        w.abortedAt = now;
        this.kill(w, 'SIGABRT');
      } else if (now - w.abortedAt >= 1000) {
        // A second for SIGABRT (the loop may run sooner, woken by another worker or a signal).
        w.killed = true;
        this.kill(w, 'SIGKILL');
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
    for (const w of this.workers.values()) {
      if (!w.ready || w.retiring || w.stopping) continue;
      const rss = residentBytes(w.pid);
      if (rss === null || rss <= limit * MIB) continue;
      this.log.warning(`Worker (pid:${w.pid}) uses ${Math.round(rss / MIB)} MiB, over max_worker_memory ${limit} MiB: replacing it`);
      w.retiring = true;
      w.retiredFor = 'memory';
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
    this.service.stopping();
    this.stopping = true;
    this.workerTarget = 0; // not a change of the worker count: nworkers_changed is not told (as Gunicorn)
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
    this.metricsServer?.close();
    this.reloader?.close();
    this.reloader = null;
    this.control?.close();
    this.control = null;
    this.statsd?.close();
    for (const s of this.sockets) closeSocket(s);
    this.sockets = [];
    if (this.pidfile) removePidfile(this.pidfile);
    this.log.flush();
  }
}

/** Why `uws` cannot serve a Node-style app, as the arbiter stops with it (exit 1). */
function uwsRefusal(app: string, what: string, bare: boolean): string {
  return `Invalid value for engine: "uws" (${app} is ${what}, a Node-style app: it needs the node engine; use --engine node or leave engine unset${uwsAdvice(bare)})`;
}

/** npm (npx, npm start, npm exec) runs its commands with these in their environment. */
function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env.npm_command !== undefined || env.npm_lifecycle_event !== undefined;
}

const MIB = 1024 * 1024;

/** A process's resident set size in bytes (VmRSS of /proc/PID/status), null when it cannot be read. */
function residentBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null; // gone, or not Linux
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** Why a worker that ended was replaced (for /metrics); null when it was not (shutdown, TTOU). */
function restartReason(w: WorkerRecord, code: number | null, signal: NodeJS.Signals | null): RestartReason | null {
  if (w.aborted) return 'timeout';
  if (w.retiredFor !== null) return w.retiredFor;
  if (w.stopping) return null;
  if (signal !== null) return 'signal';
  return 'exit';
}

/**
 * Binds that name the same socket across a reload: as written, except that a TCP address with an
 * IP and a fixed port is compared as that address (`:8000` and `0.0.0.0:8000` are one socket).
 */
function bindKey(b: BindAddress): string {
  if (b.kind === 'tcp' && b.port !== 0 && net.isIP(b.host) !== 0) return `tcp:${formatBind(b)}`;
  return b.text;
}

/** Bind an address once and release it; a clear HaltServer when it cannot work. */
async function probeBind(b: BindAddress): Promise<BindAddress> {
  if (b.kind !== 'tcp') throw new HaltServer(`the uws engine cannot serve ${b.text}`, WORKER_BOOT_ERROR);
  try {
    return { ...b, port: await bindOnce(b.host, b.port) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new HaltServer(bindFailure(err.code ?? '', formatBind(b), err.message), WORKER_BOOT_ERROR);
  }
}

/** The pid in `file` when it names a live process (Gunicorn's Pidfile.validate), else null. */
export function livePid(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError('pidfile', `Invalid value for pidfile: ${JSON.stringify(file)} (${(err as Error).message})`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null; // EPERM: alive, another user's
  }
}

/**
 * Write our pid to `file`, refusing when it names another live process. Gunicorn raises a
 * RuntimeError from Pidfile.create there, which gunicorn/app/base.py prints as `Error: ...` and
 * exits 1; the CLI does the same with this ConfigError. A stale file (dead pid) is replaced.
 */
export function createPidfile(file: string): void {
  const old = livePid(file);
  if (old !== null && old !== process.pid) {
    throw new ConfigError('pidfile', `Already running on PID ${old} (or pid file '${file}' is stale)`);
  }
  // Write a temporary file next to it and rename it over: a reader never sees a half-written pid.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${process.pid}\n`);
    renameSync(tmp, file);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* never written */ }
    const detail = (err as Error).message.replaceAll(tmp, file);
    throw new ConfigError('pidfile', `Invalid value for pidfile: ${JSON.stringify(file)} (${detail})`);
  }
}

/** Remove `file` only while it still holds our pid: never another server's. */
function removePidfile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch { /* already gone */ }
}
