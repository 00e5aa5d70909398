export function loader() {
  return Response.json({ framework: 'react-router', items: [1, 2, 3] });
}
