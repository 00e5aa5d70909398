// The "mixed" case: hello on GET /, and on GET /stream a streamed body (3 chunks of 1 KB from a
// ReadableStream, so no content-length: chunked). The bench sends 1 request in 100 to /stream.
const CHUNK = new TextEncoder().encode('x'.repeat(1024));
const CHUNKS = 3;

export default function mixed(request: Request): Response {
  const url = request.url;
  const path = url.slice(url.indexOf('/', 8));
  if (path === '/stream') {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(CHUNK);
        if (++sent === CHUNKS) controller.close();
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  }
  return new Response('Hello, World!');
}
