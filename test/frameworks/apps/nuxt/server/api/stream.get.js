// Three chunks 20 ms apart: the response goes out as they come.
export default defineEventHandler((event) => {
  setHeader(event, 'content-type', 'text/plain; charset=utf-8');
  const encoder = new TextEncoder();
  let n = 0;
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.enqueue(encoder.encode(`chunk ${++n}\n`));
      if (n === 3) controller.close();
    },
  });
});
