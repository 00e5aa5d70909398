// The arbiter's pid file (`pidfile`), as Gunicorn's pidfile.py: written at start (refused while it
// names another live process), replaced by another on a HUP that names one, renamed around USR2
// (`.oldbin` for the old arbiter, `.2` for the new one until it is promoted), removed at exit, and
// never removed while it holds another process's pid.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/settings.js';

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
    try {
      unlinkSync(tmp);
    } catch {
      /* never written */
    }
    const detail = (err as Error).message.replaceAll(tmp, file);
    throw new ConfigError('pidfile', `Invalid value for pidfile: ${JSON.stringify(file)} (${detail})`);
  }
}

/** Remove `file` only while it still holds our pid: never another server's. */
function removePidfile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** The pid file this arbiter holds now (null: none). */
export class Pidfile {
  private constructor(private current: string | null) {}

  /** Write `file` (when set): a ConfigError naming the setting when it cannot be used. */
  static create(file: string | null): Pidfile {
    if (file) createPidfile(file);
    return new Pidfile(file);
  }

  get path(): string | null {
    return this.current;
  }

  /** A HUP that names another pid file writes the new one, then removes ours (as Gunicorn). */
  switchTo(next: string | null): void {
    if (next === this.current) return;
    if (next) createPidfile(next);
    if (this.current) removePidfile(this.current);
    this.current = next;
  }

  /** Move ours to `file` (USR2's `.oldbin`, a promotion's name); throws when it cannot. */
  rename(file: string): void {
    if (!this.current) return;
    renameSync(this.current, file);
    this.current = file;
  }

  remove(): void {
    if (this.current) removePidfile(this.current);
  }
}
