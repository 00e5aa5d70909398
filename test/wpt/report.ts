// `npm run wpt`: the WPT table without tap. Runs plain Node and qilin (both engines) side by side on
// the vendored fetch/api tests, prints passed/total per directory and the tests undici passes and
// qilin fails, and writes test/.wpt.json. Needs a build (dist/bin/qilin.js).
import { describe, fileErrors, REPORT, runAll, table, writeReport } from './compare.js';

const teardowns: (() => void | Promise<void>)[] = [];
const started = Date.now();
try {
  const runs = await runAll({
    teardown: (fn) => {
      teardowns.push(fn);
    },
  });
  writeReport(runs);
  console.log(table(runs));
  const errors = fileErrors(runs);
  if (errors.length) console.log(`\nerrors no test caught:\n${errors.join('\n')}`);
  const text = describe(runs);
  console.log(text ? `\n${text}` : '\nqilin passes every test undici passes');
  console.log(`\n${REPORT} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
