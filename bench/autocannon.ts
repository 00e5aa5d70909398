// autocannon with the options given as JSON in argv[2], its result printed as JSON (like
// `autocannon -j`): the CLI has no per-connection `requests` sequence, which the mixed case needs.
import { createRequire } from 'node:module';

const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object) => Promise<unknown>;
process.stdout.write(`${JSON.stringify(await autocannon(JSON.parse(process.argv[2]!)))}\n`);
