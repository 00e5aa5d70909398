// Runs the tap suite and closes with one line, `N passed, N failed`, taken from tap's own summary.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
tap.on('exit', (code, signal) => {
  const summaries = [...tail.matchAll(/^# (\{ total: .* \})$/gm)];
  const last = summaries.at(-1)?.[1];
  const count = (key) => Number(new RegExp(`\\b${key}: (\\d+)`).exec(last ?? '')?.[1] ?? 0);
  let passed = count('pass');
  let failed = count('fail');
  if (!last || code !== 0) failed = Math.max(failed, 1); // a run that crashed or exited non-zero is not green
  if (!last) passed = 0;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (signal ? 1 : 0));
});
