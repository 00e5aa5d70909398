// workers = auto on a real machine: the CPUs the arbiter may use, through its CPU affinity (taskset)
// and through a CPU quota of a cgroup made for the test (root, cgroup v2 with the cpu controller, or
// v1's cpu hierarchy), and $WEB_CONCURRENCY winning over both. Each start is checked by its log line
// and by the number of workers that booted.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { fixture, freePort, QILIN, Qilin, sleep } from '../helpers.js';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Start `PREFIX... node qilin -w auto …` and wait for the first worker; stop it at teardown. */
async function startAuto(t: Teardown, prefix: string[], env: NodeJS.ProcessEnv = {}): Promise<Qilin> {
  const port = await freePort();
  const cmd = [
    ...prefix,
    process.execPath,
    QILIN,
    '--log-level',
    'debug',
    '--engine',
    'node',
    '-w',
    'auto',
    '-b',
    `127.0.0.1:${port}`,
    fixture('app.ts'),
  ];
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  const q = new Qilin(proc, port);
  t.teardown(async () => {
    q.signal('SIGQUIT');
    const hard = setTimeout(() => q.kill(), 3000);
    await q.exited;
    clearTimeout(hard);
    q.kill();
  });
  await q.waitFor(/workers = auto: \d+/);
  const n = Number(/workers = auto: (\d+)/.exec(q.output)![1]);
  await q.waitFor(/Worker \(pid:\d+\) ready/, { count: n });
  await sleep(300); // a worker too many would be booting by now
  return q;
}

const booted = (q: Qilin) => q.output.match(/Booting worker with pid/g)?.length ?? 0;

t.test(
  'CPU affinity: taskset -c 0 gives one worker, and the log says why',
  { skip: hasTaskset ? false : 'no taskset' },
  async (t) => {
    const q = await startAuto(t, ['taskset', '-c', '0']);
    t.match(q.output, /\[INFO\] workers = auto: 1 \(CPU affinity \(1\)/);
    t.equal(booted(q), 1, 'one worker booted');
  },
);

t.test('$WEB_CONCURRENCY wins over the CPUs', { skip: hasTaskset ? false : 'no taskset' }, async (t) => {
  const q = await startAuto(t, ['taskset', '-c', '0'], { WEB_CONCURRENCY: '3' });
  t.match(q.output, /workers = auto: 3 \(from \$WEB_CONCURRENCY\)/);
  t.equal(booted(q), 3);
});

/** A cgroup of our own with the cpu controller: v2 where it is enabled, else v1's cpu hierarchy; null when neither can be made. */
function makeCgroup(): { dir: string; setQuota(quota: number, period: number): void; remove(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const name = `qilin-test-${process.pid}`;
  const v2 = '/sys/fs/cgroup';
  try {
    if (readFileSync(path.join(v2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('cpu')) {
      const dir = path.join(v2, name);
      mkdirSync(dir);
      return {
        dir,
        setQuota: (q, p) => writeFileSync(path.join(dir, 'cpu.max'), `${q} ${p}`),
        remove: () => rmdirSync(dir),
      };
    }
  } catch {
    /* no cgroup v2 at /sys/fs/cgroup, or no cpu controller in it */
  }
  for (const v1 of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    if (!existsSync(path.join(v1, 'cpu.cfs_quota_us'))) continue;
    try {
      const dir = path.join(v1, name);
      mkdirSync(dir);
      return {
        dir,
        setQuota: (q, p) => {
          writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(p));
          writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(q));
        },
        remove: () => rmdirSync(dir),
      };
    } catch {
      /* read-only, or not allowed */
    }
  }
  return null;
}

t.test('a cgroup CPU quota: half a CPU gives one worker, with the quota named', async (t) => {
  const cg = makeCgroup();
  if (!cg) {
    t.pass('no cgroup with the cpu controller can be made here (needs root and a writable cgroup fs): not checked');
    return;
  }
  t.teardown(async () => {
    // The cgroup can go once its processes have: the arbiter's teardown (registered later) runs first.
    for (let i = 0; i < 50; i++) {
      try {
        cg.remove();
        return;
      } catch {
        await sleep(100);
      }
    }
  });
  cg.setQuota(50000, 100000);
  // The shell joins the cgroup, then becomes qilin: the arbiter and its workers are all in it.
  const q = await startAuto(t, ['sh', '-c', `echo $$ > ${cg.dir}/cgroup.procs && exec "$@"`, 'sh']);
  t.match(
    q.output,
    /workers = auto: 1 \(cgroup CPU quota \((50000 100000|50000\/100000) in .*qilin-test-\d+.*: 0\.5 CPUs, rounded up to 1\)/,
  );
  t.equal(booted(q), 1);
});
