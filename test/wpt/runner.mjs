// Runs one web-platform-tests file of fetch/api in the current global, so that inside a qilin worker
// the tests see qilin's globals (its `Response`), and under plain Node the platform's.
//
// As undici's own WPT runner does: testharness.js is evaluated into the global, then the file's
// `// META: script=` dependencies, then the file; results come from add_result_callback and
// add_completion_callback. Unlike it, files run one after another in one process (a qilin worker
// cannot be given a fresh realm per file), so each run loads a fresh harness and ignores whatever a
// finished run's harness still reports, and a file's scripts are evaluated in one function scope:
// top-level `const`s of two files (OVERRIDE_MIME in request/ and response/) cannot collide in the
// global lexical scope that way.
import { AsyncResource } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/** The vendored tree: fetch/api/..., resources/testharness.js. */
export const WPT_ROOT = path.dirname(fileURLToPath(import.meta.url));
export const DIRECTORIES = ['request', 'response', 'headers', 'body'];

const NEEDS_CACHE =
  "needs an HTTP cache and the WPT server's cache.py (conditional requests, stash); Node's fetch has no HTTP cache";
/** Files of fetch/api/{request,response,headers,body} that cannot run in Node; not vendored. */
export const SKIPPED = {
  'request/request-cache-default-conditional.any.js': NEEDS_CACHE,
  'request/request-cache-default.any.js': NEEDS_CACHE,
  'request/request-cache-force-cache.any.js': NEEDS_CACHE,
  'request/request-cache-no-cache.any.js': NEEDS_CACHE,
  'request/request-cache-no-store.any.js': NEEDS_CACHE,
  'request/request-cache-only-if-cached.any.js': NEEDS_CACHE,
  'request/request-cache-reload.any.js': NEEDS_CACHE,
  'request/request-keepalive.any.js':
    "includes /common/get-host-info.sub.js, which needs the WPT server's host substitutions and cross-origin hosts",
  'request/request-init-priority.any.js':
    "fetches request/hello.txt with a browser fetch-priority hint; a relative '' URL needs a document base URL",
  'response/response-blob-realm.any.js': 'needs a second realm (an iframe: global=window)',
  'headers/header-values.any.js':
    "needs XMLHttpRequest and the WPT server's inspect-headers.py echoing 253 header values",
  'headers/header-values-normalize.any.js': "needs XMLHttpRequest and the WPT server's inspect-headers.py",
};

/** testharness.js status codes, by value. */
const STATUS = ['PASS', 'FAIL', 'TIMEOUT', 'NOTRUN', 'PRECONDITION_FAILED'];
const HARNESS_STATUS = ['OK', 'ERROR', 'TIMEOUT', 'PRECONDITION_FAILED'];

/** Per-file time limit (WPT's own harness timeouts: 10 s, 60 s for `META: timeout=long`). */
export const FILE_TIMEOUT_MS = 10_000;

/** The runnable `.any.js` files of one directory, as `dir/name.any.js`, sorted. */
export function listFiles(dir) {
  return readdirSync(path.join(WPT_ROOT, 'fetch/api', dir))
    .filter((f) => f.endsWith('.any.js'))
    .map((f) => `${dir}/${f}`)
    .filter((f) => !(f in SKIPPED))
    .sort();
}

function parseMeta(code) {
  const meta = { title: undefined, timeout: undefined, scripts: [] };
  for (const line of code.split('\n')) {
    const m = /^\/\/ META: (\w+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'script') meta.scripts.push(value.trim());
    else if (key === 'title') meta.title = value.trim();
    else if (key === 'timeout') meta.timeout = value.trim();
  }
  return meta;
}

/** A script whose directive prologue says "use strict" (comments before it allowed). */
function isStrict(code) {
  const rest = code.replace(/^(?:\s+|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*/, '');
  return /^(['"])use strict\1/.test(rest);
}

/**
 * Unpaired surrogates written as `U+d834`, as testharness.js names its tests at completion (and as
 * undici's runner reports them): names then survive UTF-8 and match between the two callbacks.
 */
export function sanitizeName(name) {
  return String(name).replace(
    /([\ud800-\udbff]+)(?![\udc00-\udfff])|(^|[^\ud800-\udbff])([\udc00-\udfff]+)/g,
    (_, low, prefix, high) => {
      let out = prefix || '';
      for (const c of low || high) out += `U+${c.charCodeAt(0).toString(16)}`;
      return out;
    },
  );
}

let harnessSource;
const harness = () => (harnessSource ??= readFileSync(path.join(WPT_ROOT, 'resources/testharness.js'), 'utf8'));

// The global a WPT file expects: a window-like `self` with a `location` under the server that serves
// the tree; undici resolves relative URLs (fetch('../resources/data.json'), new Request('x'),
// Response.redirect('x')) against the global origin it keeps under this symbol (setGlobalOrigin).
const UNDICI_ORIGIN = Symbol.for('undici.globalOrigin.1');
function setGlobals(href, title) {
  const g = globalThis;
  g.self = g;
  g.window = g;
  g.GLOBAL = { isWorker: () => false, isShadowRealm: () => false, isWindow: () => false };
  g.location = new URL(href);
  g.Window = Object.getPrototypeOf(g).constructor;
  if (title) g.META_TITLE = title;
  else delete g.META_TITLE;
  g[UNDICI_ORIGIN] = new URL(href);
}

// Created at load, outside any request: a run entered through it is in no request's async context.
// Inside a qilin worker an error a test leaves uncaught then reaches the worker's handler as an app's
// stray error (logged), not as a failure of the request that asked for the run.
const detached = new AsyncResource('wpt-runner');

/**
 * Run one file (`response/response-clone.any.js`) with `origin` (`http://127.0.0.1:PORT`) serving the
 * tree. Resolves with every test of the file: `{ name, status, message }`, status one of PASS, FAIL,
 * TIMEOUT, NOTRUN, PRECONDITION_FAILED; tests still running when the file's time is up are TIMEOUT.
 */
export function runFile(file, { origin, timeout = FILE_TIMEOUT_MS } = {}) {
  if (!DIRECTORIES.some((d) => file.startsWith(`${d}/`)) || file.includes('..') || !file.endsWith('.any.js')) {
    return Promise.reject(new Error(`not a runnable WPT file: ${file}`));
  }
  return detached.runInAsyncScope(() => run(file, origin, timeout));
}

function run(file, origin, timeout) {
  const abs = path.join(WPT_ROOT, 'fetch/api', file);
  const code = readFileSync(abs, 'utf8');
  const meta = parseMeta(code);
  const scripts = meta.scripts.map((s) =>
    readFileSync(s.startsWith('/') ? path.join(WPT_ROOT, s) : path.resolve(path.dirname(abs), s), 'utf8'),
  );
  const limit = meta.timeout === 'long' ? timeout * 6 : timeout;
  const started = Date.now();

  return new Promise((resolve) => {
    const reported = [];
    const errors = [];
    let finished = false;
    let timedOut = false;
    const onError = (err) => {
      if (!finished) errors.push(String(err?.stack ?? err));
    };
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);

    let timer;
    let grace;
    const finish = (tests, status) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      // Tests the harness never reported a result for (still running when the time was up).
      const seen = new Set(reported.map((r) => r.name));
      const results = [...reported];
      for (const t of tests ?? []) {
        const name = sanitizeName(t.name);
        if (!seen.has(name)) results.push({ name, status: 'TIMEOUT', message: `file timed out after ${limit} ms` });
      }
      resolve({
        file,
        results,
        harness: status
          ? { status: HARNESS_STATUS[status.status] ?? String(status.status), message: status.message ?? null }
          : { status: 'TIMEOUT', message: null },
        errors,
        timedOut,
        ms: Date.now() - started,
      });
    };

    setGlobals(`${origin}/fetch/api/${file}`, meta.title);
    vm.runInThisContext(harness(), { filename: path.join(WPT_ROOT, 'resources/testharness.js') });
    // This run's harness: a later run replaces the globals, not these references.
    const g = globalThis;
    const forceTimeout = g.timeout;
    g.add_result_callback((t) => {
      if (finished) return;
      reported.push({
        name: sanitizeName(t.name),
        status: STATUS[t.status] ?? String(t.status),
        message: t.message ?? null,
      });
    });
    g.add_completion_callback((tests, status) => finish(tests, status));

    timer = setTimeout(() => {
      timedOut = true;
      try {
        forceTimeout();
      } catch (err) {
        errors.push(String(err?.stack ?? err));
      }
      // timeout() completes the harness, which calls finish; if it cannot, give up on it.
      grace = setTimeout(() => finish(null, null), 1000);
    }, limit);

    const body = [...scripts, code].join('\n;\n');
    const wrapped = `(function () {${isStrict(code) ? '"use strict";' : ''}\n${body}\n}).call(globalThis);`;
    try {
      vm.runInThisContext(wrapped, { filename: abs });
    } catch (err) {
      // A browser reports a script's top-level error to the harness (the file's status is ERROR).
      errors.push(String(err?.stack ?? err));
    }
  });
}

/** Run every file of `dir` one after another. */
export async function runDirectory(dir, opts) {
  const out = [];
  for (const file of listFiles(dir)) out.push(await runFile(file, opts));
  return out;
}
