// The static checks as part of `npm test`, so that CI's count shows a lint failure: ESLint over the
// repository (eslint.config.js), prettier's check (.prettierrc.json, .prettierignore) and the import
// checker of the shipped code (scripts/check-imports.ts). Each failure lists every offending file with
// its rule. No build and no process needed; ESLint's type-aware rules take most of its time.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import t, { type Test } from 'tap';
import { checkImports } from '../../scripts/check-imports.js';

// About 40 s of one core here (ESLint's type-aware pass is most of it), more beside the e2e tests.
t.setTimeout(300_000);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');

/** One assertion for a whole check: each offending line as a comment above it, unwrapped, then the count. */
function expectNone(t: Test, lines: string[], what: string, remedy: string): void {
  for (const line of lines) t.comment(line.replace(/\s*\n\s*/g, ' '));
  t.equal(lines.length, 0, lines.length === 0 ? `no ${what}` : `${what}: ${lines.length}, listed above; ${remedy}`);
}

/**
 * Rules that are not typed `layout` but fight a formatter all the same (as eslint-config-prettier
 * lists them). no-unexpected-multiline stays on: with semicolons, prettier never writes what it flags.
 */
const FIGHTS_PRETTIER = new Set([
  'curly',
  'lines-around-comment',
  'no-confusing-arrow',
  'no-extra-semi',
  'no-floating-decimal',
  'no-mixed-operators',
  'no-tabs',
]);

t.test('eslint: no findings', async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  const results = await eslint.lintFiles(['.']);
  t.ok(results.length > 100, `eslint linted ${results.length} files`);
  const findings = results.flatMap((r) =>
    r.messages.map((m) => `${rel(r.filePath)}:${m.line}:${m.column} ${m.ruleId ?? 'parse error'}: ${m.message}`),
  );
  expectNone(t, findings, 'eslint findings', '`npx eslint .` shows them, `npx eslint --fix .` mends some');
});

t.test('eslint: no rule about layout, which belongs to prettier', async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  // One file of each kind the config tells apart.
  const samples = [
    'lib/index.ts',
    'test/unit/check-imports.test.ts',
    'bench/run.ts',
    'test/run.mjs',
    'bench/apps/express.cjs',
  ];
  const fighting: string[] = [];
  for (const file of samples) {
    const config = (await eslint.calculateConfigForFile(file)) as {
      rules: Record<string, unknown>;
      plugins: Record<string, { rules?: Record<string, { meta?: { type?: string } }> }>;
    };
    for (const [name, setting] of Object.entries(config.rules)) {
      const severity = Array.isArray(setting) ? (setting[0] as unknown) : setting;
      if (severity === 0 || severity === 'off') continue;
      const slash = name.lastIndexOf('/');
      const plugin = slash < 0 ? '@' : name.slice(0, slash);
      const type = config.plugins[plugin]?.rules?.[name.slice(slash + 1)]?.meta?.type;
      if (type === 'layout' || FIGHTS_PRETTIER.has(name)) fighting.push(`${file}: ${name}`);
    }
  }
  expectNone(t, fighting, 'rules that fight prettier', 'turn them off in eslint.config.js');
});

/** Every file `prettier --check .` looks at: not ignored (.gitignore, .prettierignore), of a language it knows. */
async function formattable(): Promise<string[]> {
  const options = { ignorePath: [path.join(ROOT, '.gitignore'), path.join(ROOT, '.prettierignore')] };
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === '.git' || entry.name === 'node_modules') continue;
        // A directory ignored as a whole (`dir/`) is not walked: its files are ignored too.
        if ((await prettier.getFileInfo(path.join(full, 'probe.js'), options)).ignored) continue;
        await walk(full);
      } else if (entry.isFile()) {
        const info = await prettier.getFileInfo(full, options);
        if (!info.ignored && info.inferredParser !== null) files.push(full);
      }
    }
  };
  await walk(ROOT);
  return files.sort();
}

t.test('prettier: every file formatted', async (t) => {
  const files = await formattable();
  t.ok(files.length > 100, `prettier checked ${files.length} files`);
  const unformatted: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // gone since the walk: a file another test wrote for a moment
    }
    const config = await prettier.resolveConfig(file, { editorconfig: true });
    if (!(await prettier.check(text, { ...config, filepath: file }))) unformatted.push(rel(file));
  }
  expectNone(t, unformatted, 'files not as prettier writes them', '`npm run format` rewrites them');
});

t.test('imports of the shipped code: no cycle, every layer within its table', async (t) => {
  const { problems, summary } = checkImports(ROOT);
  t.comment(summary);
  expectNone(
    t,
    problems.map((p) => `${p.kind}: ${p.message}`),
    'import problems',
    'the layer table is at the top of scripts/check-imports.ts',
  );
});
