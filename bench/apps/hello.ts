// The fetch app the fetch-style servers in the bench run: GET / and GET /json.
export default function hello(request: Request): Response {
  const url = request.url;
  // Route on the path without building a URL object, as a fast router does.
  const path = url.slice(url.indexOf('/', 8));
  if (path === '/json') return Response.json({ message: 'Hello, World!' });
  return new Response('Hello, World!');
}
