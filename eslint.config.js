// ESLint's configuration (`npm run lint`, and test/static/lint.test.ts in `npm test`): @eslint/js's
// recommended rules and typescript-eslint's type-aware ones, for the bugs a server cannot afford: a
// promise nobody awaits or catches, an async function handed where its promise is dropped, a switch
// that misses a member of its union. Layout is prettier's alone: no rule here is about formatting
// (the lint test fails on one that is), so the two never disagree.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node's globals, read from the Node that runs the linter rather than from a list that ages. */
const nodeGlobals = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly']));
const commonJsGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  __filename: 'readonly',
};

/** Findings of the rules that read types, for code that only runs on a developer's machine. */
const TOOLING_RELAXED = {
  // JSON.parse of a child's output and `await res.json()` are `any` by nature; tap asserts their shape.
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
  '@typescript-eslint/no-explicit-any': 'off',
  // Messages interpolate arrays and parsed JSON, and sockets' Buffers are appended to strings as UTF-8.
  '@typescript-eslint/restrict-template-expressions': 'off',
  '@typescript-eslint/restrict-plus-operands': 'off',
};

export default defineConfig([
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    '.ci/cache/',
    'coverage/',
    '.tap/',
    'tap-snapshots/',
    // The web-platform-tests, copied unchanged from upstream; the runner and report beside them are ours.
    'test/wpt/fetch/',
    'test/wpt/resources/',
    // Each framework app has its own package.json, compiler and tsconfig (test/frameworks/tsconfig.json).
    'test/frameworks/apps/',
    // Fixtures are apps and configs written the way users write them (CommonJS, unused `req`, a
    // deliberately stray rejection): what the tests serve is not reshaped to please a linter.
    'test/fixtures/',
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,

  {
    name: 'qilin/all',
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: nodeGlobals,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        // A `default:` is how the code base says "everything else"; a switch without one must cover its union.
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        // `import type` and inline `type` both; inline `import('node:http').Server` annotations are kept.
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `xs[i]!` is written where the element is known to exist, as if noUncheckedIndexedAccess were on;
      // without that option the rule calls every such `!` unnecessary (301 of its 315 findings).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `async` without `await` is deliberate: the function's contract is a promise, and a throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      // Hooks and options are declared with method syntax and called as plain functions (or with `.call`).
      '@typescript-eslint/unbound-method': 'off',
      // effection operations are generator functions, which have no arrow form: they reach their owner by a name.
      '@typescript-eslint/no-this-alias': 'off',
      // HTTP field validation matches control characters on purpose.
      'no-control-regex': 'off',
    },
  },

  {
    name: 'qilin/tests',
    files: ['test/**'],
    rules: {
      ...TOOLING_RELAXED,
      '@typescript-eslint/no-floating-promises': [
        'error',
        // tap queues `t.test()` subtests and awaits them itself; a failure in one is reported, not lost.
        { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] },
      ],
    },
  },
  {
    name: 'qilin/bench',
    files: ['bench/**'],
    rules: TOOLING_RELAXED,
  },

  // JavaScript (the test runner, the WPT harness, CommonJS bench apps): there are no types to check against.
  {
    name: 'qilin/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    name: 'qilin/commonjs',
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...nodeGlobals, ...commonJsGlobals } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
]);
