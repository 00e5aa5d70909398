export function GET() {
  return Response.json({ framework: 'next', items: [1, 2, 3] });
}
