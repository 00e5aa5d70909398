export function load({ cookies }) {
  return { name: cookies.get('name') ?? 'stranger' };
}
