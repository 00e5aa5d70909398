// The framework compatibility suite under tap: every framework × engine × request of
// test/frameworks/apps answers on qilin as on the framework's own server (or differs only as its
// manifest lists). `npm run compat` runs the same and prints the grid. Runs in `npm test` (CI installs
// test/frameworks: .ci/run).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { HERE, runAll } from './harness.js';

if (!existsSync(path.join(HERE, 'node_modules'))) {
  t.fail('test/frameworks/node_modules is missing: cd test/frameworks && npm ci');
} else {
  // Production builds (Next.js, Nuxt…) on a cold cache take minutes.
  t.setTimeout(30 * 60_000);
  // QILIN_COMPAT_ONLY=hono,express runs some of them (as npm run compat -- --only=… does).
  const only = process.env.QILIN_COMPAT_ONLY?.split(',').filter(Boolean);
  const run = await runAll({ ...(only?.length ? { only } : {}), log: (s) => t.comment(s) });
  writeFileSync(path.join(HERE, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  t.ok(run.frameworks.length > 0, 'apps found under test/frameworks/apps');
  for (const f of run.frameworks) {
    if (f.build?.ran) t.comment(`${f.name}: built in ${(f.build.ms / 1000).toFixed(1)} s`);
    for (const row of f.rows) {
      const label = `${f.name} (${row.engine})`;
      if (row.error) {
        t.fail(`${label}: ${row.error}`);
        continue;
      }
      for (const r of row.results) {
        const diffs = r.diffs.map((d) => ({
          field: d.field,
          own: d.own,
          qilin: d.qilin,
          ...(d.why ? { why: d.why } : {}),
        }));
        t.not(r.outcome, 'failed', `${label} ${r.name}: ${r.outcome}${r.framing ? ` (framing: ${r.framing})` : ''}`, {
          ...(r.error ? { error: r.error } : {}),
          ...(diffs.length ? { diffs } : {}),
        });
      }
    }
  }
}
