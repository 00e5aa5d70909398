export function loader({ request }) {
  const name = /(?:^|;\s*)name=([^;]*)/.exec(request.headers.get('cookie') ?? '')?.[1];
  return { name: name ? decodeURIComponent(name) : 'stranger' };
}

export default function Home({ loaderData }) {
  return <h1>Hello, {loaderData.name}</h1>;
}
