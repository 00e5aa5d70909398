export async function action({ request }) {
  const type = request.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) return Response.json({ got: await request.json() });
  return Response.json({ got: Object.fromEntries(await request.formData()) });
}
