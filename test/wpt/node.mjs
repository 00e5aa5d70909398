// The baseline: the same runner and the same fixture app under plain Node (its own undici `Request`,
// `Response`, `Headers`), no qilin. Serves test/fixtures/wpt-app.mjs on node:http on a free loopback
// port in this process, runs the directories given (all four by default) one file at a time, and
// writes `{ "<dir>": [fileResult, ...], ... }` as JSON to stdout.
//
//   node test/wpt/node.mjs [request|response|headers|body ...]
import http from 'node:http';
import { Readable } from 'node:stream';
import wptApp from '../fixtures/wpt-app.mjs';
import { DIRECTORIES, runDirectory } from './runner.mjs';

/** A fetch-style app on node:http. */
function serve(app) {
  return http.createServer(async (req, res) => {
    try {
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
        ...(hasBody ? { body: Readable.toWeb(req), duplex: 'half' } : {}),
      });
      const response = await app(request);
      res.writeHead(response.status, [...response.headers].flat());
      if (response.body) {
        const reader = response.body.getReader();
        res.on('close', () => {
          reader.cancel().catch(() => {});
        });
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          res.write(value);
        }
      }
      res.end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    }
  });
}

const dirs = process.argv.slice(2).length ? process.argv.slice(2) : DIRECTORIES;
const server = serve(wptApp);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const out = {};
for (const dir of dirs) out[dir] = await runDirectory(dir, { origin });
process.stdout.write(JSON.stringify(out) + '\n');
server.closeAllConnections();
server.close();
// Tests that timed out may leave timers and streams behind: this process has answered.
process.exit(0);
