// What the benches share about a server: its command line on qilin, starting it in a process group
// of its own, stopping that group, and what /proc says of its processes (CPU time, memory).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

function descendants(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  } catch {
    return [];
  }
}

// The shells and tools between the bench and a server (`enter` into the Debian 13 root): not the server.
const WRAPPERS = new Set(['sh', 'bash', 'taskset', 'unshare', 'chroot']);
/** The processes of the server started as `pid` that serve (the taskset wrapper execs, so it is the server). */
export function serverProcesses(pid: number): number[] {
  return [pid, ...descendants(pid)].filter((p) => {
    try {
      return !WRAPPERS.has(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

/** RSS in MiB of each process of the server. */
export function rssOf(pid: number): number[] {
  return serverProcesses(pid).flatMap((p) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      return m ? [Math.round(Number(m[1]) / 102.4) / 10] : [];
    } catch {
      return [];
    }
  });
}

/** Clock ticks of CPU time (user + system) of a process and its descendants. */
export function cpuTicks(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
      return sum + Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15
    } catch {
      return sum;
    }
  }, 0);
}
export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** Stop a server started as its own process group: TERM, half a second, then KILL what is left. */
export async function stopGroup(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  await new Promise((r) => setTimeout(r, 500));
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** The command that serves `app` on qilin (`qilin`: its bin script) at 127.0.0.1:`port`, warnings only. */
export function qilinArgv(
  node: string,
  qilin: string,
  port: number,
  app: string,
  workers = 1,
  extra: readonly string[] = [],
): string[] {
  return [node, qilin, '-b', `127.0.0.1:${port}`, '-w', String(workers), '--log-level', 'warning', ...extra, app];
}

/** Start a server as its own process group (stopGroup ends all of it), its stderr on the bench's. */
export function startServer(
  argv: readonly string[],
  port: number,
  env: Record<string, string> = {},
  cwd?: string,
): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
    env: { ...process.env, ...env, PORT: String(port) },
  });
}
