// The pool-overhead anchor: the same async app called from a bare uWS handler through qilin's own
// request/response adapter, with no pool in between (each request runs as soon as it arrives).
import { createHandler, type FetchHandler, type Listener } from '../../lib/http/handler.js';
import { installLightResponse } from '../../lib/http/response.js';
import { loadUws } from '../../lib/uws.js';

installLightResponse();
const { default: app } = (await import('../apps/async-hello.js')) as { default: FetchHandler };
const port = Number(process.env.PORT);
const listener: Listener = {
  app,
  accessLog: null,
  authority: `127.0.0.1:${port}`,
  draining: false,
  submit: (ex) => { void ex.run(); },
  requestDone: () => {},
  onError: (msg, err) => console.error(msg, err),
};
loadUws().uws.App().any('/*', createHandler(listener)).listen('127.0.0.1', port, (s) => {
  if (!s) { console.error(`cannot listen on ${port}`); process.exit(1); }
});
