import { json } from '@sveltejs/kit';

export function GET() {
  return json({ framework: 'sveltekit', items: [1, 2, 3] });
}
