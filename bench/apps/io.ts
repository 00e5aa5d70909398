// The I/O-bound case as a fetch app: every request waits 20 ms (a database call), then answers.
import { setTimeout as sleep } from 'node:timers/promises';

export default async function io(_request: Request): Promise<Response> {
  await sleep(20);
  return new Response('Hello, World!');
}
