// The import checker's parts on small made-up graphs (no files): the cycle finder, the layer matcher,
// the reach rule and the parsing of import specifiers.
import t from 'tap';
import {
  checkGraph,
  checkLayers,
  checkReach,
  checkTable,
  findCycles,
  layerOf,
  LAYERS,
  mayImport,
  readImports,
  type ImportEdge,
  type ImportGraph,
  type ImportKind,
  type LayerTable,
} from '../../scripts/check-imports.js';

/** A graph from `a.ts>b.ts` pairs (runtime imports unless a kind is given); its modules are every name seen. */
function graph(...pairs: (string | [string, ImportKind])[]): ImportGraph {
  const edges: ImportEdge[] = pairs.map((p, i) => {
    const [pair, kind] = typeof p === 'string' ? [p, 'static' as const] : p;
    const [from, to] = pair.split('>') as [string, string];
    return { from, to, kind, line: i + 1 };
  });
  const modules = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  return { modules, edges };
}

t.test('cycles: none in a tree or a diamond', async (t) => {
  t.same(findCycles(graph('a>b', 'a>c', 'b>d', 'c>d')), []);
  t.same(findCycles({ modules: ['lonely'], edges: [] }), []);
});

t.test('cycles: two modules, a longer ring, a module importing itself', async (t) => {
  t.same(findCycles(graph('a>b', 'b>a')), [['a', 'b']]);
  t.same(
    findCycles(graph('x>c', 'c>d', 'd>e', 'e>c')),
    [['c', 'd', 'e']],
    'the ring only, not the module leading into it',
  );
  t.same(findCycles(graph('a>a', 'a>b')), [['a']]);
});

t.test('cycles: one line per strongly connected set, shortest cycle through its first module', async (t) => {
  // a and b on a short loop and a long one through c, d; separately p and q.
  const cycles = findCycles(graph('a>c', 'c>d', 'd>a', 'a>b', 'b>a', 'p>q', 'q>p', 'd>p'));
  t.same(cycles, [
    ['a', 'b'],
    ['p', 'q'],
  ]);
});

t.test('cycles: type-only imports are not part of the runtime graph; dynamic imports are', async (t) => {
  t.same(findCycles(graph('a>b', ['b>a', 'type'])), []);
  t.same(findCycles(graph('a>b', ['b>a', 'dynamic'])), [['a', 'b']]);
});

t.test('cycles: a long chain does not overflow the stack', async (t) => {
  const pairs = Array.from({ length: 20_000 }, (_, i) => `m${i}>m${i + 1}`);
  t.same(findCycles(graph(...pairs)), []);
  t.equal(findCycles(graph(...pairs, 'm20000>m0'))[0]?.length, 20_001);
});

const TABLE: LayerTable = {
  'lib/low': { may: [] },
  'lib/mid': { may: ['lib/low'] },
  'lib/top': { may: ['lib/mid', 'lib/low', 'lib/side/protocol.ts'] },
  'lib/side': { may: ['lib/low'] },
  'lib/index.ts': { may: ['lib/mid'], neverReaches: ['lib/top'] },
};

t.test('layers: the longest key that covers a file, a file key over its directory', async (t) => {
  t.equal(layerOf('lib/mid/a.ts', TABLE), 'lib/mid');
  t.equal(layerOf('lib/mid/deep/b.ts', TABLE), 'lib/mid');
  t.equal(layerOf('lib/index.ts', TABLE), 'lib/index.ts');
  t.equal(layerOf('lib/middle/a.ts', TABLE), null, 'a key covers a directory, not a name prefix');
  t.equal(layerOf('lib/other.ts', TABLE), null);
  t.equal(layerOf('lib/engines/uws/load.ts', LAYERS), 'lib/engines');
  t.equal(layerOf('workers/main.ts', LAYERS), 'workers');
});

t.test('layers: own layer always, listed layers, a listed file and not its neighbours', async (t) => {
  t.ok(mayImport('lib/low/a.ts', 'lib/low/b.ts', TABLE), 'its own layer');
  t.ok(mayImport('lib/mid/a.ts', 'lib/low/b.ts', TABLE));
  t.notOk(mayImport('lib/low/b.ts', 'lib/mid/a.ts', TABLE), 'not upwards');
  t.ok(mayImport('lib/top/a.ts', 'lib/side/protocol.ts', TABLE), 'the one file listed');
  t.notOk(mayImport('lib/top/a.ts', 'lib/side/worker.ts', TABLE), 'not the rest of its layer');
  t.notOk(mayImport('lib/top/a.ts', 'lib/other.ts', TABLE), 'a module in no layer');
});

t.test('layers: the problems name the file, line, target and what the layer may import', async (t) => {
  const problems = checkLayers(
    graph('lib/low/a.ts>lib/mid/b.ts', ['lib/low/a.ts>lib/top/c.ts', 'type'], 'lib/x.ts>lib/low/a.ts'),
    TABLE,
  );
  t.same(
    problems.map((p) => p.kind),
    ['unlayered', 'layer'],
    'a type-only import crosses no runtime boundary; a module in no layer is said once',
  );
  t.match(problems[0]?.message, /^lib\/x\.ts is in no layer/);
  t.equal(problems[1]?.message, 'lib/low/a.ts:1 imports lib/mid/b.ts: lib/low may import nothing (not lib/mid)');
});

t.test('reach: a forbidden layer reached through others, said where the chain enters it', async (t) => {
  const g = graph(
    'lib/index.ts>lib/mid/a.ts',
    'lib/mid/a.ts>lib/top/b.ts',
    'lib/top/b.ts>lib/top/c.ts',
    'lib/mid/a.ts>lib/low/d.ts',
  );
  const problems = checkReach(g, TABLE);
  t.same(
    problems.map((p) => p.message),
    [
      'lib/index.ts reaches lib/top/b.ts, which lib/index.ts must never load: lib/index.ts -> lib/mid/a.ts -> lib/top/b.ts',
    ],
  );
  t.same(
    checkReach(graph('lib/index.ts>lib/mid/a.ts', ['lib/mid/a.ts>lib/top/b.ts', 'type']), TABLE),
    [],
    'not by types',
  );
  t.same(checkReach(graph('lib/index.ts>lib/mid/a.ts', ['lib/mid/a.ts>lib/top/b.ts', 'dynamic']), TABLE).length, 1);
});

t.test('the table: an entry that names no module is a problem', async (t) => {
  const g = graph('lib/mid/a.ts>lib/low/b.ts');
  const stale = checkTable(g, { 'lib/mid': { may: ['lib/low', 'lib/gone'] }, 'lib/low': { may: [] } });
  t.same(
    stale.map((p) => p.message),
    ['the layer table names lib/gone (in lib/mid), which holds no module'],
  );
});

t.test('checkGraph: a clean graph has no problem; each kind is reported', async (t) => {
  const clean = graph(
    'lib/index.ts>lib/mid/a.ts',
    'lib/mid/a.ts>lib/low/b.ts',
    'lib/top/c.ts>lib/side/protocol.ts',
    'lib/side/s.ts>lib/low/b.ts',
  );
  t.same(checkGraph(clean, TABLE), []);
  const broken = graph(
    ...clean.edges.map((e) => `${e.from}>${e.to}`),
    'lib/low/b.ts>lib/mid/a.ts',
    'lib/mid/a.ts>lib/top/c.ts',
  );
  t.same(
    checkGraph(broken, TABLE).map((p) => p.kind),
    ['cycle', 'layer', 'layer', 'reach'],
  );
  t.equal(checkGraph(broken, TABLE)[0]?.message, 'import cycle: lib/low/b.ts -> lib/mid/a.ts -> lib/low/b.ts');
});

t.test('the shipped table holds the architecture: who may not import whom', async (t) => {
  const may = (from: string, to: string) => mayImport(`${from}/x.ts`, to.endsWith('.ts') ? to : `${to}/y.ts`, LAYERS);
  for (const to of ['lib/arbiter', 'lib/worker']) t.notOk(may('lib/engines', to), `lib/engines never imports ${to}`);
  for (const to of ['lib/engines', 'lib/worker', 'lib/arbiter'])
    t.notOk(may('lib/http', to), `lib/http never imports ${to}`);
  t.notOk(may('lib/worker', 'lib/arbiter'), 'lib/worker never imports lib/arbiter');
  t.ok(may('lib/arbiter', 'lib/worker/protocol.ts'), 'the arbiter imports the worker protocol');
  t.notOk(may('lib/arbiter', 'lib/worker/worker.ts'), '… and nothing else of lib/worker');
  t.same(
    LAYERS['lib/index.ts']?.neverReaches,
    ['lib/arbiter', 'lib/ctl'],
    'the public entry never reaches the arbiter or ctl',
  );
  for (const low of ['lib/config', 'lib/ops']) {
    t.same(
      LAYERS[low]?.may.filter((l) => l !== 'lib/config' && l !== 'lib/ops'),
      [],
      `${low} imports nothing above it`,
    );
  }
});

t.test('parsing: runtime, type-only, inline-type-only, re-exports, dynamic imports', async (t) => {
  const source = `
    import { a } from './a.js';
    import type { B } from './b.js';
    import { type C, type D } from './c.js';
    import { type E, e } from './e.js';
    import './side-effect.js';
    import * as ns from '../ns.js';
    import pkg from 'some-package';
    import { readFileSync } from 'node:fs';
    export { f } from './f.js';
    export type { G } from './g.js';
    export { type H } from './h.js';
    export * from './star.js';
    type T = import('./type-position.js').T;
    async function later() { return import('./lazy.js'); }
    const computed = (name: string) => import(name);
  `;
  t.same(
    readImports(source).map((i) => `${i.kind} ${i.specifier}`),
    [
      'static ./a.js',
      'type ./b.js',
      'type ./c.js',
      'static ./e.js',
      'static ./side-effect.js',
      'static ../ns.js',
      'static ./f.js',
      'type ./g.js',
      'type ./h.js',
      'static ./star.js',
      'dynamic ./lazy.js',
    ],
  );
  t.equal(readImports(source)[0]?.line, 2);
});
