export async function POST(request) {
  const type = request.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) {
    return Response.json({ got: await request.json() });
  }
  const form = await request.formData();
  return Response.json({ got: Object.fromEntries(form) });
}
