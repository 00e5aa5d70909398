import { realpathSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The packages sit in test/frameworks/node_modules, above the app, and that directory may be a
// symlink into another checkout. Turbopack compiles, and output file tracing follows, only files
// under the build's root: the root is the nearest directory that holds both the app and the real
// place of the packages (test/frameworks itself when node_modules is a plain directory).
const app = fileURLToPath(new URL('.', import.meta.url));
const packages = dirname(realpathSync(fileURLToPath(new URL('../../node_modules', import.meta.url))));
const a = realpathSync(app).split(sep);
const b = packages.split(sep);
let i = 0;
while (i < a.length && i < b.length && a[i] === b[i]) i++;
const root = a.slice(0, i).join(sep) || sep;

/** @type {import('next').NextConfig} */
export default {
  turbopack: { root },
  outputFileTracingRoot: root,
};
