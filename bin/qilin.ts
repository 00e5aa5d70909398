#!/usr/bin/env node
// qilin [OPTIONS] [APP_MODULE]
// qilin ctl [--socket PATH] status|reload|scale N|stop [--json]
import process from 'node:process';
import { AppLoadError, appDirectory, loadApp } from '../lib/app/load.js';
import { Arbiter } from '../lib/arbiter/arbiter.js';
import { livePid } from '../lib/arbiter/pidfile.js';
import { VERSION } from '../lib/version.js';
import { resolveConfig } from '../lib/config/resolve.js';
import { parseBind } from '../lib/config/binds.js';
import { daemonize, enterDaemon } from '../lib/ops/daemon.js';
import { chooseEngine, engineReport } from '../lib/engines/index.js';
import { Logger } from '../lib/ops/log.js';
import { cannotSwitch, ownerWarning } from '../lib/ops/privileges.js';
import { checkTls } from '../lib/ops/tls.js';
import { ConfigError, helpText, type Settings } from '../lib/config/settings.js';

/** A setting that cannot be used: one line, exit 1 (Gunicorn's exit code for a config error). */
function configError(err: ConfigError): number {
  process.stderr.write(`Error: ${err.message}\n`);
  return 1;
}

/**
 * For --help, --version and --print-config: a reader that leaves early (`qilin --print-config |
 * head -1`) ends the output quietly; the rest goes nowhere and qilin exits 0, as other command-line
 * tools do. Only there: a server's log on a closed stdout is another matter.
 */
function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/**
 * -D: what would stop the arbiter as it starts is said on the terminal, before detaching: a pid
 * file another live server holds, a log file that cannot be opened, an engine that cannot serve.
 */
function checkBeforeDetaching(settings: Settings, app: string): void {
  const running = settings.pidfile ? livePid(settings.pidfile) : null;
  if (running !== null) {
    throw new ConfigError('pidfile', `Already running on PID ${running} (or pid file '${settings.pidfile}' is stale)`);
  }
  new Logger(settings).close();
  chooseEngine(settings, settings.bind.map(parseBind), false, appDirectory(app)); // systemd's sockets never reach a daemon
  checkTls(settings);
}

async function main(argv: string[]): Promise<number> {
  // An app module named ctl is written ./ctl. The client is loaded only for it (not in every arbiter).
  if (argv[0] === 'ctl') return (await import('../lib/ctl/ctl.js')).runCtl(argv.slice(1));
  const inDaemon = enterDaemon(); // the background copy -D started
  const cwd = process.cwd(); // before --chdir: a HUP re-reads the config file from here
  let resolved;
  try {
    resolved = await resolveConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) return configError(err);
    throw err;
  }
  const { settings, app, warnings } = resolved;
  if (resolved.help || resolved.version || settings.print_config) quietOnClosedStdout();
  if (resolved.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (resolved.version) {
    const report = engineReport(app ? appDirectory(app) : process.cwd());
    process.stdout.write(`qilin (version ${VERSION})\n${report.join('\n')}\n`);
    return 0;
  }
  const warnOnStderr = () => {
    for (const w of warnings) process.stderr.write(`Warning: ${w}\n`);
  };
  if (settings.print_config) {
    warnOnStderr();
    for (const [k, v] of Object.entries(settings)) process.stdout.write(`${k.padEnd(24)} = ${JSON.stringify(v)}\n`);
    return 0;
  }
  if (!app) {
    process.stderr.write(
      'Error: No application module specified (qilin [OPTIONS] MODULE[:EXPORT]; see qilin --help).\n',
    );
    return 1;
  }
  if (settings.chdir) {
    try {
      process.chdir(settings.chdir);
    } catch (err) {
      process.stderr.write(
        `Error: Invalid value for chdir: ${JSON.stringify(settings.chdir)} (${(err as Error).message})\n`,
      );
      return 1;
    }
  }
  if (settings.check_config) {
    warnOnStderr();
    try {
      checkTls(settings);
    } catch (err) {
      if (err instanceof ConfigError) return configError(err);
      throw err;
    }
    try {
      // Loads and recognises the app; a factory is called, a framework is not started.
      await loadApp(app, { appInterface: settings.app_interface });
      return 0;
    } catch (err) {
      const msg = err instanceof AppLoadError ? err.message : String(err);
      process.stderr.write(`\nError while loading the application:\n\n${msg}\n`);
      return 1;
    }
  }
  const cannot = cannotSwitch(settings);
  if (cannot) {
    process.stderr.write(`Error: ${cannot}\n`);
    return 1;
  }
  const ownerNote = ownerWarning(settings);
  if (ownerNote) warnings.push(ownerNote);
  // A new arbiter that USR2 started is in the background already (Gunicorn checks GUNICORN_FD).
  if (settings.daemon && !inDaemon && process.env.QILIN_PID === undefined) {
    if (process.env.NOTIFY_SOCKET) {
      process.stderr.write(
        "Warning: you shouldn't specify `daemon` (-D) when launching by systemd with `Type=notify`\n",
      );
    }
    try {
      checkBeforeDetaching(settings, app);
    } catch (err) {
      if (err instanceof ConfigError) return configError(err);
      throw err;
    }
    return daemonize({ argv, cwd, settings });
  }
  let arbiter: Arbiter;
  try {
    arbiter = new Arbiter({ settings, app, argv, cwd, warnings, notes: resolved.notes, hooks: resolved.hooks }); // opens the logs, writes the pid file
  } catch (err) {
    if (err instanceof ConfigError) return configError(err);
    throw err;
  }
  return arbiter.run();
}

process.exitCode = await main(process.argv.slice(2));
