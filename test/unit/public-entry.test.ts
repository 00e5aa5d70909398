// The public entry (lib/index.ts: `upgradeWebSocket`, `defineConfig`, `VERSION`) is what apps and
// config files import, so every worker loads what it loads: it must reach no code of the arbiter or
// of `qilin ctl` (and `qilin ctl` none of the arbiter's). Walks the static imports that survive compilation (an `import type`, or a name
// used only as a type, is erased as tsc erases it) through the source tree; no build, no process.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (file: string) => path.relative(ROOT, file);

/** The relative modules `file` imports at run time, resolved to their .ts sources. */
function runtimeImports(file: string): string[] {
  // Compiled as tsc compiles it, so that what tsc erases (type-only imports) is not followed.
  const js = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  }).outputText;
  const out: string[] = [];
  for (const node of ts.createSourceFile(file, js, ts.ScriptTarget.ES2022).statements) {
    if (!ts.isImportDeclaration(node) && !ts.isExportDeclaration(node)) continue;
    const spec = node.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue; // node:*, packages
    out.push(path.resolve(path.dirname(file), spec.text).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Every source file reached from `entry`, each with the chain of imports that reaches it. */
function reach(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [rel(entry)]]]);
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const next of runtimeImports(file)) {
      if (seen.has(next)) continue;
      seen.set(next, [...seen.get(file)!, rel(next)]);
      queue.push(next);
    }
  }
  return seen;
}

const FORBIDDEN = ['lib/arbiter/', 'lib/ctl/'];
const forbidden = (graph: Map<string, string[]>) =>
  [...graph]
    .filter(([file]) => FORBIDDEN.some((dir) => rel(file).startsWith(dir)))
    .map(([, chain]) => chain.join(' → '));

t.test('lib/index.ts loads no arbiter or ctl code', async (t) => {
  const graph = reach(path.join(ROOT, 'lib/index.ts'));
  t.ok(graph.has(path.join(ROOT, 'lib/version.ts')), 'the walk follows re-exports (VERSION)');
  t.ok(graph.has(path.join(ROOT, 'lib/http/websocket.ts')), 'the walk follows re-exports (upgradeWebSocket)');
  t.same(forbidden(graph), [], 'no lib/arbiter/ or lib/ctl/ module is reached');
});

t.test('qilin ctl loads no arbiter code: the protocol is lib/ctl/protocol.ts', async (t) => {
  const graph = reach(path.join(ROOT, 'lib/ctl/ctl.ts'));
  t.ok(graph.has(path.join(ROOT, 'lib/ctl/protocol.ts')));
  t.same(
    [...graph.keys()].map(rel).filter((f) => f.startsWith('lib/arbiter/')),
    [],
  );
});

t.test('the walk sees what the CLI loads (the check can fail)', async (t) => {
  const graph = reach(path.join(ROOT, 'bin/qilin.ts'));
  t.ok(
    forbidden(graph).some((chain) => chain.endsWith('lib/arbiter/arbiter.ts')),
    'bin/qilin.ts reaches the arbiter',
  );
});

t.test('type-only imports are not followed', async (t) => {
  // lib/worker/protocol.ts imports only types: tsc erases every one of its imports.
  t.same(runtimeImports(path.join(ROOT, 'lib/worker/protocol.ts')), []);
});
