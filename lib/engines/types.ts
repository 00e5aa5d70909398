// What a worker asks of an engine: serve one bind with its BindContext, stop accepting, close.
import type { BindAddress } from '../config/binds.js';
import type { Settings } from '../config/settings.js';
import type { BindContext } from '../http/contracts.js';

/** A bind as a worker gets it: with the engine that shares sockets, the fd the arbiter passed. */
export type ServedBind = BindAddress & { childFd?: number };

/** An engine's server for one bind in a worker, once it listens (a uWS app, a node:http server). */
export interface EngineServer {
  /** Stop accepting connections (graceful stop); open ones are served on. */
  stopListening(): void;
  /** Close the server and every connection left. */
  close(): void;
  /**
   * While the worker stops: the connections still open, and whether one of them has response bytes
   * still to send (it is not idle then); null when the engine cannot tell.
   */
  connections(): { open: number; sending: boolean } | null;
}

export interface ServingEngine {
  /** The largest piece of a streamed body one write takes (0: any size); see BindContext.writePiece. */
  readonly writePiece: number;
  /**
   * The engine closes a connection the moment its last response is written, with no lingering
   * close: unread request bytes then make the kernel reset it (see Exchange.drainFirst).
   */
  readonly closesAtOnce: boolean;
  /** The engine writes a Date header of its own on every response (uWS): the app's is left out, so one goes out. */
  readonly writesDate: boolean;
  /**
   * The status line may carry the header lines after it (uWS writes `HTTP/1.1 `, the status text as
   * given, then CRLF): the whole head goes out in one call instead of one per header.
   */
  readonly headInStatus: boolean;
  /** Load what the engine needs; returns what it runs on (for the debug log), throws when it cannot. */
  boot(): string;
  /** Serve `bind` with `context`; resolves once listening. Rejects with a message for the error log. */
  listen(bind: ServedBind, context: BindContext, settings: Settings): Promise<EngineServer>;
}

export class ListenFailed extends Error {}
