// A fetch app module from bench/apps on Bun.serve, the way Bun's docs serve one:
// `bun bun-serve.js APP.js`. With BENCH_PROCESSES=N (N > 1) it starts N Bun processes that each
// listen on the port with reusePort, Bun's way to use more than one core (the kernel spreads the
// connections); this process then only waits for them.
import { spawn } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

// Bun's global, as much of it as this file uses (the bench compiles against Node's types).
declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    port: number;
    hostname: string;
    reusePort: boolean;
  }): unknown;
};

type FetchApp =
  ((request: Request) => Response | Promise<Response>) | { fetch(request: Request): Response | Promise<Response> };

const file = path.resolve(process.argv.at(-1)!);
const port = Number(process.env.PORT);
const processes = Number(process.env.BENCH_PROCESSES ?? 1);

if (processes > 1 && process.env.BENCH_CHILD === undefined) {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, BENCH_CHILD: '1' } }),
  );
  // One child gone is a server serving with fewer cores than its name says: stop, so the bench sees it.
  for (const child of children)
    child.on('exit', () => {
      for (const c of children) c.kill();
      process.exit(1);
    });
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      for (const c of children) c.kill(sig);
      process.exit(0);
    });
} else {
  const app = ((await import(pathToFileURL(file).href)) as { default: FetchApp }).default;
  // Hono's fetch is an arrow property: taking it off the app keeps its `this`.
  const fetch = typeof app === 'function' ? app : app.fetch;
  Bun.serve({ fetch, port, hostname: '127.0.0.1', reusePort: processes > 1 });
}
