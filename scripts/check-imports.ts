// The import checker of the shipped code (lib/, workers/, bin/), run by `npm run lint` and by
// test/static/lint.test.ts. It reads every module's relative imports and fails, one line per problem,
// on a runtime import cycle (module evaluation order then depends on which module is loaded first)
// and on an import that crosses the layers below the wrong way: the arbiter must not load a worker's
// serving code, the HTTP layer must not know the engines, and the public entry must not drag the
// arbiter into a config file's process.
//
// Only runtime imports count: `import type` / `export type` (and imports whose every name is an
// inline `type`) are erased by tsc; `import('…')` with a literal specifier counts, as it loads the
// module all the same. Package and `node:` imports are not checked.
//
//   node --import tsx scripts/check-imports.ts
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/**
 * The layers and what each may import at run time. A layer is a directory under lib/, lib/index.ts
 * (the public entry), workers/ or bin/; a module always may import its own layer. An entry of `may`
 * is a layer or a narrower path (one file); `neverReaches` forbids layers even through other layers.
 */
export const LAYERS: LayerTable = {
  // What every other layer stands on: the settings table, config resolution, hooks, loading config files.
  // The package's version: a constant, imported by whoever prints it.
  'lib/version.ts': { may: [] },
  'lib/config': { may: ['lib/ops'] },
  // Logging, TLS files, privileges, daemonising, systemd: process-level services.
  'lib/ops': { may: ['lib/config'] },
  'lib/metrics': { may: ['lib/config', 'lib/ops'] },
  // Requests and responses as an app sees them, engine-neutral.
  'lib/http': { may: ['lib/config', 'lib/ops', 'lib/metrics'] },
  // Loading the app and telling what it is.
  'lib/app': { may: ['lib/config', 'lib/ops', 'lib/http'] },
  // The engines serve lib/http's exchanges inside a worker; the arbiter asks lib/engines/index.ts which one.
  'lib/engines': { may: ['lib/config', 'lib/ops', 'lib/metrics', 'lib/http', 'lib/app'] },
  // The worker process's code: the pool, the timers, the base class the worker entry points extend.
  'lib/worker': { may: ['lib/config', 'lib/ops', 'lib/metrics', 'lib/http', 'lib/app', 'lib/engines'] },
  // The arbiter shares with its workers only the protocol they speak.
  'lib/arbiter': {
    may: [
      'lib/config',
      'lib/ops',
      'lib/metrics',
      'lib/app',
      'lib/engines',
      'lib/worker/protocol.ts',
      'lib/ctl/protocol.ts',
      'lib/version.ts',
    ],
  },
  // `qilin ctl`: talks to a running arbiter over its control socket (it shares the arbiter's types only).
  'lib/ctl': { may: ['lib/config', 'lib/ops'] },
  // What config files and tooling import: it loads in the user's process, never the arbiter.
  'lib/index.ts': {
    may: ['lib/config', 'lib/http', 'lib/metrics', 'lib/ops', 'lib/app', 'lib/version.ts'],
    neverReaches: ['lib/arbiter', 'lib/ctl'],
  },
  // The worker process entry points.
  workers: { may: ['lib/config', 'lib/ops', 'lib/metrics', 'lib/http', 'lib/app', 'lib/engines', 'lib/worker'] },
  // The command: starts an arbiter, or `qilin ctl`.
  bin: {
    may: ['lib/config', 'lib/ops', 'lib/metrics', 'lib/app', 'lib/engines', 'lib/arbiter', 'lib/ctl', 'lib/version.ts'],
  },
};

/** The directories that hold the shipped code, relative to the repository. */
export const SHIPPED = ['lib', 'workers', 'bin'];

export interface LayerRule {
  /** Layers, or narrower paths, this layer may import at run time. */
  may: string[];
  /** Layers no module of this layer may reach, directly or through any chain of runtime imports. */
  neverReaches?: string[];
}
export type LayerTable = Record<string, LayerRule>;

/** `static`: import / export-from; `dynamic`: import('…'); `type`: erased by tsc. */
export type ImportKind = 'static' | 'dynamic' | 'type';

export interface ImportEdge {
  from: string;
  to: string;
  kind: ImportKind;
  /** 1-based, for the message. */
  line: number;
}

/** Modules are repository-relative paths with `/` separators (`lib/http/exchange.ts`). */
export interface ImportGraph {
  modules: string[];
  edges: ImportEdge[];
}

export interface Problem {
  kind: 'cycle' | 'layer' | 'reach' | 'unlayered' | 'unresolved' | 'table';
  message: string;
}

const isRuntime = (e: ImportEdge): boolean => e.kind !== 'type';

/** `entry` names `file` when it is that file or a directory above it. */
const covers = (entry: string, file: string): boolean => file === entry || file.startsWith(`${entry}/`);

/** The layer a module belongs to: the longest key of the table that covers it, or null. */
export function layerOf(file: string, table: LayerTable): string | null {
  let best: string | null = null;
  for (const layer of Object.keys(table)) {
    if (covers(layer, file) && (best === null || layer.length > best.length)) best = layer;
  }
  return best;
}

/** Whether a module of layer `from` may import `to` at run time. */
export function mayImport(from: string, to: string, table: LayerTable): boolean {
  const fromLayer = layerOf(from, table);
  const toLayer = layerOf(to, table);
  if (fromLayer === null || toLayer === null) return false;
  if (fromLayer === toLayer) return true;
  return table[fromLayer]!.may.some((entry) => covers(entry, to));
}

/**
 * Every runtime import cycle, one per strongly connected set of modules (Tarjan's algorithm): the
 * shortest cycle through the set's first module, as the modules in import order, first not repeated.
 * Sorted, so the output is the same from run to run.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const next = new Map<string, string[]>();
  for (const m of graph.modules) next.set(m, []);
  for (const e of graph.edges) if (isRuntime(e)) next.get(e.from)?.push(e.to);
  for (const targets of next.values()) targets.sort();

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sets: string[][] = [];
  let counter = 0;
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const root of [...graph.modules].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work.at(-1)!;
      const targets = next.get(top.node) ?? [];
      if (top.i < targets.length) {
        const to = targets[top.i++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) !== index.get(top.node)) continue;
      const set: string[] = [];
      let m: string;
      do {
        m = stack.pop()!;
        onStack.delete(m);
        set.push(m);
      } while (m !== top.node);
      const selfLoop = set.length === 1 && (next.get(set[0]!) ?? []).includes(set[0]!);
      if (set.length > 1 || selfLoop) sets.push(set.sort());
    }
  }
  return sets.map((set) => shortestCycle(set[0]!, new Set(set), next)).sort((a, b) => a.join().localeCompare(b.join()));
}

/** Breadth-first from `start` back to itself inside `within`. */
function shortestCycle(start: string, within: Set<string>, next: Map<string, string[]>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const to of next.get(node) ?? []) {
      if (!within.has(to)) continue;
      if (to === start) {
        const cycle = [node];
        while (cycle[0] !== start) cycle.unshift(previous.get(cycle[0]!)!);
        return cycle;
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start];
}

/** Runtime imports that cross layers the table does not allow, and modules in no layer. */
export function checkLayers(graph: ImportGraph, table: LayerTable): Problem[] {
  const problems: Problem[] = [];
  for (const m of graph.modules) {
    if (layerOf(m, table) === null) {
      problems.push({ kind: 'unlayered', message: `${m} is in no layer: add its directory to the table` });
    }
  }
  for (const e of graph.edges) {
    if (!isRuntime(e) || !graph.modules.includes(e.to) || mayImport(e.from, e.to, table)) continue;
    const fromLayer = layerOf(e.from, table);
    const toLayer = layerOf(e.to, table);
    if (fromLayer === null || toLayer === null) continue; // said above
    const allowed = table[fromLayer]!.may;
    problems.push({
      kind: 'layer',
      message: `${e.from}:${e.line} imports ${e.to}: ${fromLayer} may import ${allowed.length ? allowed.join(', ') : 'nothing'} (not ${toLayer})`,
    });
  }
  return problems;
}

/**
 * For each layer with `neverReaches`: the forbidden modules its modules reach through runtime
 * imports, each at the point where the chain first enters a forbidden layer, with the chain.
 */
export function checkReach(graph: ImportGraph, table: LayerTable): Problem[] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!isRuntime(e)) continue;
    const list = next.get(e.from) ?? [];
    list.push(e.to);
    next.set(e.from, list);
  }
  for (const targets of next.values()) targets.sort();
  const problems: Problem[] = [];
  for (const [layer, rule] of Object.entries(table)) {
    const forbidden = rule.neverReaches ?? [];
    if (forbidden.length === 0) continue;
    const isForbidden = (m: string) => forbidden.some((f) => covers(f, m));
    const reported = new Set<string>();
    for (const start of [...graph.modules].sort()) {
      if (layerOf(start, table) !== layer) continue;
      const previous = new Map<string, string>([[start, start]]);
      const queue = [start];
      for (let head = 0; head < queue.length; head++) {
        const node = queue[head]!;
        for (const to of next.get(node) ?? []) {
          if (previous.has(to)) continue;
          previous.set(to, node);
          // A forbidden module is reported where the chain enters it and not followed further.
          if (isForbidden(to)) {
            if (reported.has(to)) continue;
            reported.add(to);
            const chain = [to];
            while (chain[0] !== start) chain.unshift(previous.get(chain[0]!)!);
            problems.push({
              kind: 'reach',
              message: `${start} reaches ${to}, which ${layer} must never load: ${chain.join(' -> ')}`,
            });
          } else {
            queue.push(to);
          }
        }
      }
    }
  }
  return problems;
}

/** Table entries that name no module: a layer that moved, or a file renamed. */
export function checkTable(graph: ImportGraph, table: LayerTable): Problem[] {
  const problems: Problem[] = [];
  for (const [layer, rule] of Object.entries(table)) {
    for (const entry of [layer, ...rule.may, ...(rule.neverReaches ?? [])]) {
      if (!graph.modules.some((m) => covers(entry, m))) {
        problems.push({
          kind: 'table',
          message: `the layer table names ${entry} (in ${layer}), which holds no module`,
        });
      }
    }
  }
  return problems;
}

/** Every problem of a graph under a table: the table's own, modules in no layer, cycles, layers, reach. */
export function checkGraph(graph: ImportGraph, table: LayerTable): Problem[] {
  const cycles = findCycles(graph).map((cycle): Problem => ({
    kind: 'cycle',
    message: `import cycle: ${[...cycle, cycle[0]].join(' -> ')}`,
  }));
  return [...checkTable(graph, table), ...cycles, ...checkLayers(graph, table), ...checkReach(graph, table)];
}

/** The relative import specifiers of one module's source, each with its kind and line. */
export function readImports(
  source: string,
  fileName = 'module.ts',
): { specifier: string; kind: ImportKind; line: number }[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: { specifier: string; kind: ImportKind; line: number }[] = [];
  const add = (node: ts.Node, literal: ts.Expression, kind: ImportKind) => {
    if (!ts.isStringLiteralLike(literal)) return;
    const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
    found.push({ specifier: literal.text, kind, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      // `import { type A, type B }` is erased as a whole; `import {}` and `import './x.js'` are not.
      const allInlineTypes =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((el) => el.isTypeOnly);
      add(node, node.moduleSpecifier, clause?.isTypeOnly || allInlineTypes ? 'type' : 'static');
      return;
    }
    if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const clause = node.exportClause;
      const allInlineTypes =
        clause !== undefined &&
        ts.isNamedExports(clause) &&
        clause.elements.length > 0 &&
        clause.elements.every((el) => el.isTypeOnly);
      add(node, node.moduleSpecifier, node.isTypeOnly || allInlineTypes ? 'type' : 'static');
      return;
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node, node.arguments[0], 'dynamic');
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found.filter((f) => f.specifier.startsWith('./') || f.specifier.startsWith('../'));
}

const SOURCE = /\.(ts|mts|cts|tsx)$/;

/** The module a relative specifier names, as tsc resolves `.js` to `.ts` under NodeNext; null when none. */
function resolveSpecifier(root: string, from: string, specifier: string): string | null {
  const base = path.posix.join(path.posix.dirname(from), specifier);
  const stem = base.replace(/\.(js|mjs|cjs|jsx)$/, '');
  const ext = base.slice(stem.length);
  const candidates =
    ext === '.mjs'
      ? [`${stem}.mts`, base]
      : ext === '.cjs'
        ? [`${stem}.cts`, base]
        : ext !== ''
          ? [`${stem}.ts`, `${stem}.tsx`, `${stem}.d.ts`, base]
          : [base, `${base}.ts`, `${base}/index.ts`];
  for (const candidate of candidates) {
    try {
      if (statSync(path.join(root, candidate)).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The import graph of the TypeScript modules under `dirs` (declaration files hold no runtime code). */
export function readGraph(
  root: string,
  dirs: readonly string[] = SHIPPED,
): { graph: ImportGraph; problems: Problem[] } {
  const modules: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (SOURCE.test(entry.name) && !/\.d\.[mc]?ts$/.test(entry.name)) modules.push(rel);
    }
  };
  for (const dir of dirs) walk(dir);
  modules.sort();
  const edges: ImportEdge[] = [];
  const problems: Problem[] = [];
  for (const from of modules) {
    for (const { specifier, kind, line } of readImports(readFileSync(path.join(root, from), 'utf8'), from)) {
      const to = resolveSpecifier(root, from, specifier);
      if (to === null) {
        problems.push({ kind: 'unresolved', message: `${from}:${line} imports ${specifier}, which names no file` });
      } else if (kind !== 'type' && !modules.includes(to) && !/\.d\.[mc]?ts$/.test(to)) {
        problems.push({
          kind: 'unresolved',
          message: `${from}:${line} imports ${to}, which is not shipped (${dirs.join(', ')})`,
        });
      } else {
        edges.push({ from, to, kind, line });
      }
    }
  }
  return { graph: { modules, edges }, problems };
}

/** The whole check of a checkout: the problems (empty when it passes) and a one-line summary of its graph. */
export function checkImports(root: string, table: LayerTable = LAYERS): { problems: Problem[]; summary: string } {
  const { graph, problems } = readGraph(root);
  problems.push(...checkGraph(graph, table));
  const count = (kind: ImportKind) => graph.edges.filter((e) => e.kind === kind).length;
  const summary =
    `${graph.modules.length} modules in ${Object.keys(table).length} layers; ` +
    `${count('static') + count('dynamic')} runtime imports (${count('dynamic')} dynamic), ${count('type')} type-only`;
  return { problems, summary };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { problems, summary } = checkImports(root);
  for (const p of problems) console.log(`${p.kind}: ${p.message}`);
  if (problems.length > 0) {
    console.log(`check-imports: ${problems.length} problem(s); ${summary}`);
    process.exitCode = 1;
  } else {
    console.log(`check-imports: no cycle, every import within its layers; ${summary}`);
  }
}
