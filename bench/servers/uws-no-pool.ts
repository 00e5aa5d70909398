// The pool-overhead anchor: the same async app called from a bare uWS handler through qilin's own
// request/response adapter, with no pool in between (each request runs as soon as it arrives).
import { createHandler } from '../../lib/engines/uws/handler.js';
import type { FetchHandler } from '../../lib/app/shapes.js';
import type { BindContext } from '../../lib/http/contracts.js';
import { forwardedPolicy } from '../../lib/http/forwarded.js';
import { requestLimits } from '../../lib/http/rules.js';
import { defaultSettings } from '../../lib/config/settings.js';
import { installLightGlobals } from '../../lib/http/globals.js';
import { loadUws } from '../../lib/engines/uws/load.js';
import { uwsEngine } from '../../lib/engines/uws/server.js';
import { WebSocketHub } from '../../lib/http/websocket.js';

installLightGlobals();
const { default: app } = (await import('../apps/async-hello.js')) as { default: FetchHandler };
const port = Number(process.env.PORT);
const context: BindContext = {
  app,
  nodeApp: null,
  requestLog: null,
  authority: `127.0.0.1:${port}`,
  forwarded: forwardedPolicy(defaultSettings({})),
  unixPath: null,
  scheme: 'http',
  limits: requestLimits(defaultSettings({})),
  draining: false,
  submit: (ex) => {
    void ex.run();
  },
  release: () => {},
  requestDone: () => {},
  writePiece: uwsEngine.writePiece,
  closesAtOnce: true,
  writesDate: true,
  headInStatus: true,
  onError: (msg, err) => console.error(msg, err),
  note: () => {},
  websockets: new WebSocketHub(16 * 1024 * 1024),
};
loadUws()
  .uws.App()
  .any('/*', createHandler(context))
  .listen('127.0.0.1', port, (s) => {
    if (!s) {
      console.error(`cannot listen on ${port}`);
      process.exit(1);
    }
  });
