import { ROUTED_PATHS, standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

// react-router-serve is an Express app: compression(), express.static for build/client, then
// @react-router/express, whose res.append goes through Express's res.set (a charset on Content-Type).
const compression = "react-router-serve runs Express's compression() in front of the app (br or gzip above 1 KiB, Vary: Accept-Encoding); createRequestHandler's Response is the app's own, uncompressed (the decoded bodies are compared)";
const charset = "@react-router/express copies the Response's headers with Express's res.append, and Express's res.set adds a charset to a Content-Type that has none (text/html becomes text/html; charset=utf-8); createRequestHandler's Response carries the header as the app made it";
const statics = "react-router-serve serves build/client (public/ files and /assets/) with express.static before the app, as React Router's Express template does; createRequestHandler has no static files, so the public file is the app's 404 page";
const staticFields = ['status', 'content-type', 'content-length', 'etag', 'cache-control', 'last-modified', 'body'];

const paths = ROUTED_PATHS;

const app: FrameworkApp = {
  name: 'React Router 7 (framework mode, createRequestHandler)',
  packages: ['react-router', '@react-router/dev', '@react-router/serve', 'react', 'react-dom'],
  build: [{ argv: ['node', '../../node_modules/@react-router/dev/bin.js', 'build'] }],
  buildOutput: ['build'],
  own: { argv: ['node', '../../node_modules/@react-router/serve/bin.js', './build/server/index.js'] },
  qilin: { app: 'server.mjs', engines: ['uws', 'node'] },
  requests: standardRequests(paths),
  differences: [
    { request: '*', field: 'content-encoding', why: compression },
    { request: '*', field: 'vary', why: compression },
    { request: '*', field: 'content-type', why: charset },
    ...(['static', 'static-304'] as const).flatMap((request) => staticFields.map((field) => ({ request, field, why: statics }))),
  ],
  notes:
    "react-router-serve is an Express server: compression, build/client served by express.static (/assets/ with a year's immutable Cache-Control), a morgan access log, PORT/HOST; createRequestHandler(build) is the request handler alone, a fetch handler (request, loadContext) => Response that any server runs",
};

export default app;
