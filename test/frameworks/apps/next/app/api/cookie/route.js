import { cookies } from 'next/headers';

export async function GET() {
  (await cookies()).set('name', 'qilin', { path: '/', httpOnly: true, sameSite: 'lax' });
  return Response.json({ set: true });
}
