import { json } from '@sveltejs/kit';

export function GET({ cookies }) {
  cookies.set('name', 'qilin', { path: '/', httpOnly: true, sameSite: 'lax', secure: false });
  return json({ set: true });
}
