// node:cluster with 2 workers (the platform's default round-robin scheduling).
import cluster from 'node:cluster';

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  await import('./node-http.js');
}
