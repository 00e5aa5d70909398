// The "POST 1 KB JSON" case: read a JSON body with request.json(), answer with a small JSON.
export default async function postJson(request: Request): Promise<Response> {
  if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
  const body = (await request.json()) as Record<string, unknown>;
  return Response.json({ keys: Object.keys(body).length });
}
