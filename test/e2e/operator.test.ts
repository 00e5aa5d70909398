// What an operator meets first: the command line's output in a pipe, a config file that does not
// load, how fast a stop is, the warnings at start, --help, the start-up log under systemd, and qilin
// run through npm.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ENGINES, QILIN, ROOT, fixture, freePort, request, runQilin, sleep, startQilin } from '../helpers.js';

type T = { teardown(fn: () => void | Promise<void>): void };

/** Process groups this file started outside startQilin: killed even if teardown never runs. */
const groups = new Set<number>();
const killGroup = (pid: number) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
};
process.on('exit', () => {
  for (const pid of groups) killGroup(pid);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    for (const pid of groups) killGroup(pid);
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/** Start `cmd args` in a process group of its own, killed (with all it started) at teardown. */
function own(t: T, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  // `env` is the whole environment when given (withoutNpm() must not get npm's variables back).
  const proc = spawn(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.add(proc.pid!);
  t.teardown(() => {
    killGroup(proc.pid!);
    groups.delete(proc.pid!);
  });
  return proc;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Everything a process wrote, once it and every process holding its output are done. */
function ended(proc: ChildProcess): Promise<Ended> {
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d) => {
    stdout += d;
  });
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    proc.on('exit', (c, s) => resolve([c, s])),
  );
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  return Promise.all([exit, closed]).then(([[code, signal]]) => ({ code, signal, stdout, stderr }));
}

function tempDir(t: T, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qilin-operator-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const BASH = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim() || null;

// 1. Output into a closed pipe ----------------------------------------------------------------------

t.test(
  '--print-config | head -1: the first line, no EPIPE stack, exit 0',
  { skip: BASH ? false : 'bash is not installed' },
  async (t) => {
    for (let i = 0; i < 3; i++) {
      const q = JSON.stringify(QILIN);
      const r = await ended(
        own(t, BASH!, [
          '-c',
          `${JSON.stringify(process.execPath)} ${q} --print-config | head -1; exit \${PIPESTATUS[0]}`,
        ]),
      );
      t.match(r.stdout, /^\w+\s+= .*\n$/, 'one line of the config');
      t.equal(r.stderr, '', 'nothing on stderr');
      t.equal(r.code, 0, 'qilin exits 0');
    }
  },
);

t.test('--help, --version, --print-config into a pipe closed before they write: quiet, exit 0', async (t) => {
  for (const args of [['--help'], ['--version'], ['-v'], ['--print-config'], ['--print-config', '-w', '3', 'app.ts']]) {
    const proc = own(t, process.execPath, [QILIN, ...args]);
    proc.stdout!.destroy(); // the reader is gone: every write qilin makes fails with EPIPE
    const r = await ended(proc);
    t.notMatch(r.stderr, /EPIPE|Error|\n\s+at /, `${args.join(' ')}: no stack on stderr`);
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`);
  }
});

// 2. A config file that does not load ---------------------------------------------------------------

t.test('a syntax error in a config file: one line naming file, line, column and reason; exit 1', async (t) => {
  const dir = tempDir(t, 'config');
  const broken = 'export default {\n  workers: 2,\n  timeout: (30\n};\n'; // the ')' is missing: found at 4:1
  for (const name of ['conf.ts', 'conf.mjs', 'conf.js']) {
    writeFileSync(path.join(dir, name), broken);
    const r = await runQilin(['-c', name, fixture('app.ts')], { cwd: dir });
    t.equal(r.code, 1, `${name}: exit 1, as Gunicorn's for a config file it cannot read`);
    t.equal(
      r.output,
      `Error: Failed to read config file: ${path.join(dir, name)}:4:1: Expected ")" but found "}"\n`,
      `${name}: one line`,
    );
  }
  // One that throws as it loads keeps its message, and the exit code.
  writeFileSync(path.join(dir, 'throws.mjs'), "throw new Error('no database URL');\n");
  const r = await runQilin(['-c', 'throws.mjs', fixture('app.ts')], { cwd: dir });
  t.equal(r.code, 1);
  t.equal(r.output, `Error: Failed to read config file: ${path.join(dir, 'throws.mjs')} (no database URL)\n`);
});

t.test("an app's syntax error is told the same way", async (t) => {
  const dir = tempDir(t, 'app');
  writeFileSync(path.join(dir, 'app.mjs'), 'export default {\n  fetch() {\n    return new Response("x"\n  }\n};\n');
  const r = await runQilin(['--check-config', 'app.mjs'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.output, `Failed to load module app.mjs: ${path.join(dir, 'app.mjs')}:4:3: Expected ")" but found "}"\n`);
});

// 3. A graceful stop takes no longer than what is open needs -----------------------------------------

for (const engine of ENGINES)
  t.test(`${engine}: TERM with --keep-alive 5`, async (t) => {
    t.test('an idle server exits at once', async (t) => {
      const q = await startQilin(t, ['--keep-alive', '5', fixture('app.ts')], { engine });
      t.equal((await request(q.url + '/')).status, 200); // served something, on a connection now closed
      const t0 = Date.now();
      q.signal('SIGTERM');
      t.same(await q.exited, { code: 0, signal: null }, 'exit 0');
      const took = Date.now() - t0;
      t.ok(took < 2000, `exited ${took} ms after TERM (not keepalive's 5 s)`);
    });

    t.test('an idle keep-alive connection is closed, and the server exits', async (t) => {
      const q = await startQilin(t, ['--keep-alive', '5', fixture('app.ts')], { engine });
      const sock = net.connect(q.port, '127.0.0.1');
      sock.on('error', () => {});
      let text = '';
      sock.on('data', (d) => {
        text += d;
      });
      const closed = new Promise<number>((resolve) => sock.on('close', () => resolve(Date.now())));
      sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let i = 0; i < 200 && !text.includes('Hello, World!'); i++) await sleep(10);
      t.match(text, /Hello, World!/, 'answered');
      t.notMatch(text, /connection: close/i, 'and kept alive');
      await sleep(200);
      const t0 = Date.now();
      q.signal('SIGTERM');
      const closedIn = (await closed) - t0;
      t.ok(closedIn < 2000, `the client saw its connection closed ${closedIn} ms after TERM`);
      t.same(await q.exited, { code: 0, signal: null }, 'exit 0');
      const took = Date.now() - t0;
      t.ok(took < 2000, `exited ${took} ms after TERM`);
    });

    t.test('a request in flight is still answered', async (t) => {
      const q = await startQilin(t, ['--keep-alive', '5', '--graceful-timeout', '10', fixture('app.ts')], { engine });
      const slow = request(q.url + '/slow?ms=1500');
      await sleep(300);
      const t0 = Date.now();
      q.signal('SIGTERM');
      const r = await slow;
      t.equal(r.status, 200, 'answered');
      t.match(r.body, /"seen":1/);
      t.same(await q.exited, { code: 0, signal: null }, 'exit 0');
      const took = Date.now() - t0;
      t.ok(took > 1000 && took < 3000, `exited once it was answered (${took} ms after TERM)`);
    });
  });

// 4. The tcp_migrate_req warning, only where it applies ----------------------------------------------

const MIGRATE_WARNING = /tcp_migrate_req=0: when a worker stops/;
/** net.ipv4.tcp_migrate_req now ('0', '1'), or null where the kernel has none. */
const migrateReq = (): string | null => {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    return null;
  }
};

t.test('the tcp_migrate_req warning: not on the node engine', async (t) => {
  const q = await startQilin(t, ['--engine', 'node', fixture('app.ts')]);
  await q.waitFor(/Using engine: node/);
  t.notMatch(q.output, MIGRATE_WARNING, '--engine node');
  const express = await startQilin(t, [fixture('node-apps/express-app.mjs')]); // engine unset: moved to node
  await express.waitFor(/Using engine: node \(node:http\) \(.* a Node-style app\)/);
  await express.waitFor(/Worker \(pid:\d+\) ready/);
  t.notMatch(express.output, MIGRATE_WARNING, 'an Express app with engine unset');
});

const MIGRATE_NOW = migrateReq();
t.test(
  'the tcp_migrate_req warning: on the uws engine when the kernel setting is 0',
  {
    skip: MIGRATE_NOW === '0' ? false : `net.ipv4.tcp_migrate_req is ${MIGRATE_NOW ?? 'not there'}`,
  },
  async (t) => {
    // Another test file may turn the setting on for a while (helpers.enableReusePortMigration).
    const changed = () => migrateReq() !== '0';
    const q = await startQilin(t, [fixture('app.ts')]); // engine unset: uws, settled by the first worker
    await q.waitFor(/Using engine: uws/);
    if (changed()) {
      t.pass('net.ipv4.tcp_migrate_req changed meanwhile: not checked');
      return;
    }
    await q.waitFor(MIGRATE_WARNING);
    t.equal(q.output.match(new RegExp(MIGRATE_WARNING.source, 'g'))?.length, 1, 'said once');
    const explicit = await startQilin(t, ['--engine', 'uws', fixture('app.ts')]);
    if (changed()) {
      t.pass('net.ipv4.tcp_migrate_req changed meanwhile: not checked');
      return;
    }
    await explicit.waitFor(MIGRATE_WARNING);
    t.pass('--engine uws: said at start');
  },
);

// 5. --help names every kind of app ----------------------------------------------------------------

t.test('--help: EXPORT is a fetch app or a Node-style app', async (t) => {
  const r = await runQilin(['--help']);
  t.equal(r.code, 0);
  t.notMatch(r.output, /must be a fetch app/, 'no longer says fetch apps only');
  t.match(r.output, /EXPORT defaults to `default` and is a fetch app/);
  t.match(r.output, /a Node-style app \(Express, Fastify, Koa, NestJS, a \(req, res\) handler, an http\.Server\)/);
  t.match(r.output, /factory call/);
});

// 7. Started through npm -----------------------------------------------------------------------------

const NPM = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim() || null;

/** This environment without what npm sets for the commands it runs. */
function withoutNpm(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);

/** Output of `proc` and the processes it started, as it comes. */
function collect(proc: ChildProcess): { text: string } {
  const out = { text: '' };
  proc.stdout!.on('data', (d) => {
    out.text += d;
  });
  proc.stderr!.on('data', (d) => {
    out.text += d;
  });
  return out;
}

async function until(what: string, ok: () => boolean, out: { text: string }, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${out.text}`);
    await sleep(50);
  }
}

t.test(
  'npm exec: TERM to npm stops qilin gracefully, though npm does not pass it on',
  { skip: NPM ? false : 'npm is not installed' },
  async (t) => {
    const dir = tempDir(t, 'npm');
    const port = await freePort();
    // What `npx qilin app.ts` runs: npm, a shell it starts (sh -c), and qilin under it.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(QILIN)} --log-level debug -b 127.0.0.1:${port} ${JSON.stringify(fixture('app.ts'))}`;
    const npm = own(t, NPM!, ['exec', '--offline', '--yes', '-c', cmd], { cwd: dir, env: withoutNpm() });
    const out = collect(npm);
    await until('a worker ready', () => /Worker \(pid:\d+\) ready/.test(out.text), out, 30000);
    const arbiter = Number(/\[(\d+)\] \[INFO\] Starting qilin/.exec(out.text)![1]);
    const parent = parentOf(arbiter);
    t.equal((await request(`http://127.0.0.1:${port}/`)).status, 200, 'serving under npm');
    npm.kill('SIGTERM');
    await until('the arbiter gone', () => !alive(arbiter), out);
    t.match(out.text, /Shutting down: Master/, 'qilin stopped');
    t.notMatch(out.text, /SIGKILL|WORKER TIMEOUT/);
    if (parent !== npm.pid) {
      // /bin/sh did not exec qilin (dash): npm's TERM went to the shell, which died of it.
      t.match(
        out.text,
        new RegExp(
          `\\[INFO\\] Parent process ${parent} is gone \\(qilin was started by npm, which does not pass TERM on\\): graceful stop, as on TERM`,
        ),
      );
    } else {
      t.match(out.text, /Handling signal: term/, "the shell exec'd qilin: npm passed TERM to it");
    }
  },
);

t.test('a parent that dies: qilin started by npm stops; otherwise it serves on (as Gunicorn)', async (t) => {
  for (const npm of [false, true]) {
    const port = await freePort();
    const env = npm ? { ...withoutNpm(), npm_lifecycle_event: 'start', npm_command: 'run-script' } : withoutNpm();
    const sh = own(
      t,
      'sh',
      [
        '-c',
        `${JSON.stringify(process.execPath)} ${JSON.stringify(QILIN)} --log-level debug -b 127.0.0.1:${port} ${JSON.stringify(fixture('app.ts'))} & wait`,
      ],
      { env },
    );
    const out = collect(sh);
    await until('a worker ready', () => /Worker \(pid:\d+\) ready/.test(out.text), out, 30000);
    const arbiter = Number(/\[(\d+)\] \[INFO\] Starting qilin/.exec(out.text)![1]);
    t.equal(parentOf(arbiter), sh.pid, 'the shell is its parent');
    sh.kill('SIGKILL');
    if (npm) {
      await until('the arbiter gone', () => !alive(arbiter), out);
      t.match(out.text, `[INFO] Parent process ${sh.pid} is gone`, 'npm: the parent going away stops it');
      t.match(out.text, /Shutting down: Master/);
    } else {
      await sleep(2500);
      t.ok(alive(arbiter), 'not started by npm: it serves on');
      t.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
      process.kill(arbiter, 'SIGTERM');
      await until('the arbiter gone', () => !alive(arbiter), out);
    }
  }
});
