// The one table of settings. The CLI parser, config file, env handling, validation, `--help`,
// `--print-config` and the table in docs/settings.md are all generated from it, and so is the
// `Settings` type: each entry's kind (and a null default: unset) gives its value's type.

export type SettingType = 'int' | 'float' | 'string' | 'bool' | 'list' | 'choice' | 'map';

interface SettingBase<N extends string> {
  name: N;
  section: string;
  flags: readonly string[];
  meta?: string;
  /** How the default reads in docs when it is computed at start-up. */
  defaultText?: string;
  desc: string;
}

/** Decimal, or 0o/0x as Python's int(x, 0); `min` and `max` inclusive. */
export interface IntSetting<N extends string = string> extends SettingBase<N> {
  type: 'int';
  min?: number;
  max?: number;
  default: number;
  /**
   * `auto` is accepted too, and read as AUTO (settled by resolveConfig, which knows the environment
   * and says where the number came from): `workers` only.
   */
  auto?: true;
}

/** An `auto` int setting before resolveConfig settles it (no such setting accepts 0). */
export const AUTO = 0;

/** Decimal seconds: `1`, `0.5` (no exponent, no hex); `min` and `max` inclusive. */
export interface FloatSetting<N extends string = string> extends SettingBase<N> {
  type: 'float';
  min?: number;
  max?: number;
  default: number;
}

/** A string; a null default: unset until given. */
export interface StringSetting<N extends string = string> extends SettingBase<N> {
  type: 'string';
  default: string | null;
}

export interface BoolSetting<N extends string = string> extends SettingBase<N> {
  type: 'bool';
  default: boolean;
}

/** Strings; a flag given again adds one. */
export interface ListSetting<N extends string = string> extends SettingBase<N> {
  type: 'list';
  default: readonly string[];
}

/** One of `choices`; a null default: unset until given. */
export interface ChoiceSetting<N extends string = string> extends SettingBase<N> {
  type: 'choice';
  choices: readonly string[];
  /** Other spellings of a choice (`true` for `auto`), as Gunicorn accepts them. */
  aliases?: Readonly<Record<string, string>>;
  /** A choice flag given without a value means this (`--proxy-protocol` alone is `auto`). */
  bare?: string;
  /** Taken in any case (`DEBUG` is `debug`), as Gunicorn lower-cases it. */
  anyCase?: true;
  default: string | null;
}

/** Header names and values (config file only). */
export interface MapSetting<N extends string = string> extends SettingBase<N> {
  type: 'map';
  default: Readonly<Record<string, string>>;
}

/** One entry of the table; its `type` says which kind, and so what its value is. */
export type SettingDef<N extends string = string> =
  | IntSetting<N>
  | FloatSetting<N>
  | StringSetting<N>
  | BoolSetting<N>
  | ListSetting<N>
  | ChoiceSetting<N>
  | MapSetting<N>;

export const WORKER_CLASSES = ['pool', 'sync'] as const;
export const ENGINES = ['uws', 'node'] as const;
export const APP_INTERFACES = ['auto', 'fetch', 'node'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export const RELOAD_ENGINES = ['auto', 'poll', 'inotify'] as const;
export const PROXY_PROTOCOLS = ['off', 'v1', 'v2', 'auto'] as const;
export const HTTP2_CLEARTEXT = ['off', 'prior-knowledge', 'upgrade', 'both'] as const;

export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

const TABLE = [
  {
    name: 'config',
    section: 'Config File',
    flags: ['-c', '--config'],
    meta: 'CONFIG',
    type: 'string',
    default: null,
    defaultText: './qilin.config.ts|.js|.mjs when present',
    desc: 'Config file to load: a module exporting settings (use `defineConfig`).',
  },
  {
    name: 'bind',
    section: 'Server Socket',
    flags: ['-b', '--bind'],
    meta: 'ADDRESS',
    type: 'list',
    default: ['127.0.0.1:8000'],
    defaultText: "['127.0.0.1:8000'] (or ['0.0.0.0:$PORT'])",
    desc: 'Socket to bind: `HOST:PORT`, `[IPv6]:PORT`, `unix:PATH` or `fd://N` (the last two use the node engine). Repeat to bind several.',
  },
  {
    name: 'backlog',
    section: 'Server Socket',
    flags: ['--backlog'],
    meta: 'INT',
    type: 'int',
    min: 1,
    default: 2048,
    desc: 'Most connections waiting to be accepted, per listening socket.',
  },
  {
    name: 'engine',
    section: 'Server Socket',
    flags: ['--engine'],
    meta: 'ENGINE',
    type: 'choice',
    choices: ENGINES,
    default: null,
    defaultText: 'uws (node when a bind or the app needs it, or no native uWS build loads on this Node)',
    desc: '`uws`: uWebSockets.js, each worker its own SO_REUSEPORT listener (fastest; fetch apps only; needs a uWS build whose native binary loads for this Node and glibc: `qilin --version` says which). `node`: node:http on sockets the arbiter creates and every worker accepts from (Node-style apps, HTTP/1.0, unix sockets, fds, systemd, lossless worker replacement).',
  },
  {
    name: 'workers',
    section: 'Worker Processes',
    flags: ['-w', '--workers'],
    meta: 'INT',
    type: 'int',
    min: 1,
    auto: true,
    default: 1,
    defaultText: '$WEB_CONCURRENCY or 1',
    desc: 'Number of worker processes. `auto`: $WEB_CONCURRENCY when set, else one per CPU this process may use: the least of its cgroup CPU quota (rounded up), its cpuset and its CPU affinity; the start-up log says which.',
  },
  {
    name: 'worker_class',
    section: 'Worker Processes',
    flags: ['-k', '--worker-class'],
    meta: 'STRING',
    type: 'choice',
    choices: WORKER_CLASSES,
    default: 'pool',
    desc: '`pool`: up to `worker_connections` concurrent requests per listener; `sync`: one at a time.',
  },
  {
    name: 'worker_connections',
    section: 'Worker Processes',
    flags: ['--worker-connections'],
    meta: 'INT',
    type: 'int',
    min: 1,
    default: 1000,
    desc: 'Most requests a pool runs at once per listener; more wait in arrival order.',
  },
  {
    name: 'max_requests',
    section: 'Worker Processes',
    flags: ['--max-requests'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 0,
    desc: 'Requests a worker serves before it is replaced (0 = never).',
  },
  {
    name: 'max_requests_jitter',
    section: 'Worker Processes',
    flags: ['--max-requests-jitter'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 0,
    desc: 'Random 0..N added to `max_requests` per worker.',
  },
  {
    name: 'max_worker_memory',
    section: 'Worker Processes',
    flags: ['--max-worker-memory'],
    meta: 'MIB',
    type: 'int',
    min: 0,
    default: 0,
    desc: 'A worker whose resident memory (RSS, read by the arbiter every second) passes this many MiB is replaced as for `max_requests`: a new worker first, then the old one stops gracefully (0 = never).',
  },
  {
    name: 'timeout',
    section: 'Worker Processes',
    flags: ['-t', '--timeout'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 30,
    desc: 'Workers silent for more than this many seconds are killed and replaced (0 = never).',
  },
  {
    name: 'request_timeout',
    section: 'Worker Processes',
    flags: ['--request-timeout'],
    meta: 'FLOAT',
    type: 'float',
    min: 0,
    default: 300,
    defaultText: "300 (node:http's own `requestTimeout`)",
    desc: "Seconds a request may wait for its answer, from its arrival until the app answers (a fetch app's Response, a Node-style app's response head); past it the client gets 503 (`Connection: close`), the app's `request.signal` aborts with a `TimeoutError` (a Node-style app's `req` is destroyed) and its pool slot is freed. A body streamed after the answer is not bounded (0 = never).",
  },
  {
    name: 'stuck_stack_disable',
    section: 'Worker Processes',
    flags: ['--no-stuck-stack'],
    type: 'bool',
    default: false,
    desc: 'Do not log the JavaScript stack of a worker about to be killed for `timeout` (saves, per worker, the thread that takes it: 9–18 MiB by Node line, measured: 10 on Node 20, 15 on 22, 18 on 24, 9 on 26).',
  },
  {
    name: 'graceful_timeout',
    section: 'Worker Processes',
    flags: ['--graceful-timeout'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 30,
    desc: 'Seconds a stopping worker has to finish in-flight requests before it is killed.',
  },
  {
    name: 'keepalive',
    section: 'Worker Processes',
    flags: ['--keep-alive'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 2,
    desc: "Seconds an idle keep-alive connection is kept open, on the node engine (0: every response closes); on the uws engine uWS's own idle timeout applies. A stopping worker does not wait for it: it closes idle connections once they have been quiet for half a second.",
  },
  {
    name: 'header_timeout',
    section: 'Worker Processes',
    flags: ['--header-timeout'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 10,
    desc: "node engine: seconds a client has to send a request's headers, counted from the connection's start (or the request's first byte on a kept-alive connection), checked about every second (with TLS, the handshake has the same deadline); a client that sent part of them gets 408 Request Timeout, one that sent nothing is closed without an answer (0: node:http's own 60 s, checked every 30 s). 10 s lets a client on a bad link lose three packets in a row (TCP resends after 1, 2 and 4 s) and still be served, while a client that sends too slowly (slowloris) holds its connection for 10 s, not node:http's 60–90 s. The uws engine has uWebSockets.js's own fixed 10 s.",
  },
  {
    name: 'umask',
    section: 'Server Mechanics',
    flags: ['-m', '--umask'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 0,
    desc: 'umask for the unix sockets the arbiter creates (`0o007`, `0x7` or decimal).',
  },
  {
    name: 'limit_request_line',
    section: 'Security',
    flags: ['--limit-request-line'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 8190,
    default: 4094,
    desc: 'Longest request line (method, target, version) in bytes; longer gets 400 (0 = no limit).',
  },
  {
    name: 'limit_request_fields',
    section: 'Security',
    flags: ['--limit-request-fields'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 32768,
    default: 100,
    desc: 'Most header fields in a request; more gets 431 (0 = 32768, the most allowed).',
  },
  {
    name: 'limit_request_field_size',
    section: 'Security',
    flags: ['--limit-request-field_size', '--limit-request-field-size'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 8190,
    desc: 'Longest header field (`name: value`) in bytes; longer gets 431 (0 = 8190).',
  },
  {
    name: 'limit_request_body',
    section: 'Security',
    flags: ['--limit-request-body'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 0,
    desc: 'Largest request body in bytes; larger gets 413 and a closed connection, checked before the app runs and while a chunked body arrives (0 = no limit).',
  },
  {
    name: 'forwarded_allow_ips',
    section: 'Server Mechanics',
    flags: ['--forwarded-allow-ips'],
    meta: 'STRING',
    type: 'string',
    default: '127.0.0.1,::1',
    defaultText: '$FORWARDED_ALLOW_IPS or 127.0.0.1,::1',
    desc: 'Front-end addresses trusted to set `secure_scheme_headers` and the client address (`X-Forwarded-For`, `Forwarded: for=`): a comma list of IPs and networks (`10.0.0.0/8`, `fd00::/8`), or `*` for any. Headers from other peers are ignored. Unix socket peers are always trusted.',
  },
  {
    name: 'secure_scheme_headers',
    section: 'Server Mechanics',
    flags: [],
    type: 'map',
    default: { 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' },
    defaultText: "{'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on'}",
    desc: 'Config file only. Headers, and the value each has, by which a trusted front-end says the request came over HTTPS: `request.url` is then `https://...`. A listed header with another value says `http`; two that disagree get 400.',
  },
  {
    name: 'proxy_protocol',
    section: 'Server Mechanics',
    flags: ['--proxy-protocol'],
    meta: 'MODE',
    type: 'choice',
    choices: PROXY_PROTOCOLS,
    bare: 'auto',
    aliases: { true: 'auto', '1': 'auto', false: 'off', '0': 'off', none: 'off' },
    default: 'off',
    desc: 'Read a PROXY protocol header (HAProxy, nginx `proxy_protocol`, stunnel, AWS NLB) at the start of each connection: `v1` (text), `v2` (binary), `auto` (either; `--proxy-protocol` alone), `off`. The client address it gives is the one the app and the access log see. node engine only (unset `engine` picks it).',
  },
  {
    name: 'proxy_allow_ips',
    section: 'Server Mechanics',
    flags: ['--proxy-allow-from'],
    meta: 'STRING',
    type: 'string',
    default: '127.0.0.1,::1',
    desc: 'Front-end addresses allowed to send a PROXY protocol header: a comma list of IPs and networks, or `*`. A header from another peer gets 403 and a closed connection.',
  },
  {
    name: 'websocket_max_message_size',
    section: 'Security',
    flags: ['--websocket-max-message-size'],
    meta: 'INT',
    type: 'int',
    min: 1,
    max: 2 ** 31 - 1,
    default: 16 * 1024 * 1024,
    defaultText: '16777216 (16 MiB)',
    desc: 'Largest WebSocket message a client may send, in bytes; a larger one closes the connection with 1009 (on the uws engine, one more than twice as large is cut without a close frame).',
  },
  {
    name: 'certfile',
    section: 'SSL',
    flags: ['--certfile'],
    meta: 'FILE',
    type: 'string',
    default: null,
    desc: 'TLS certificate file (PEM; the chain after the certificate). With `keyfile`, every bind serves HTTPS. Read by each worker as it starts: replace the files, then HUP.',
  },
  {
    name: 'keyfile',
    section: 'SSL',
    flags: ['--keyfile'],
    meta: 'FILE',
    type: 'string',
    default: null,
    desc: 'TLS private key file (PEM, not encrypted), the key of `certfile`.',
  },
  {
    name: 'ca_certs',
    section: 'SSL',
    flags: ['--ca-certs'],
    meta: 'FILE',
    type: 'string',
    default: null,
    desc: 'CA certificates (PEM) that client certificates are verified against, with `cert_reqs` 1 or 2.',
  },
  {
    name: 'cert_reqs',
    section: 'SSL',
    flags: ['--cert-reqs'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 2,
    default: 0,
    desc: 'Client certificates: `0` not asked for; `1` (CERT_OPTIONAL) asked for, and one that does not verify is refused; `2` (CERT_REQUIRED) a client without a valid one is refused (node engine only).',
  },
  {
    name: 'ciphers',
    section: 'SSL',
    flags: ['--ciphers'],
    meta: 'CIPHERS',
    type: 'string',
    default: null,
    defaultText: "the TLS library's defaults",
    desc: 'Allowed ciphers, as an OpenSSL cipher list (`ECDHE+AESGCM:!aNULL`).',
  },
  // HTTP/2: Gunicorn 25/26's settings, names and defaults (served by the node engine; docs/http2.md).
  {
    name: 'http_protocols',
    section: 'HTTP/2',
    flags: ['--http-protocols'],
    meta: 'STRING',
    type: 'string',
    default: 'h1',
    desc: 'HTTP versions to serve, a comma list in order of preference: `h1` (HTTP/1.1, and 1.0 on the node engine), `h2` (HTTP/2: over TLS by ALPN, or cleartext with `http2_cleartext`). `h2,h1` prefers HTTP/2 and keeps HTTP/1.1; `h2` alone refuses TLS clients that cannot speak HTTP/2. `h2` needs the node engine (unset `engine` picks it). `h3` is not served.',
  },
  {
    name: 'http2_cleartext',
    section: 'HTTP/2',
    flags: ['--http2-cleartext'],
    meta: 'STRING',
    type: 'choice',
    choices: HTTP2_CLEARTEXT,
    aliases: { true: 'prior-knowledge', false: 'off' },
    default: 'off',
    desc: 'HTTP/2 without TLS (h2c) on binds that do not serve TLS, with `h2` in `http_protocols`: `prior-knowledge`: a connection that opens with the HTTP/2 preface is served HTTP/2 (`true` in a config file means this); `upgrade`, `both`: accepted as in Gunicorn, but an `Upgrade: h2c` request is served as HTTP/1.1 (node:http2 cannot take an upgraded connection; said at start); `off`. Only peers in `forwarded_allow_ips`: others are served HTTP/1.x as if `off`; a trusted peer that sends anything but the preface gets 400. For a TLS-terminating proxy in front; never expose it.',
  },
  {
    name: 'http2_max_concurrent_streams',
    section: 'HTTP/2',
    flags: ['--http2-max-concurrent-streams'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 2 ** 31 - 1,
    default: 100,
    desc: 'Most streams (requests) open at once on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused (REFUSED_STREAM).',
  },
  {
    name: 'http2_initial_window_size',
    section: 'HTTP/2',
    flags: ['--http2-initial-window-size'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 2 ** 31 - 1,
    default: 65535,
    desc: "Bytes of a request body a client may send on a stream before the server asks for more (SETTINGS_INITIAL_WINDOW_SIZE, HTTP/2's flow control). Larger is faster for uploads and costs memory per stream.",
  },
  {
    name: 'http2_max_frame_size',
    section: 'HTTP/2',
    flags: ['--http2-max-frame-size'],
    meta: 'INT',
    type: 'int',
    min: 16384,
    max: 16777215,
    default: 16384,
    desc: 'Largest HTTP/2 frame payload the server accepts, in bytes (SETTINGS_MAX_FRAME_SIZE): 16384 to 16777215.',
  },
  {
    name: 'http2_max_header_list_size',
    section: 'HTTP/2',
    flags: ['--http2-max-header-list-size'],
    meta: 'INT',
    type: 'int',
    min: 0,
    max: 2 ** 32 - 1,
    default: 65536,
    desc: "Largest request header list, in bytes after HPACK decompression (SETTINGS_MAX_HEADER_LIST_SIZE: each field's name and value and 32); a larger one is refused (0 = no limit). `limit_request_fields` and `limit_request_field_size` apply too.",
  },
  {
    name: 'app_interface',
    section: 'Server Mechanics',
    flags: ['--app-interface'],
    meta: 'STRING',
    type: 'choice',
    choices: APP_INTERFACES,
    default: 'auto',
    desc: 'How to call a bare function app: `fetch` (request, info) => Response, `node` (req, res), or `auto`: by its declared parameters, read from its source: a rest parameter only, a parameter named like a response (`res`, `reply`) or a third named `next` is node; a second named like a context (`info`, `ctx`, `env`, `loadContext`) is fetch; otherwise one parameter is fetch, two or more node. The worker logs how it took the function and why. Frameworks are recognised whatever it says; a mismatch is an error.',
  },
  {
    name: 'preload_app',
    section: 'Server Mechanics',
    flags: ['--preload'],
    type: 'bool',
    default: false,
    desc: 'Load the app once in a short-lived process before forking any worker: an app that cannot load stops the server (exit 4) before any worker starts. Each worker still loads its own copy (no memory is shared).',
  },
  {
    name: 'chdir',
    section: 'Server Mechanics',
    flags: ['--chdir'],
    meta: 'DIR',
    type: 'string',
    default: null,
    defaultText: 'the current directory',
    desc: 'Change to this directory before loading the app.',
  },
  {
    name: 'raw_env',
    section: 'Server Mechanics',
    flags: ['-e', '--env'],
    meta: 'ENV',
    type: 'list',
    default: [],
    desc: 'Set an environment variable in the workers: `KEY=VALUE`. Repeatable.',
  },
  {
    name: 'pidfile',
    section: 'Server Mechanics',
    flags: ['-p', '--pid'],
    meta: 'FILE',
    type: 'string',
    default: null,
    desc: 'File the arbiter writes its pid to; removed at exit.',
  },
  {
    name: 'daemon',
    section: 'Server Mechanics',
    flags: ['-D', '--daemon'],
    type: 'bool',
    default: false,
    desc: 'Detach from the terminal and run in the background; the command returns once the workers serve. Its output goes to /dev/null (set `errorlog`, or `enable_stdio_inheritance`).',
  },
  {
    name: 'user',
    section: 'Server Mechanics',
    flags: ['-u', '--user'],
    meta: 'USER',
    type: 'string',
    default: null,
    defaultText: 'the user qilin runs as (os.geteuid())',
    desc: 'Run the workers as this user: a name or a numeric id. The arbiter keeps its own; only root can switch.',
  },
  {
    name: 'group',
    section: 'Server Mechanics',
    flags: ['-g', '--group'],
    meta: 'GROUP',
    type: 'string',
    default: null,
    defaultText: 'the group qilin runs as (os.getegid())',
    desc: 'Run the workers as this group: a name or a numeric id.',
  },
  {
    name: 'initgroups',
    section: 'Server Mechanics',
    flags: ['--initgroups'],
    type: 'bool',
    default: false,
    desc: 'Give the workers the supplementary groups of `user` (from the group database) as well as `group`; otherwise `group` is their only group.',
  },
  {
    name: 'accesslog',
    section: 'Logging',
    flags: ['--access-logfile'],
    meta: 'FILE',
    type: 'string',
    default: null,
    desc: 'Access log file; `-` is stdout. No access log when unset.',
  },
  {
    name: 'access_log_format',
    section: 'Logging',
    flags: ['--access-logformat'],
    meta: 'STRING',
    type: 'string',
    default: DEFAULT_ACCESS_LOG_FORMAT,
    desc: "Access log format with Gunicorn's atoms (`%(h)s`, `%(r)s`, `%({header}i)s`, `%({header}o)s`, ...), or `json`: one JSON object per request per line (time, remote, method, path, query, protocol, status, bytes, duration_ms, referer, user_agent, request_id from X-Request-Id, pid).",
  },
  {
    name: 'errorlog',
    section: 'Logging',
    flags: ['--error-logfile', '--log-file'],
    meta: 'FILE',
    type: 'string',
    default: '-',
    desc: 'Error log file; `-` is stderr.',
  },
  {
    name: 'enable_stdio_inheritance',
    section: 'Logging',
    flags: ['-R', '--enable-stdio-inheritance'],
    type: 'bool',
    default: false,
    desc: 'With `daemon`: keep stdout and stderr when they are not a terminal (`qilin -D ... >>out.log 2>&1`) instead of sending them to /dev/null.',
  },
  {
    name: 'loglevel',
    section: 'Logging',
    flags: ['--log-level'],
    meta: 'LEVEL',
    type: 'choice',
    choices: LOG_LEVELS,
    anyCase: true,
    default: 'info',
    desc: 'Error log level.',
  },
  {
    name: 'statsd_host',
    section: 'Logging',
    flags: ['--statsd-host'],
    meta: 'STATSD_ADDR',
    type: 'string',
    default: null,
    desc: '`HOST:PORT` of a statsd server: each worker sends `qilin.requests`, `qilin.request.duration`, `qilin.request.status.<code>`, `qilin.request.timeouts` and `qilin.log.*`; the arbiter `qilin.workers`. UDP only.',
  },
  {
    name: 'dogstatsd_tags',
    section: 'Logging',
    flags: ['--dogstatsd-tags'],
    meta: 'DOGSTATSD_TAGS',
    type: 'string',
    default: '',
    desc: 'Tags added to every statsd line (`|#TAGS`): comma-separated `key:value`s, as DogStatsD reads them.',
  },
  {
    name: 'statsd_prefix',
    section: 'Logging',
    flags: ['--statsd-prefix'],
    meta: 'STATSD_PREFIX',
    type: 'string',
    default: '',
    desc: 'Prefix for statsd names (`app` → `app.qilin.requests`).',
  },
  {
    name: 'metrics_bind',
    section: 'Logging',
    flags: ['--metrics-bind'],
    meta: 'ADDRESS',
    type: 'string',
    default: null,
    desc: '`HOST:PORT` or `unix:PATH` where the arbiter serves `GET /metrics` (Prometheus text format): totals of every worker, past and present. Off when unset.',
  },
  {
    name: 'proc_name',
    section: 'Process Naming',
    flags: ['-n', '--name'],
    meta: 'STRING',
    type: 'string',
    default: null,
    defaultText: 'the app URI',
    desc: 'Name in process titles.',
  },
  {
    name: 'reload',
    section: 'Debugging',
    flags: ['--reload'],
    type: 'bool',
    default: false,
    desc: 'Replace the workers when a file of the app changes (its module graph, or its directory until that is known), as HUP does. For development.',
  },
  {
    name: 'reload_engine',
    section: 'Debugging',
    flags: ['--reload-engine'],
    meta: 'STRING',
    type: 'choice',
    choices: RELOAD_ENGINES,
    default: 'auto',
    desc: "How `reload` sees changes: `inotify`: the OS's file events (fs.watch); `poll`: every file's mtime once a second (network and VM-shared filesystems); `auto`: events, polling when they cannot be used.",
  },
  {
    name: 'reload_extra_files',
    section: 'Debugging',
    flags: ['--reload-extra-file'],
    meta: 'FILES',
    type: 'list',
    default: [],
    desc: 'Also reload when this file (or anything below this directory) changes: templates, data the app reads. Repeatable; relative to where qilin starts.',
  },
  {
    name: 'check_config',
    section: 'Debugging',
    flags: ['--check-config'],
    type: 'bool',
    default: false,
    desc: 'Load the config and the app, then exit (0 when both load).',
  },
  {
    name: 'print_config',
    section: 'Debugging',
    flags: ['--print-config'],
    type: 'bool',
    default: false,
    desc: 'Print the resolved settings, then exit.',
  },
  {
    name: 'control_socket',
    section: 'Control',
    flags: ['--control-socket'],
    meta: 'PATH',
    type: 'string',
    default: null,
    defaultText: 'unset: no control socket',
    desc: 'Unix socket where the arbiter takes `qilin ctl` commands (status, reload, scale N, stop); relative to the directory after `chdir`. Removed at exit. A stale file is replaced; one a live server holds stops qilin from starting.',
  },
  {
    name: 'control_socket_mode',
    section: 'Control',
    flags: ['--control-socket-mode'],
    meta: 'INT',
    type: 'int',
    min: 0,
    default: 0o600,
    defaultText: '0o600 (384)',
    desc: 'Permissions of the control socket file: who may connect (`0o660` lets the group in).',
  },
  {
    name: 'control_socket_disable',
    section: 'Control',
    flags: ['--no-control-socket'],
    type: 'bool',
    default: false,
    desc: 'No control socket, even when `control_socket` is set.',
  },
] as const satisfies readonly SettingDef[];

/** The value a setting of the table holds, from its kind. */
type ValueOf<D extends SettingDef> = D extends { type: 'int' | 'float' }
  ? number
  : D extends { type: 'bool' }
    ? boolean
    : D extends { type: 'list' }
      ? string[]
      : D extends { type: 'map' }
        ? Record<string, string>
        : D extends { type: 'choice'; choices: readonly (infer C)[] }
          ? C | NullWhenUnset<D>
          : D extends { type: 'string' }
            ? string | NullWhenUnset<D>
            : never;

/** A setting whose default is null is unset until given: its value may be null. */
type NullWhenUnset<D extends SettingDef> = D extends { default: null } ? null : never;

/** Every setting by name, each with the type of value its table entry says. */
export type Settings = { -readonly [D in (typeof TABLE)[number] as D['name']]: ValueOf<D> };

export type SettingName = keyof Settings;
/** The value of some setting (which one goes with its name). */
export type SettingValue = Settings[SettingName];

/** The choices whose default is not one of their choices, by name: none, or the table is wrong. */
type WrongChoiceDefault = {
  [
    D in (typeof TABLE)[number] as D extends { type: 'choice' }
      ? D['default'] extends D['choices'][number] | null
        ? never
        : D['name']
      : never
  ]: D;
};
/** `T` while every choice's default is one of its choices; `never` (so SETTINGS fails to compile) otherwise. */
type ChoiceDefaultsChecked<T> = keyof WrongChoiceDefault extends never ? T : never;

export const SETTINGS: ChoiceDefaultsChecked<readonly SettingDef<SettingName>[]> = TABLE;

export const SETTINGS_BY_NAME: ReadonlyMap<string, SettingDef<SettingName>> = new Map(SETTINGS.map((s) => [s.name, s]));
export const SETTINGS_BY_FLAG: ReadonlyMap<string, SettingDef<SettingName>> = new Map(
  SETTINGS.flatMap((s) => s.flags.map((f) => [f, s] as const)),
);

/** Levenshtein distance: how many single-character edits turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The setting a mistyped config key most likely meant: a setting name or a flag spelled as a key
 * (`pid` → pidfile, `log_level` → loglevel) within a few edits; null when nothing is close.
 */
export function closestSetting(key: string): string | null {
  const k = key.toLowerCase().replace(/-/g, '_');
  let best: { name: string; d: number } | null = null;
  for (const def of SETTINGS) {
    const spellings = [
      def.name,
      ...def.flags.filter((f) => f.startsWith('--')).map((f) => f.slice(2).replace(/-/g, '_')),
    ];
    for (const s of spellings) {
      const d = editDistance(k, s);
      if (!best || d < best.d) best = { name: def.name, d };
    }
  }
  return best && best.d <= Math.max(1, Math.floor(k.length / 3)) ? best.name : null;
}

/** Thrown for a setting that cannot be used; the CLI prints it as one line and exits 1. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Turn a raw value (string from argv/env, or any value from a config file) into the setting's type. */
export function coerce(def: SettingDef, raw: unknown): SettingValue {
  // Typed so that a call ends the path it is on for the type checker too.
  const bad: (why: string) => never = (why) => {
    throw new ConfigError(def.name, `Invalid value for ${def.name}: ${JSON.stringify(raw)} (${why})`);
  };
  switch (def.type) {
    case 'int': {
      // Decimal, or 0o/0x as Python's int(x, 0) (Gunicorn's umask is given as 0o007).
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^\s*(-?\d+|0[oO][0-7]+|0[xX][0-9a-fA-F]+)\s*$/.test(raw)
            ? Number(raw.trim())
            : NaN;
      if (def.auto && typeof raw === 'string' && raw.trim().toLowerCase() === 'auto') return AUTO;
      if (!Number.isInteger(n)) bad(def.auto ? 'not an integer, nor auto' : 'not an integer');
      if (def.min !== undefined && n < def.min) bad(`must be >= ${def.min}`);
      if (def.max !== undefined && n > def.max) bad(`must be <= ${def.max}`);
      return n;
    }
    case 'float': {
      // Decimal seconds: `1`, `0.5`, `2.25` (no exponent, no hex).
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(raw)
            ? Number(raw.trim())
            : NaN;
      if (!Number.isFinite(n)) bad('not a number');
      if (def.min !== undefined && n < def.min) bad(`must be >= ${def.min}`);
      if (def.max !== undefined && n > def.max) bad(`must be <= ${def.max}`);
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('not a boolean');
    case 'string':
      if (raw === null) return null;
      if (typeof raw !== 'string') bad('not a string');
      return raw;
    case 'choice': {
      const text = typeof raw === 'boolean' && def.aliases ? String(raw) : raw;
      const folded = typeof text === 'string' ? text.trim().toLowerCase() : text;
      const value =
        typeof text === 'string' && def.aliases
          ? (def.aliases[folded as string] ?? folded)
          : def.anyCase
            ? folded
            : text;
      if (typeof value !== 'string' || !def.choices.includes(value)) bad(`one of: ${def.choices.join(', ')}`);
      return value;
    }
    case 'map': {
      // Header names: any case (HTTP's are case-insensitive); values are compared exactly.
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        bad('not an object of header names and values');
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw as object)) {
        if (typeof v !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k))
          bad(`${JSON.stringify(k)}: a header name and a string value`);
        out[k.toUpperCase()] = v as string;
      }
      return out;
    }
    case 'list': {
      const list = typeof raw === 'string' ? [raw] : raw;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) bad('not a list of strings');
      return [...(list as string[])];
    }
  }
}

/** Store a setting's value: its type goes with its name (coerce and the table made it so). */
export function setSetting<K extends SettingName>(settings: Partial<Settings>, name: K, value: Settings[K]): void {
  settings[name] = value;
}

/** A setting's default as a run starts with it: lists and maps copied, so that no run changes the table. */
function freshDefault(def: SettingDef): SettingValue {
  switch (def.type) {
    case 'list':
      return [...def.default];
    case 'map':
      return { ...def.default };
    default:
      return def.default;
  }
}

export function defaultSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Partial<Settings> = {};
  for (const def of SETTINGS) setSetting(out, def.name, freshDefault(def));
  if (env.FORWARDED_ALLOW_IPS !== undefined) out.forwarded_allow_ips = env.FORWARDED_ALLOW_IPS;
  if (env.PORT) out.bind = [`0.0.0.0:${env.PORT}`];
  if (env.WEB_CONCURRENCY) {
    const workers = SETTINGS_BY_NAME.get('workers')!;
    setSetting(out, workers.name, coerce(workers, env.WEB_CONCURRENCY));
  }
  // Every name of the table was given its default above.
  return out as Settings;
}

/** `qilin --help`, generated from the table. */
export function helpText(): string {
  const lines = [
    'usage: qilin [OPTIONS] [APP_MODULE]',
    '       qilin ctl [--socket PATH] status|reload|scale N|stop [--json]   (see qilin ctl --help)',
    '',
    'APP_MODULE is MODULE[:EXPORT]: a path (app.ts, ./dist/app.js, .mjs, .cjs) or a package name;',
    'EXPORT defaults to `default` and is a fetch app ((request) => Response, or an object with `fetch`,',
    'as Hono) or a Node-style app (Express, Fastify, Koa, NestJS, a (req, res) handler, an http.Server),',
    'or a factory call that returns one: `app.js:create_app()`.',
    '',
    'options:',
    `  ${'-h, --help'.padEnd(30)} show this help and exit`,
    `  ${'-v, --version'.padEnd(30)} show the version and exit`,
  ];
  for (const def of SETTINGS) {
    const flags =
      def.flags.length === 0 ? '(config file only)' : def.flags.join(', ') + (def.meta ? ` ${def.meta}` : '');
    const dflt = def.defaultText ?? JSON.stringify(def.default);
    lines.push(`  ${flags.padEnd(30)} ${def.desc.replace(/`/g, '')} [${def.name}; default: ${dflt}]`);
  }
  return lines.join('\n') + '\n';
}

/** The options table of docs/settings.md, generated from the table (a test checks the page holds it). */
export function markdownTable(): string {
  const rows = ['| setting | flags | default | meaning |', '| --- | --- | --- | --- |'];
  for (const def of SETTINGS) {
    const flags = def.flags.map((f) => `\`${f}${def.meta ? ' ' + def.meta : ''}\``).join(', ') || '(config file)';
    const dflt = (def.defaultText ?? JSON.stringify(def.default)).replace(/\|/g, '\\|');
    rows.push(`| \`${def.name}\` | ${flags} | ${dflt} | ${def.desc.replace(/\|/g, '\\|')} |`);
  }
  return rows.join('\n');
}
