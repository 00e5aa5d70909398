import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Koa 3',
  packages: ['koa', '@koa/router'],
  own: { argv: ['node', 'server.js'] },
  qilin: { app: 'app.js', engines: ['node'] },
  requests: standardRequests(),
  normalize: (value, field) =>
    // Koa's Set-Cookie carries an Expires computed from maxAge at the time of the response.
    field === 'set-cookie' ? value.replace(/expires=[^;]+/gi, 'expires=<date>') : value,
  notes: 'app.listen() is http.createServer(app.callback()).listen(): qilin serves the same callback, with nothing left out.',
  uwsNeeds:
    'An IncomingMessage and a ServerResponse: Koa wraps them (ctx.req, ctx.res) and calls res.setHeader, ' +
    'res.getHeader, res.removeHeader, res.statusCode/statusMessage, res.headersSent, res.end, and pipes stream bodies ' +
    'into res (stream.pipe(res)); it watches the response with on-finished (res "finish", socket "close"/"error"), ' +
    'reads req.socket.encrypted and remoteAddress (ctx.secure, ctx.ip), and a body parser reads req as a stream.',
} satisfies FrameworkApp;
