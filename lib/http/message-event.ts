// The `message` event of a WebSocket whose only message listener is its `onmessage` handler: the
// common case, and the per-message hot path. Node's MessageEvent plus EventTarget dispatch cost
// ~0.7 µs a message on Node 20 (the Event constructor's clock read, its listener walk) and Node 22+
// use undici's MessageEvent, whose WebIDL-checked constructor alone takes ~0.4 µs; with uWS
// echoing a message in ~1.2 µs, that was most of the gap to raw uWS. This event is a plain object
// whose prototype chain ends in the platform's MessageEvent (so `instanceof MessageEvent` and
// `instanceof Event` hold) and shadows every member there, so none of the platform's brand checks
// ever sees it. The socket calls the handler itself, as EventTarget would with one listener.
import { performance } from 'node:perf_hooks';

/** When the loop turn that delivered a message began handling messages (the events' timeStamp). */
let turnStamp = -1;
const endTurn = (): void => {
  turnStamp = -1;
};
/**
 * performance.now() costs ~60 ns here (as much as the rest of the event): one read per loop turn,
 * shared by the messages of that turn (uWS delivers all that one read brought in one turn).
 */
function turnClock(): number {
  if (turnStamp < 0) {
    turnStamp = performance.now();
    setImmediate(endTurn);
  }
  return turnStamp;
}

const NO_PORTS: readonly MessagePort[] = Object.freeze([]);

/** The phases of Event, as the platform numbers them. */
const NONE = 0;
const AT_TARGET = 2;

export class LightMessageEvent {
  #type = 'message';
  #data: unknown;
  #target: EventTarget;
  #stamp: number;
  #dispatching = false;
  #stopped = false;

  constructor(target: EventTarget, data: unknown) {
    if (!linked) linkToPlatform();
    this.#target = target;
    this.#data = data;
    this.#stamp = turnClock();
  }

  /**
   * Call `handler` as EventTarget calls a listener: `this` is the target; an error it throws is
   * reported as uncaught (on the next tick, as Node's EventTarget does) and not thrown to the engine.
   */
  deliver(handler: (this: EventTarget, ev: Event) => unknown): void {
    this.#dispatching = true;
    try {
      handler.call(this.#target, this as unknown as Event);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    } finally {
      this.#dispatching = false;
    }
  }

  // MessageEvent
  get data(): unknown {
    return this.#data;
  }
  get origin(): string {
    return '';
  }
  get lastEventId(): string {
    return '';
  }
  get source(): null {
    return null;
  }
  get ports(): readonly MessagePort[] {
    return NO_PORTS;
  }
  initMessageEvent(type: string, _bubbles?: boolean, _cancelable?: boolean, data?: unknown): void {
    if (this.#dispatching) return;
    this.#type = String(type);
    this.#data = data;
  }

  // Event
  get type(): string {
    return this.#type;
  }
  get target(): EventTarget {
    return this.#target;
  }
  get srcElement(): EventTarget {
    return this.#target;
  }
  get currentTarget(): EventTarget | null {
    return this.#dispatching ? this.#target : null;
  }
  get eventPhase(): number {
    return this.#dispatching ? AT_TARGET : NONE;
  }
  get bubbles(): boolean {
    return false;
  }
  get cancelable(): boolean {
    return false;
  }
  get composed(): boolean {
    return false;
  }
  get defaultPrevented(): boolean {
    return false;
  }
  get returnValue(): boolean {
    return true;
  }
  set returnValue(_value: boolean) {
    // Not cancelable: nothing to prevent.
  }
  get cancelBubble(): boolean {
    return this.#stopped;
  }
  set cancelBubble(value: boolean) {
    if (value) this.#stopped = true;
  }
  get isTrusted(): boolean {
    return false;
  }
  get timeStamp(): number {
    return this.#stamp;
  }
  composedPath(): EventTarget[] {
    return this.#dispatching ? [this.#target] : [];
  }
  preventDefault(): void {
    // Not cancelable: nothing to prevent.
  }
  stopPropagation(): void {
    this.#stopped = true;
  }
  stopImmediatePropagation(): void {
    this.#stopped = true;
  }
  initEvent(type: string): void {
    if (this.#dispatching) return;
    this.#type = String(type);
  }

  [Symbol.for('nodejs.util.inspect.custom')](
    depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    if (depth < 0) return 'MessageEvent';
    const shown = { type: this.#type, defaultPrevented: false, cancelable: false, timeStamp: this.#stamp };
    return `MessageEvent ${inspect(shown, { ...options, depth: depth - 1 })}`;
  }
}

/**
 * `instanceof MessageEvent` and `instanceof Event` hold; `constructor` is the platform's, as on a real
 * one. Linked when the first event is made, not at import: on Node 22+ reading the global
 * MessageEvent loads undici, and the public entry (upgradeWebSocket) must not load it in an app's
 * own process.
 */
let linked = false;
function linkToPlatform(): void {
  linked = true;
  Object.setPrototypeOf(LightMessageEvent.prototype, MessageEvent.prototype);
  Object.defineProperty(LightMessageEvent.prototype, 'constructor', {
    value: MessageEvent,
    writable: true,
    configurable: true,
  });
}
