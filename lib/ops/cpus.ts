// How many CPUs this process may use, for `workers = auto`: the least of its CPU affinity, its
// cpuset and its cgroup's CPU quota (rounded up), each found where the kernel says it is.
//
// Node's availableParallelism() reads the affinity only: in a container limited to 2 CPUs by its
// cgroup quota on a 64-core host it says 64, and 64 workers would take turns on 2 CPUs' worth of
// time. The quota is read at every level of the process's cgroup path (a parent's limit binds its
// children too), in cgroup v2 (`cpu.max`) and v1 (`cpu.cfs_quota_us`/`cpu.cfs_period_us`), through
// the mount table so that hybrid hosts and cgroup namespaces resolve to the right directory.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CpuCount {
  /** CPUs to use: at least 1. */
  count: number;
  /** Where the number came from, for the log line. */
  source: string;
}

export interface CpuSources {
  /** CPUs in the affinity mask (os.availableParallelism()). */
  affinity: number;
  /** The `/proc/self/cgroup` text. */
  cgroup: string;
  /** The `/proc/self/mountinfo` text. */
  mountinfo: string;
  /** Reads a file, or null when it cannot be read. */
  read(file: string): string | null;
}

/** The live process's sources. */
export function liveCpuSources(): CpuSources {
  const read = (file: string): string | null => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  };
  return {
    affinity: os.availableParallelism(),
    cgroup: read('/proc/self/cgroup') ?? '',
    mountinfo: read('/proc/self/mountinfo') ?? '',
    read,
  };
}

interface Limit {
  cpus: number;
  what: string;
}

/** The CPUs this process may use, and why that many. */
export function usableCpus(src: CpuSources = liveCpuSources()): CpuCount {
  const mounts = cgroupMounts(src.mountinfo);
  const memberships = cgroupMemberships(src.cgroup);
  // Ties go to the most specific limit: in a container the quota is the reason, not the host's CPUs.
  const limits: Limit[] = [];
  const quota = cpuQuota(mounts, memberships, src.read);
  if (quota) limits.push(quota);
  const cpuset = cpusetSize(mounts, memberships, src.read);
  if (cpuset) limits.push(cpuset);
  limits.push({ cpus: src.affinity, what: `CPU affinity (${src.affinity})` });
  let least = limits[0]!;
  for (const l of limits) if (l.cpus < least.cpus) least = l;
  const others = limits.filter((l) => l !== least).map((l) => l.what);
  return {
    count: Math.max(1, least.cpus),
    source: others.length ? `${least.what}; other limits: ${others.join(', ')}` : least.what,
  };
}

interface Mount {
  /** The part of the hierarchy mounted there (`/` outside a namespace). */
  root: string;
  point: string;
  version: 1 | 2;
  /** v1: the controllers of this hierarchy. */
  controllers: Set<string>;
}

/** cgroup mounts from /proc/self/mountinfo. */
export function cgroupMounts(mountinfo: string): Mount[] {
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const fstype = right[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeMount(left[3] ?? '/');
    const point = unescapeMount(left[4] ?? '');
    const controllers = new Set((right[2] ?? '').split(','));
    out.push({ root, point, version: fstype === 'cgroup2' ? 2 : 1, controllers });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

interface Membership {
  /** v1 controllers of the line, or null for the v2 line (`0::/path`). */
  controllers: Set<string> | null;
  path: string;
}

/** Lines of /proc/self/cgroup: `ID:CONTROLLERS:PATH`. */
export function cgroupMemberships(text: string): Membership[] {
  const out: Membership[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ controllers: m[1] === '0' && m[2] === '' ? null : new Set(m[2]!.split(',')), path: m[3]! });
  }
  return out;
}

/** The directory of `cgroupPath` under `mount`, and of each of its ancestors still under the mount, deepest first. */
function directories(mount: Mount, cgroupPath: string): string[] {
  const rel = path.posix.relative(mount.root, cgroupPath);
  if (rel.startsWith('..')) return []; // outside what is mounted (another namespace's view)
  const dirs: string[] = [];
  let p = rel === '' ? '' : rel;
  for (;;) {
    dirs.push(path.join(mount.point, p));
    if (p === '' || p === '.') break;
    p = path.posix.dirname(p);
    if (p === '.') p = '';
  }
  return dirs;
}

/** The tightest CPU quota on the process's cgroup path (v2 first, then v1), rounded up. */
function cpuQuota(mounts: Mount[], memberships: Membership[], read: (f: string) => string | null): Limit | null {
  let best: { cpus: number; what: string } | null = null;
  const consider = (quota: number, period: number, file: string, raw: string) => {
    if (!(quota > 0) || !(period > 0)) return;
    const exact = quota / period;
    if (best === null || exact < best.cpus) {
      const up = Math.max(1, Math.ceil(exact));
      const rounded = up === exact ? '' : `, rounded up to ${up}`;
      best = { cpus: exact, what: `cgroup CPU quota (${raw} in ${file}: ${+exact.toFixed(2)} CPUs${rounded})` };
    }
  };
  const v2 = memberships.find((m) => m.controllers === null);
  if (v2) {
    for (const mount of mounts.filter((m) => m.version === 2)) {
      for (const dir of directories(mount, v2.path)) {
        const file = path.join(dir, 'cpu.max');
        const raw = read(file)?.trim();
        if (!raw) continue;
        const [q, p] = raw.split(/\s+/);
        if (q === 'max') continue;
        consider(Number(q), Number(p ?? 100000), file, raw);
      }
    }
  }
  const v1 = memberships.find((m) => m.controllers?.has('cpu'));
  if (v1) {
    for (const mount of mounts.filter((m) => m.version === 1 && m.controllers.has('cpu'))) {
      for (const dir of directories(mount, v1.path)) {
        const q = read(path.join(dir, 'cpu.cfs_quota_us'))?.trim();
        const p = read(path.join(dir, 'cpu.cfs_period_us'))?.trim();
        if (!q || !p || Number(q) < 0) continue;
        consider(Number(q), Number(p), path.join(dir, 'cpu.cfs_quota_us'), `${q}/${p}`);
      }
    }
  }
  if (best === null) return null;
  const found: { cpus: number; what: string } = best;
  return { cpus: Math.max(1, Math.ceil(found.cpus)), what: found.what };
}

/** The number of CPUs in the process's cpuset (`cpuset.cpus.effective`, v2 or v1). */
function cpusetSize(mounts: Mount[], memberships: Membership[], read: (f: string) => string | null): Limit | null {
  const candidates: string[] = [];
  const v2 = memberships.find((m) => m.controllers === null);
  if (v2)
    for (const mount of mounts.filter((m) => m.version === 2))
      candidates.push(
        ...directories(mount, v2.path)
          .slice(0, 1)
          .map((d) => path.join(d, 'cpuset.cpus.effective')),
      );
  const v1 = memberships.find((m) => m.controllers?.has('cpuset'));
  if (v1) {
    for (const mount of mounts.filter((m) => m.version === 1 && m.controllers.has('cpuset'))) {
      for (const d of directories(mount, v1.path).slice(0, 1))
        candidates.push(path.join(d, 'cpuset.effective_cpus'), path.join(d, 'cpuset.cpus'));
    }
  }
  for (const file of candidates) {
    const raw = read(file)?.trim();
    if (!raw) continue;
    const n = countCpuList(raw);
    if (n > 0) return { cpus: n, what: `cpuset (${raw} in ${file}: ${n})` };
  }
  return null;
}

/** CPUs in a kernel CPU list (`0-3,8,10-11`). */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return 0;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return 0;
    n += b - a + 1;
  }
  return n;
}
