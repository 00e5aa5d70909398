export function GET({ cookies }) {
  cookies.set('name', 'qilin', { path: '/', httpOnly: true, sameSite: 'lax' });
  return Response.json({ set: true });
}
