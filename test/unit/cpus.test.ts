// usableCpus (lib/ops/cpus.ts) on the /proc and /sys texts of the hosts qilin runs on: cgroup v2
// (Debian 12+, Ubuntu 24.04, Kubernetes nodes), cgroup v1 and hybrid hosts, a cgroup namespace (a
// container sees its own cgroup as `/`), and the live process itself.
import t from 'tap';
import { cgroupMemberships, cgroupMounts, countCpuList, usableCpus, type CpuSources } from '../../lib/ops/cpus.js';

const V2_MOUNT =
  '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const V1_MOUNTS =
  '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n' +
  '32 25 0:28 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset\n' +
  '33 25 0:29 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n';

function sources(affinity: number, cgroup: string, mountinfo: string, files: Record<string, string>): CpuSources {
  return { affinity, cgroup, mountinfo, read: (f) => files[f] ?? null };
}

t.test('cgroup v2: cpu.max quota, rounded up, and the level that binds', async (t) => {
  const cg = '0::/kubepods.slice/pod1.slice/cri-abc.scope\n';
  const base = '/sys/fs/cgroup/kubepods.slice/pod1.slice';
  let r = usableCpus(sources(64, cg, V2_MOUNT, { [`${base}/cri-abc.scope/cpu.max`]: '150000 100000\n' }));
  t.equal(r.count, 2, '1.5 CPUs round up to 2');
  t.match(r.source, /cgroup CPU quota \(150000 100000 in .*cri-abc\.scope\/cpu\.max: 1\.5 CPUs, rounded up to 2\)/);
  t.match(r.source, /CPU affinity \(64\)/, 'the other limits are named');

  r = usableCpus(
    sources(64, cg, V2_MOUNT, {
      [`${base}/cri-abc.scope/cpu.max`]: 'max 100000',
      [`${base}/cpu.max`]: '400000 100000',
    }),
  );
  t.equal(r.count, 4, "a parent's quota binds when the leaf has none");

  r = usableCpus(
    sources(64, cg, V2_MOUNT, {
      [`${base}/cri-abc.scope/cpu.max`]: '800000 100000',
      [`${base}/cpu.max`]: '200000 100000',
    }),
  );
  t.equal(r.count, 2, 'the tightest level wins');

  r = usableCpus(sources(64, cg, V2_MOUNT, { [`${base}/cri-abc.scope/cpu.max`]: '50000 100000' }));
  t.equal(r.count, 1, 'half a CPU is one worker, never zero');

  r = usableCpus(sources(3, cg, V2_MOUNT, { [`${base}/cri-abc.scope/cpu.max`]: '800000 100000' }));
  t.equal(r.count, 3, 'affinity below the quota wins');
  t.match(r.source, /^CPU affinity \(3\)/);

  r = usableCpus(sources(8, cg, V2_MOUNT, {}));
  t.equal(r.count, 8, 'no quota anywhere: the affinity');
  t.equal(r.source, 'CPU affinity (8)');
});

t.test('a cgroup namespace: the container sees its cgroup as / and the mount as its root', async (t) => {
  const r = usableCpus(sources(32, '0::/\n', V2_MOUNT, { '/sys/fs/cgroup/cpu.max': '200000 100000' }));
  t.equal(r.count, 2);
  // A bind mount of a sub-tree: the mount's root is that sub-tree.
  const mi = '40 30 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  const r2 = usableCpus(sources(32, '0::/kubepods/pod1/c1\n', mi, { '/sys/fs/cgroup/c1/cpu.max': '300000 100000' }));
  t.equal(r2.count, 3, "the path is taken relative to the mount's root");
  const r3 = usableCpus(sources(32, '0::/elsewhere/c1\n', mi, { '/sys/fs/cgroup/c1/cpu.max': '300000 100000' }));
  t.equal(r3.count, 32, 'a cgroup outside what is mounted is not read');
});

t.test('cgroup v1 and hybrid hosts: cfs quota and period, cpuset', async (t) => {
  const cg = '12:cpuset:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n';
  const r = usableCpus(
    sources(16, cg, V1_MOUNTS, {
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '250000\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
    }),
  );
  t.equal(r.count, 3, '2.5 CPUs round up to 3');
  t.match(r.source, /250000\/100000/);

  const unlimited = usableCpus(
    sources(16, cg, V1_MOUNTS, {
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '-1',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000',
    }),
  );
  t.equal(unlimited.count, 16, '-1 is no quota');

  const pinned = usableCpus(
    sources(16, cg, V1_MOUNTS, { '/sys/fs/cgroup/cpuset/docker/abc/cpuset.effective_cpus': '2-3\n' }),
  );
  t.equal(pinned.count, 2, 'a cpuset of two CPUs');
  t.match(pinned.source, /^cpuset \(2-3 in /);
});

t.test('parsers', async (t) => {
  t.equal(countCpuList('0-3,8,10-11'), 7);
  t.equal(countCpuList('5'), 1);
  t.equal(countCpuList('3-1'), 0, 'a reversed range is not a list');
  t.equal(countCpuList('x'), 0);
  const mounts = cgroupMounts(V1_MOUNTS + 'junk line\n' + '50 1 0:5 / /proc rw - proc proc rw\n');
  t.same(
    mounts.map((m) => [m.point, m.version, [...m.controllers].includes('cpu')]),
    [
      ['/sys/fs/cgroup/cpu,cpuacct', 1, true],
      ['/sys/fs/cgroup/cpuset', 1, false],
      ['/sys/fs/cgroup/unified', 2, false],
    ],
  );
  t.same(
    cgroupMounts('60 1 0:30 / /sys/fs/cgroup/with\\040space rw - cgroup2 cgroup2 rw\n')[0]?.point,
    '/sys/fs/cgroup/with space',
    'octal escapes',
  );
  const members = cgroupMemberships('4:cpu,cpuacct:/a\n0::/b\n1:name=systemd:/c\n');
  t.same(
    members.map((m) => [m.controllers ? [...m.controllers] : null, m.path]),
    [
      [['cpu', 'cpuacct'], '/a'],
      [null, '/b'],
      [['name=systemd'], '/c'],
    ],
  );
});

t.test('the live process: a count between 1 and the affinity, with its source', async (t) => {
  const r = usableCpus();
  t.ok(r.count >= 1);
  t.match(r.source, /CPU affinity/);
});

t.test('workers = auto: $WEB_CONCURRENCY when it holds a number, else the CPUs', async (t) => {
  const { autoWorkers, resolveConfig } = await import('../../lib/config/resolve.js');
  const { coerce, SETTINGS_BY_NAME, AUTO } = await import('../../lib/config/settings.js');
  const workers = SETTINGS_BY_NAME.get('workers')!;
  t.equal(coerce(workers, 'auto'), AUTO, '`auto` is taken by workers');
  t.equal(coerce(workers, ' AUTO '), AUTO, 'in any case');
  t.throws(
    () => coerce(SETTINGS_BY_NAME.get('backlog')!, 'auto'),
    /Invalid value for backlog: "auto" \(not an integer\)/,
    'and by no other setting',
  );
  t.throws(() => coerce(workers, 'many'), /Invalid value for workers: "many" \(not an integer, nor auto\)/);
  const cpus = () => ({ count: 6, source: 'CPU affinity (6)' });
  t.same(autoWorkers({ WEB_CONCURRENCY: '3' }, cpus), { count: 3, source: 'from $WEB_CONCURRENCY' });
  t.same(autoWorkers({}, cpus), { count: 6, source: 'CPU affinity (6)' });
  t.same(
    autoWorkers({ WEB_CONCURRENCY: 'auto' }, cpus),
    { count: 6, source: 'CPU affinity (6)' },
    'WEB_CONCURRENCY=auto is auto',
  );
  const resolved = await resolveConfig(['-w', 'auto', 'app.js'], { WEB_CONCURRENCY: '5' }, '/');
  t.equal(resolved.settings.workers, 5, '-w auto with $WEB_CONCURRENCY set');
  t.same(resolved.notes, ['workers = auto: 5 (from $WEB_CONCURRENCY)']);
  const fixed = await resolveConfig(['-w', '2', 'app.js'], { WEB_CONCURRENCY: '5' }, '/');
  t.equal(fixed.settings.workers, 2, 'a number on the command line still wins, as in Gunicorn');
  t.same(fixed.notes, []);
  const live = await resolveConfig(['-w', 'auto', 'app.js'], {}, '/');
  t.equal(live.settings.workers, usableCpus().count, 'without $WEB_CONCURRENCY: the CPUs this process may use');
  t.match(live.notes[0], /^workers = auto: \d+ \(.*CPU affinity/);
});
