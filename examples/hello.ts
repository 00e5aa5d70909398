// The smallest qilin app: `qilin examples/hello.ts`.
export default function hello(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === '/json') return Response.json({ message: 'Hello, World!' });
  return new Response('Hello, World!');
}
