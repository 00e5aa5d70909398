// A custom server as Next's docs describe it, without the listen: qilin serves the handler.
import next from 'next';

const app = next({ dev: false, dir: import.meta.dirname });
await app.prepare();

export const handler = app.getRequestHandler();
