// A promise that is not awaited is streamed to the page after the shell.
export function load() {
  return {
    late: new Promise((resolve) => setTimeout(() => resolve('streamed after 50 ms'), 50)),
  };
}
