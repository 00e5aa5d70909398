// The message event a WebSocket hands its onmessage handler when that is its only message listener
// (lib/http/message-event.ts). Its prototype chain ends in the platform's MessageEvent, whose
// members check their receiver's brand: every one of them must be shadowed, on whichever Node runs
// this, or an app touching it would get a TypeError.
import { inspect } from 'node:util';
import t from 'tap';
import { LightMessageEvent } from '../../lib/http/message-event.js';

/** Every member an event inherits from the platform, by prototype. */
function platformMembers(): [object, string | symbol][] {
  const out: [object, string | symbol][] = [];
  for (
    let p: object | null = MessageEvent.prototype;
    p !== null && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  )
    for (const key of Reflect.ownKeys(p)) if (key !== 'constructor' && key !== Symbol.toStringTag) out.push([p, key]);
  return out;
}

t.test('every member of the platform MessageEvent and Event is shadowed and works', async (t) => {
  const target = new EventTarget();
  const ev = new LightMessageEvent(target, 'hi') as unknown as Record<string | symbol, unknown>;
  const members = platformMembers();
  t.ok(members.length >= 20, `${members.length} members found`);
  for (const [proto, key] of members) {
    const own = Object.getOwnPropertyDescriptor(LightMessageEvent.prototype, key);
    t.ok(own, `${String(key)} (of ${proto.constructor.name}) is the light event's own`);
    const platform = Object.getOwnPropertyDescriptor(proto, key)!;
    const args = typeof key === 'symbol' ? [2, {}, inspect] : ['message']; // the symbol: util.inspect.custom
    if (typeof platform.value === 'function')
      t.doesNotThrow(() => (ev[key] as (...a: unknown[]) => unknown).apply(ev, args), `${String(key)}() runs`);
    else if (platform.get) t.doesNotThrow(() => ev[key], `${String(key)} reads`);
  }
});

t.test('it is a MessageEvent to instanceof, constructor, toString and inspect', async (t) => {
  const ev = new LightMessageEvent(new EventTarget(), 'hi') as unknown as MessageEvent;
  t.ok(ev instanceof MessageEvent);
  t.ok(ev instanceof Event);
  t.equal(ev.constructor, MessageEvent);
  t.equal(Object.prototype.toString.call(ev), Object.prototype.toString.call(new MessageEvent('message')));
  t.match(inspect(ev), /^MessageEvent \{\n?\s*type: 'message',/);
  t.equal(inspect({ ev }, { depth: 0 }), '{ ev: MessageEvent }', 'past the depth: the name only');
});

t.test('during the handler and after, as a dispatched event', async (t) => {
  await new Promise((r) => setImmediate(r)); // a fresh loop turn: its clock is read by this event
  const target = new EventTarget();
  const before = performance.now();
  const ev = new LightMessageEvent(target, { n: 1 });
  let seen: unknown[] = [];
  ev.deliver(function (this: EventTarget, e: Event) {
    const m = e as MessageEvent;
    e.stopPropagation();
    seen = [this === target, m.data, m.type, m.target === target, m.currentTarget === target, m.eventPhase];
    seen.push(m.composedPath().length, m.cancelBubble, m.defaultPrevented, m.isTrusted, m.origin, m.source, m.ports);
    m.initEvent('other'); // ignored while dispatching, as the platform does
    seen.push(m.type);
  });
  t.same(seen, [true, { n: 1 }, 'message', true, true, 2, 1, true, false, false, '', null, [], 'message']);
  const m = ev as unknown as MessageEvent;
  t.equal(m.currentTarget, null, 'no currentTarget after dispatch');
  t.equal(m.eventPhase, 0);
  t.same(m.composedPath(), []);
  t.equal(m.target, target, 'the target stays');
  t.ok(m.timeStamp >= before && m.timeStamp <= performance.now(), 'timeStamp: this loop turn');
  t.ok(Object.isFrozen(m.ports));
});

t.test('messages of one loop turn share one clock read; the next turn reads it anew', async (t) => {
  const a = new LightMessageEvent(new EventTarget(), 1) as unknown as MessageEvent;
  const b = new LightMessageEvent(new EventTarget(), 2) as unknown as MessageEvent;
  t.equal(a.timeStamp, b.timeStamp);
  await new Promise((r) => setTimeout(r, 20));
  const c = new LightMessageEvent(new EventTarget(), 3) as unknown as MessageEvent;
  t.ok(c.timeStamp >= a.timeStamp + 10, 'a later turn, a later stamp');
});

t.test('a handler that throws: reported as uncaught on the next tick, not thrown to the engine', async (t) => {
  const err = new Error('boom');
  const heard = new Promise<unknown>((resolve) => {
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (e) => {
      for (const l of listeners) process.on('uncaughtException', l);
      resolve(e);
    });
  });
  const ev = new LightMessageEvent(new EventTarget(), 'x');
  t.doesNotThrow(() =>
    ev.deliver(() => {
      throw err;
    }),
  );
  t.equal((ev as unknown as MessageEvent).eventPhase, 0, 'the dispatch ended all the same');
  t.equal(await heard, err);
});
