// The request set most apps answer, on the same paths: a manifest takes it as it is, or with its own
// paths (`standardRequests({ json: '/api/items/1.json' })`), or leaves some out (`omit`).
import type { CompatRequest, RequestName } from './types.js';

export const FORM = 'name=Ada+Lovelace&lang=ts';
export const JSON_BODY = JSON.stringify({ name: 'Ada', tags: ['math', 'engines'], n: 1843 });

/** The paths of the apps whose frameworks route by file (Next.js, SvelteKit, Nuxt, Astro, React Router). */
export const ROUTED_PATHS = {
  json: '/api/json',
  'post-json': '/api/echo',
  'post-form': '/api/echo',
  static: '/hello.txt',
  redirect: '/go',
  'set-cookie': '/api/cookie',
  'not-found': '/nope',
  stream: '/stream',
} as const satisfies Partial<Record<RequestName, string>>;

export function standardRequests(
  paths: Partial<Record<RequestName, string>> = {},
  omit: readonly RequestName[] = [],
): CompatRequest[] {
  const p = (name: RequestName, fallback: string) => paths[name] ?? fallback;
  const all: CompatRequest[] = [
    { name: 'page', path: p('page', '/') },
    { name: 'page-cookie', path: p('page-cookie', p('page', '/')), headers: { cookie: 'name=Ada; theme=dark' } },
    { name: 'json', path: p('json', '/api/items/1') },
    {
      name: 'post-json',
      method: 'POST',
      path: p('post-json', '/api/echo'),
      headers: { 'content-type': 'application/json' },
      body: JSON_BODY,
    },
    {
      name: 'post-form',
      method: 'POST',
      path: p('post-form', '/form'),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: FORM,
    },
    { name: 'static', path: p('static', '/static/style.css') },
    { name: 'static-304', path: p('static-304', p('static', '/static/style.css')), conditionalOn: 'static' },
    { name: 'redirect', path: p('redirect', '/old') },
    { name: 'set-cookie', path: p('set-cookie', '/login') },
    { name: 'not-found', path: p('not-found', '/no/such/page') },
    { name: 'head', method: 'HEAD', path: p('head', p('page', '/')) },
    { name: 'stream', path: p('stream', '/stream') },
  ];
  return all.filter((r) => !omit.includes(r.name));
}
