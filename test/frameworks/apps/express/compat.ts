import { standardRequests } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

export default {
  name: 'Express 5',
  packages: ['express'],
  own: { argv: ['node', 'server.js'] },
  qilin: { app: 'app.js', engines: ['node'] },
  requests: standardRequests(),
  normalize: (value, field) =>
    // res.cookie's maxAge becomes an Expires computed at the time of the response.
    field === 'set-cookie' ? value.replace(/expires=[^;]+/gi, 'expires=<date>') : value,
  notes: 'app.listen() is http.createServer(app).listen(): qilin serves the same app, with nothing left out.',
  uwsNeeds:
    'An IncomingMessage and a ServerResponse with their prototypes: Express sets its request and response ' +
    'prototypes onto them (Object.setPrototypeOf(req, app.request), whose prototype is http.IncomingMessage.prototype), ' +
    'so res.send/res.json end in ServerResponse#setHeader/#end and its events (finish, close); express.static ' +
    '(send) pipes a fs.ReadStream into res and reads req.headers, req.method, req.url; body parsers read req as a ' +
    'stream (raw-body: on data/end/error, unpipe, req.socket for nothing). req.socket.remoteAddress for req.ip.',
} satisfies FrameworkApp;
