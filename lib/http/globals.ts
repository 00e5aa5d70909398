// What every worker puts in place of the platform's fetch globals before it loads the app:
// `new Response(...)` and `new Headers(...)` in app code make the light classes (as
// @hono/node-server does with its Response), and `new Request(request)` / `fetch(request)` take the
// request qilin served. The platform's classes are kept first (lib/http/platform.ts), to be loaded
// and linked under the light ones when an app needs them.
import { installLightHeaders } from './headers.js';
import { installPlatformGlobals } from './platform.js';
// Imported for its registration with platform.ts: the global Request takes its objects as input.
import './request.js';
import { LightResponse } from './response.js';

export function installLightGlobals(): void {
  installPlatformGlobals();
  (globalThis as { Response: unknown }).Response = LightResponse;
  installLightHeaders();
}
