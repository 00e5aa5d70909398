// A fetch app module from bench/apps for `deno serve`, which wants a module whose default export has
// fetch: `BENCH_APP=APP.js deno serve -A --port PORT --host 127.0.0.1 deno-serve.js` (add
// `--parallel` for one worker per core, DENO_JOBS of them). The app's path comes from the
// environment: every worker of --parallel loads this module again, with the same environment.
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

type Fetch = (request: Request) => Response | Promise<Response>;
type FetchApp = Fetch | { fetch: Fetch };

const file = process.env.BENCH_APP;
if (!file) throw new Error('BENCH_APP (the app module to serve) is not set');
const app = ((await import(pathToFileURL(path.resolve(file)).href)) as { default: FetchApp }).default;

// Hono's fetch is an arrow property: taking it off the app keeps its `this`.
const fetch: Fetch = typeof app === 'function' ? app : app.fetch;
export default { fetch };
