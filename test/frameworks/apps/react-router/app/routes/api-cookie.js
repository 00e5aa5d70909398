import { createCookie } from 'react-router';

const name = createCookie('name', { path: '/', httpOnly: true, sameSite: 'lax' });

export async function loader() {
  return Response.json({ set: true }, { headers: { 'Set-Cookie': await name.serialize('qilin') } });
}
