// The pool-overhead case: an app whose answer is a promise, so qilin's pool must adopt it.
export default async function asyncHello(_request: Request): Promise<Response> {
  return new Response('Hello, World!');
}
