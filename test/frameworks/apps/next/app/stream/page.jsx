import { Suspense } from 'react';

async function Late() {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return <p id="late">streamed after 50 ms</p>;
}

export const dynamic = 'force-dynamic';

export default function Page() {
  return (
    <main>
      <h1>Stream</h1>
      <Suspense fallback={<p>loading…</p>}>
        <Late />
      </Suspense>
    </main>
  );
}
