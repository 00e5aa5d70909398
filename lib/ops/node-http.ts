// node:http, loaded as CommonJS. An ES `import` of node:http reads every export to fill the module
// namespace, and on Node 22+ three of them (WebSocket, CloseEvent, MessageEvent) are lazy getters
// that load undici: up to ~18 MB of RSS (measured in a bare process; 8 MB of it private) in every
// process that imports it, whether or not anything there touches the platform's fetch classes.
// Types come from `import type`.
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

export const nodeHttp = createRequire(import.meta.url)('node:http') as typeof Http;
