// Gunicorn's MODULE:EXPORT syntax, factory calls and their literal arguments (no processes needed).
import t from 'tap';
import { parseExport, parseLiterals, splitAppUri } from '../../lib/app/load.js';
import { recognise } from '../../lib/app/shapes.js';

t.test('MODULE:EXPORT splits at the last colon before a factory call', async (t) => {
  t.same(splitAppUri('app.js'), { module: 'app.js', exportName: 'default' });
  t.same(splitAppUri('/srv/app.js:app'), { module: '/srv/app.js', exportName: 'app' });
  t.same(splitAppUri("app.js:create_app('http://db:5432')"), {
    module: 'app.js',
    exportName: "create_app('http://db:5432')",
  });
  t.same(splitAppUri('C:app.js'), { module: 'C:app.js', exportName: 'default' }, 'a drive letter is no separator');
});

t.test('a name or a call with literal arguments', async (t) => {
  t.same(parseExport('app'), { name: 'app', args: null });
  t.same(parseExport('create_app()'), { name: 'create_app', args: [] });
  t.same(parseExport(" create_app('x', 2) "), { name: 'create_app', args: ['x', 2] });
  t.throws(() => parseExport('create_app('), /Failed to parse 'create_app\(' as an attribute name or function call\./);
  t.throws(() => parseExport('a.b'), /Failed to parse 'a\.b' as an attribute name or function call\./);
  t.throws(() => parseExport('f(x)'), /Failed to parse arguments as literal values: 'f\(x\)'\./);
  t.throws(() => parseExport('f(process.exit(1))'), /literal values/, 'nothing is evaluated');
});

t.test('literals: strings, numbers, booleans, null, arrays, objects', async (t) => {
  t.same(parseLiterals(''), []);
  t.same(parseLiterals(`'a', "b\\"c", -1.5e3, 0, true, false, null`), ['a', 'b"c', -1500, 0, true, false, null]);
  t.same(parseLiterals(`[1, ['two'], []], {a: 1, "b": {c: [null]}, 'd': 'e'}`), [
    [1, ['two'], []],
    { a: 1, b: { c: [null] }, d: 'e' },
  ]);
  t.same(parseLiterals(`'\\u00e9\\n'`), ['é\n']);
  t.same(parseLiterals('1,'), [1], 'a trailing comma, as Python allows');
  for (const bad of ['foo', "'open", '1 2', '[1,', '{a 1}', 'undefined', '`x`', '1)']) {
    t.throws(() => parseLiterals(bad), SyntaxError, bad);
  }
});

t.test('bare functions: app_interface, or the declared parameters', async (t) => {
  const one = (_request: Request) => new Response('x');
  const two = (_req: unknown, _res: unknown) => undefined;
  t.equal(recognise(one, 'auto', 'x').style, 'fetch');
  t.equal(recognise(two, 'auto', 'x').style, 'node');
  t.equal(recognise(() => new Response('x'), 'auto', 'x').style, 'fetch', 'no declared parameter: fetch');
  t.equal(recognise(one, 'node', 'x').style, 'node');
  t.equal(recognise(two, 'fetch', 'x').style, 'fetch');
  t.equal(recognise({ fetch: one }, 'auto', 'x').what, 'an object with a fetch method');
  t.throws(
    () => recognise({ fetch: one }, 'node', "'app' in 'a.js'"),
    /'app' in 'a\.js' is an object with a fetch method \(fetch-style\), but app_interface is node\./,
  );
  t.throws(() => recognise(class App {}, 'auto', 'x'), /is a class \(App\): export an instance/);
  t.throws(
    () => recognise({ routes: [] }, 'auto', 'x'),
    /is not an app qilin can serve: it is an object with keys routes\./,
  );
});
