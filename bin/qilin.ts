#!/usr/bin/env node
// qilin [OPTIONS] [APP_MODULE]
import process from 'node:process';
import { AppLoadError, loadApp } from '../lib/app.js';
import { Arbiter, VERSION } from '../lib/arbiter.js';
import { resolveConfig } from '../lib/config.js';
import { ConfigError, helpText } from '../lib/settings.js';

/** A setting that cannot be used: one line, exit 1 (Gunicorn's exit code for a config error). */
function configError(err: ConfigError): number {
  process.stderr.write(`Error: ${err.message}\n`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const cwd = process.cwd(); // before --chdir: a HUP re-reads the config file from here
  let resolved;
  try {
    resolved = await resolveConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) return configError(err);
    throw err;
  }
  const { settings, app, warnings } = resolved;
  if (resolved.help) { process.stdout.write(helpText()); return 0; }
  if (resolved.version) { process.stdout.write(`qilin (version ${VERSION})\n`); return 0; }
  const warnOnStderr = () => { for (const w of warnings) process.stderr.write(`Warning: ${w}\n`); };
  if (settings.print_config) {
    warnOnStderr();
    for (const [k, v] of Object.entries(settings)) process.stdout.write(`${k.padEnd(24)} = ${JSON.stringify(v)}\n`);
    return 0;
  }
  if (!app) {
    process.stderr.write('Error: No application module specified (qilin [OPTIONS] MODULE[:EXPORT]; see qilin --help).\n');
    return 1;
  }
  if (settings.chdir) {
    try { process.chdir(settings.chdir); } catch (err) {
      process.stderr.write(`Error: Invalid value for chdir: ${JSON.stringify(settings.chdir)} (${(err as Error).message})\n`);
      return 1;
    }
  }
  if (settings.check_config) {
    warnOnStderr();
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
  let arbiter: Arbiter;
  try {
    arbiter = new Arbiter({ settings, app, argv, cwd, warnings }); // opens the logs, writes the pid file
  } catch (err) {
    if (err instanceof ConfigError) return configError(err);
    throw err;
  }
  return arbiter.run();
}

process.exitCode = await main(process.argv.slice(2));
