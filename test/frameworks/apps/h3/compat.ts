import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'h3 2',
  packages: ['h3', 'srvx'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  requests: standardRequests(),
  differences: [
    {
      request: 'set-cookie',
      field: 'content-type',
      why:
        "A handler's string becomes srvx's NodeResponse: srvx's own server writes it by a fast path that adds " +
        '`text/plain; charset=UTF-8` (and a Content-Length) itself; qilin reads it as any Response, whose Content-Type ' +
        "for a string is the fetch standard's `text/plain;charset=UTF-8` (and whose body is a stream: chunked).",
    },
  ],
  notes:
    "serve() is srvx's Node server around app.fetch (it freezes the app's routes first); qilin serves the same fetch. " +
    "srvx also handles SIGINT/SIGTERM with a graceful close, which qilin's own graceful stop replaces.",
} satisfies FrameworkApp;
