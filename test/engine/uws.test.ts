// The uws engine (uWebSockets.js) in this process, without an arbiter: the shared engine suite, and
// how uWS treats what its own parser refuses. Skipped, with the reason, where no native build loads.
import t from 'tap';
import { RawClient } from './client.js';
import { serve, uwsUnavailable } from './serve.js';
import { engineSuite } from './suite.js';

const unavailable = uwsUnavailable();
if (unavailable !== null) {
  t.plan(0, `the uws engine cannot run here: ${unavailable}`);
} else {
  engineSuite(t, 'uws');

  t.test("what uWS's own parser refuses never reaches the app, and is never answered 2xx", async (t) => {
    let ran = 0;
    const served = await serve('uws', () => {
      ran++;
      return new Response('never');
    });
    t.teardown(() => served.stop());
    for (const [what, bytes] of [
      ['a header line with no colon', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n'],
      ['no request line at all', 'HELLO\r\n\r\n'],
    ]) {
      const c = await RawClient.connect(served.port);
      c.write(bytes!);
      // uWS closes such a connection, or holds it until its own timeout (depending on the build).
      await c.until(() => c.closed, 300);
      c.destroy();
      t.notMatch(c.text, /^HTTP\/1\.1 2/, `${what}: no 2xx`);
    }
    t.equal(ran, 0, 'the app never ran');
  });
}
