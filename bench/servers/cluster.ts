// node:cluster running a server module in CLUSTER_WORKERS workers (default 1):
// `node cluster.js SERVER.js [ARGS…]`; workers get the same argv. The scheduling policy is the
// platform's default (round-robin on Linux) unless NODE_CLUSTER_SCHED_POLICY=rr|none picks one.
import cluster from 'node:cluster';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

if (cluster.isPrimary) {
  const n = Number(process.env.CLUSTER_WORKERS ?? 1);
  for (let i = 0; i < n; i++) cluster.fork();
  // A worker that dies takes the server down, so the bench sees it instead of measuring fewer workers.
  cluster.on('exit', () => process.exit(1));
} else {
  await import(pathToFileURL(path.resolve(process.argv[2]!)).href);
}
