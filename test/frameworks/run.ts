// npm run compat [-- --only=hono,express]: runs the suite, prints the grid, writes
// test/frameworks/results.json and (on a full run) docs/frameworks-grid.md. Exits 1 when a row fails.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { HERE, ROOT, markdownReport, runAll, textReport } from './harness.js';

const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .filter(Boolean);
const run = await runAll({ ...(only ? { only } : {}), log: (s) => console.log(s) });
console.log(`\n${textReport(run)}`);
writeFileSync(path.join(HERE, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
// A partial run would drop the other frameworks' rows from the committed grid.
if (!only) writeFileSync(path.join(ROOT, 'docs/frameworks-grid.md'), markdownReport(run));
process.exitCode = run.ok ? 0 : 1;
