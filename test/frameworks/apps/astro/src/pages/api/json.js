export function GET() {
  return Response.json({ framework: 'astro', items: [1, 2, 3] });
}
