// The web-platform-tests for the Fetch API's classes (fetch/api/{request,response,headers,body}),
// run inside real qilin workers on both engines, against the same files under plain Node (undici's
// classes): qilin's light Response and request must pass every test the platform's classes pass.
// The table (directory × undici / qilin uws / qilin node) goes to the output and test/.wpt.json.
import t from 'tap';
import { ENGINES, fixture, request, startQilin } from '../helpers.js';
import {
  describe,
  compare,
  count,
  regressions,
  show,
  fileErrors,
  runAll,
  table,
  writeReport,
  type Column,
} from '../wpt/compare.js';
import { DIRECTORIES, type FileResult } from '../wpt/runner.mjs';

t.test('WPT fetch/api: qilin passes what undici passes', async (t) => {
  const runs = await runAll(t);
  writeReport(runs);
  t.comment(`\n${table(runs)}`);
  const errors = fileErrors(runs);
  if (errors.length) t.comment(`errors no test caught:\n${errors.join('\n')}`);
  const text = describe(runs);
  if (text) t.comment(`\n${text}`);

  // The baseline must look like undici's own WPT run, or the comparison means nothing.
  for (const dir of DIRECTORIES) t.ok(count(runs.undici[dir]!).total > 0, `undici ran ${dir}`);

  const diff = compare(runs);
  for (const e of ENGINES) {
    const col: Column = `qilin ${e}`;
    for (const dir of DIRECTORIES) {
      const u = count(runs.undici[dir]!);
      const q = count(runs[col][dir]!);
      t.ok(q.passed >= u.passed, `${dir}, ${col}: ${q.passed}/${q.total} passed, undici ${u.passed}/${u.total}`);
      const d = diff[col]![dir]!;
      const names = regressions(d);
      // The names, one per line in the failure's diagnostics (a TAP test name holds no newline).
      const listed = {
        ...(d.failed.length ? { failed: d.failed.map(show) } : {}),
        ...(d.missing.length
          ? { notRunUnderThisName: d.missing.map(show), runByQilinOnly: d.onlyInQilin.map(show) }
          : {}),
      };
      t.same(names, [], `${dir}, ${col}: ${names.length} tests undici passes and qilin does not`, listed);
    }
  }
});

// Files run one after another in one worker: each run must see its own harness and its own tests only.
t.test('runs of several files in one worker do not leak into each other', async (t) => {
  const q = await startQilin(t, ['-w', '1', '--worker-connections', '50', fixture('wpt-app.mjs')], { engine: 'node' });
  const run = async (file: string) =>
    JSON.parse((await request(`${q.url}/wpt/run?file=${encodeURIComponent(file)}`)).body) as FileResult;
  const a1 = await run('request/request-init-contenttype.any.js');
  const b = await run('response/response-init-contenttype.any.js'); // both declare a top-level const OVERRIDE_MIME
  const a2 = await run('request/request-init-contenttype.any.js');
  t.ok(a1.results.length > 0 && b.results.length > 0, 'both files ran tests');
  t.same(a2.results, a1.results, 'the same file gives the same results the second time');
  const names = new Set(a1.results.map((r) => r.name));
  t.same(
    b.results.filter((r) => names.has(r.name)),
    [],
    'no result of one file shows up in the next',
  );
  t.same([a1.errors, b.errors, a2.errors], [[], [], []], 'no file failed to load');
  const dir = JSON.parse((await request(`${q.url}/wpt/run?dir=body`)).body) as FileResult[];
  t.same(
    dir.map((f) => f.file),
    ['body/formdata.any.js', 'body/mime-type.any.js'],
    'a directory runs file by file',
  );
});
