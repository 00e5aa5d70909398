// `user`, `group`, `initgroups`: who the workers run as. The arbiter keeps its own user (it holds the
// sockets, the pid file and the logs); each worker switches before it loads the app, as Gunicorn's
// workers do, so the app's code never runs as root.
//
// Node has no getpwnam(3) for a lookup ahead of time: names are read from /etc/passwd and
// /etc/group, then asked of `getent` (NSS: LDAP, sssd, ...), so that a missing user is a config
// error before any worker is forked.
import { spawnSync } from 'node:child_process';
import { fchownSync, readFileSync } from 'node:fs';
import { ConfigError, type Settings } from '../config/settings.js';

type OwnerSettings = Pick<Settings, 'user' | 'group'>;

/** Who the workers run as. */
export interface WorkerOwner {
  uid: number;
  gid: number;
  /** The user's name, for initgroups(3); null for a numeric id with no passwd entry. */
  userName: string | null;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** A line of a colon-separated database whose first or third field matches `key`. */
function findEntry(database: 'passwd' | 'group', key: string): string[] | null {
  const byId = /^\d+$/.test(key);
  try {
    for (const line of readFileSync(`/etc/${database}`, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && (byId ? f[2] === key : f[0] === key)) return f;
    }
  } catch {
    /* no such file: ask getent */
  }
  const r = spawnSync('getent', [database, key], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || !r.stdout) return null;
  const f = r.stdout.split('\n')[0]!.split(':');
  return f.length >= 3 ? f : null;
}

function passwdEntry(key: string): PasswdEntry | null {
  const f = findEntry('passwd', key);
  return f ? { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) } : null;
}

const isId = (v: string) => /^\d+$/.test(v);

/** A user name or id as a uid; ConfigError (Gunicorn's "No such user") when there is none. */
export function resolveUser(value: string): number {
  if (isId(value)) return Number(value); // as Gunicorn: any id, with or without a passwd entry
  const e = passwdEntry(value);
  if (!e) throw new ConfigError('user', `Invalid value for user: ${JSON.stringify(value)} (No such user: '${value}')`);
  return e.uid;
}

/** A group name or id as a gid; ConfigError (Gunicorn's "No such group") when there is none. */
export function resolveGroup(value: string): number {
  if (isId(value)) return Number(value);
  const f = findEntry('group', value);
  if (!f)
    throw new ConfigError('group', `Invalid value for group: ${JSON.stringify(value)} (No such group: '${value}')`);
  return Number(f[2]);
}

const owners = new Map<string, WorkerOwner | null>();

/**
 * Who the workers run as when `user` or `group` is set; null when they run as the arbiter does.
 * An unset `group` is the arbiter's group (Gunicorn's default, os.getegid()), not the user's.
 * Cached: the arbiter, its log files and each worker ask with the same settings.
 */
export function workerOwner(s: OwnerSettings): WorkerOwner | null {
  if (s.user === null && s.group === null) return null;
  const key = `${s.user}\0${s.group}`;
  if (owners.has(key)) return owners.get(key)!;
  const uid = s.user === null ? process.geteuid!() : resolveUser(s.user);
  const gid = s.group === null ? process.getegid!() : resolveGroup(s.group);
  const userName = s.user !== null && !isId(s.user) ? s.user : (passwdEntry(String(uid))?.name ?? null);
  const owner = { uid, gid, userName };
  owners.set(key, owner);
  return owner;
}

/** Nothing changes for the workers: no user or group, or the arbiter's own. */
export function sameAsArbiter(owner: WorkerOwner | null): boolean {
  return owner === null || (owner.uid === process.geteuid!() && owner.gid === process.getegid!());
}

/** Who a unix socket the arbiter creates belongs to: the workers' user and group (null: the arbiter's). */
export function socketOwner(s: OwnerSettings): { uid: number; gid: number } | null {
  const owner = workerOwner(s);
  return sameAsArbiter(owner) ? null : owner;
}

/**
 * Only root may start workers as someone else. Gunicorn finds out when it chowns the worker's
 * temporary file to the user (PermissionError: Operation not permitted, before any worker runs);
 * qilin says so before it starts. Returns the one line to print, or null when it may.
 */
export function cannotSwitch(s: OwnerSettings): string | null {
  const owner = workerOwner(s);
  if (sameAsArbiter(owner) || process.geteuid!() === 0) return null;
  const who = s.user !== null ? `user ${s.user} (uid ${owner!.uid})` : `group ${s.group} (gid ${owner!.gid})`;
  return `Operation not permitted: workers can run as ${who} only when qilin is started as root`;
}

/**
 * A warning worth logging at start: workers as a user of their own but still in the root group
 * (`user` without `group`, started as root), which can read what root's group can.
 */
export function ownerWarning(s: OwnerSettings): string | null {
  const owner = workerOwner(s);
  if (!owner || owner.uid === 0 || owner.gid !== 0) return null;
  return `Workers run as user ${s.user} in group root (gid 0): set \`group\` (-g) to a group of their own`;
}

/** Give a log file the workers' owner, so that they can reopen it after USR1 (as Gunicorn does). */
export function chownForWorkers(fd: number, s: OwnerSettings): void {
  if (s.user === null && s.group === null) return;
  try {
    const owner = workerOwner(s);
    if (owner && !sameAsArbiter(owner)) fchownSync(fd, owner.uid, owner.gid);
  } catch {
    /* not ours to give (not root, /dev/null): the workers still write through the open file */
  }
}

/** The lowest port an unprivileged process may bind (Linux: net.ipv4.ip_unprivileged_port_start). */
function unprivilegedPortStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}

/** process.initgroups (Node has it on POSIX; @types/node does not declare it). */
const initgroups = (user: string, extraGroup: number): void =>
  (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(user, extraGroup);

interface WorkerUserSpec {
  settings: Pick<Settings, 'user' | 'group' | 'initgroups'>;
  engine?: string;
  binds?: readonly { kind: string; port?: number; text: string }[];
}

/**
 * In a worker, before the app is loaded: become `user` and `group`. The order matters: the
 * supplementary groups and the group need root, which setuid gives up for good. Throws an Error
 * whose message is the line to log (the worker then exits with WORKER_BOOT_ERROR).
 */
export function becomeWorkerUser(spec: WorkerUserSpec): void {
  const { settings } = spec;
  const owner = workerOwner(settings);
  if (sameAsArbiter(owner)) return;
  const { uid, gid, userName } = owner!;
  if (spec.engine === 'uws' && uid !== 0) {
    // uws workers open their own SO_REUSEPORT listeners after this switch, without root's privilege.
    const lowest = unprivilegedPortStart();
    const low = spec.binds?.find((b) => b.kind === 'tcp' && b.port !== undefined && b.port > 0 && b.port < lowest);
    if (low) {
      throw new Error(
        `Permission denied: ${low.text} (uws workers listen themselves, as user ${settings.user ?? uid}, and ports below ${lowest} need root: use --engine node, whose sockets the arbiter binds)`,
      );
    }
  }
  try {
    if (process.geteuid!() === 0) {
      if (settings.initgroups && userName !== null) initgroups(userName, gid);
      else process.setgroups!([gid]); // root's own supplementary groups must not stay with the worker
    }
    if (gid !== process.getgid!()) process.setgid!(gid);
    if (uid !== process.getuid!()) process.setuid!(uid);
  } catch (err) {
    const who = settings.user !== null ? `user ${settings.user}` : `group ${settings.group}`;
    throw new Error(`Can't switch the worker to ${who}: ${(err as Error).message}`, { cause: err });
  }
  if (uid !== 0) {
    // Switching back must now fail: otherwise the worker could still become root.
    let regained = false;
    try {
      process.setuid!(0);
      regained = true;
    } catch {
      /* as it should be */
    }
    if (regained) throw new Error(`Can't switch the worker to user ${settings.user}: root could be regained`);
  }
}
