import { json } from '@sveltejs/kit';

export async function POST({ request }) {
  const type = request.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) return json({ got: await request.json() });
  return json({ got: Object.fromEntries(await request.formData()) });
}
