import { cookies } from 'next/headers';

export default async function Page() {
  const name = (await cookies()).get('name')?.value;
  return (
    <main>
      <h1>Hello, {name ?? 'stranger'}</h1>
    </main>
  );
}
