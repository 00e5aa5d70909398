import { Suspense } from 'react';
import { Await } from 'react-router';

// A promise returned unawaited is streamed to the page after the shell.
export function loader() {
  return { late: new Promise((resolve) => setTimeout(() => resolve('streamed after 50 ms'), 50)) };
}

export default function Stream({ loaderData }) {
  return (
    <main>
      <h1>Stream</h1>
      <Suspense fallback={<p>loading…</p>}>
        <Await resolve={loaderData.late}>{(late) => <p id="late">{late}</p>}</Await>
      </Suspense>
    </main>
  );
}
