export default defineEventHandler((event) => {
  setCookie(event, 'name', 'qilin', { path: '/', httpOnly: true, sameSite: 'lax' });
  return { set: true };
});
