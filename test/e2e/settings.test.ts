// The settings table, `qilin --help`, the argument parser and the docs (docs/settings.md) agree.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseArgs } from '../../lib/config/resolve.js';
import { SETTINGS, helpText, markdownTable } from '../../lib/config/settings.js';
import { ROOT, runQilin } from '../helpers.js';

t.test('--help is generated from the settings table', async (t) => {
  const r = await runQilin(['--help']);
  t.equal(r.code, 0);
  t.equal(r.output, helpText(), 'qilin --help prints the generated text');
  for (const def of SETTINGS) {
    for (const flag of def.flags) t.match(r.output, flag, `--help lists ${flag}`);
    t.match(r.output, `[${def.name};`, `--help names ${def.name}`);
  }
});

t.test('docs/settings.md holds the generated settings table', async (t) => {
  const page = readFileSync(`${ROOT}/docs/settings.md`, 'utf8');
  const section = page.split('<!-- settings:start -->\n')[1]?.split('\n<!-- settings:end -->')[0];
  t.equal(section, markdownTable(), 'docs/settings.md settings table is current (npm run docs)');
});

t.test('docs/operations.md documents every signal', async (t) => {
  const page = readFileSync(`${ROOT}/docs/operations.md`, 'utf8');
  for (const sig of ['TERM', 'INT', 'QUIT', 'HUP', 'TTIN', 'TTOU', 'USR1', 'USR2', 'WINCH']) {
    t.match(page, new RegExp(`\\| \`[^|]*${sig}`), `docs/operations.md documents ${sig}`);
  }
});

t.test('every flag in the table parses to its setting', async (t) => {
  for (const def of SETTINGS) {
    for (const flag of def.flags) {
      const value =
        def.type === 'int' || def.type === 'float'
          ? String(Math.max(def.min ?? 0, Math.min(7, def.max ?? 7)))
          : def.type === 'choice'
            ? def.choices![0]!
            : def.name === 'bind'
              ? '127.0.0.1:1'
              : 'A=b';
      const args = def.type === 'bool' ? [flag] : [flag, value];
      const parsed = parseArgs(args);
      t.ok(parsed.values.has(def.name as never), `${flag} sets ${def.name}`);
    }
  }
});

t.test('qilin --version and -v: the package version, as Gunicorn prints its own', async (t) => {
  const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await runQilin([flag]);
    t.equal(r.code, 0, `${flag} exits 0`);
    // Then the platform and the uWebSockets.js builds (engine choice): the first line is Gunicorn's.
    t.equal(r.output.split('\n')[0], `qilin (version ${version})`, `${flag} prints the version of package.json first`);
  }
});
