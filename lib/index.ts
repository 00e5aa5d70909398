// qilin's public API, for config files and tooling.
export { defineConfig, type QilinConfig } from './config/resolve.js';
export type { FetchHandler, RemoteAddr, ServeInfo } from './app/shapes.js';
export {
  upgradeWebSocket,
  QilinWebSocket,
  type UpgradeWebSocketOptions,
  type WebSocketUpgrade,
} from './http/websocket.js';
export { earlyHints, type EarlyHintsInit } from './http/early-hints.js';
export { SETTINGS, type SettingDef, type Settings } from './config/settings.js';
export { VERSION } from './version.js';
