// What each framework app under test/frameworks/apps/<id>/ declares in its `compat.ts` (default
// export): how it is built for production, how its own server starts, how qilin is pointed at it
// (as the docs say), and the requests both get. The harness (harness.ts) does the rest.

/** The requests every app answers, under these names (paths may differ per framework). */
export type RequestName =
  | 'page' // an HTML page, no cookie
  | 'page-cookie' // the same page with a cookie the page reacts to
  | 'json' // a JSON API
  | 'post-json' // POST with a JSON body, answered from it
  | 'post-form' // POST with an application/x-www-form-urlencoded body, answered from it
  | 'static' // a static asset
  | 'static-304' // the same asset, conditional on the validators `static` got: 304
  | 'redirect' // a redirect (its Location)
  | 'set-cookie' // a response that sets a cookie
  | 'not-found' // a 404
  | 'head' // HEAD of the page
  | 'stream'; // a streamed or deferred response

export interface CompatRequest {
  readonly name: RequestName;
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Send If-None-Match / If-Modified-Since from what the named request's response carried. */
  readonly conditionalOn?: RequestName;
}

export interface Command {
  /** argv; `node` is the Node that runs the harness. Paths relative to the app's directory. */
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface Difference {
  /** The request, or '*' for all. */
  readonly request: RequestName | '*';
  /** A compared field (see harness.ts FIELDS), or 'body'. */
  readonly field: string;
  /** Why qilin's answer differs from the framework's own server, for the docs. */
  readonly why: string;
  /** Only on this engine (default: every engine the app runs on). */
  readonly engine?: 'uws' | 'node';
}

/** A compared field of a response: a header name in lower case (see harness.ts FIELDS), or 'body'. */
export type Field = string;

/**
 * Makes a value that legitimately varies per response (a Date, a CSRF token or nonce, a build id in
 * the body) the same on both sides before they are compared: return `value` with such parts replaced.
 * Called for every compared field of every response (the decoded body as 'body').
 */
export type Normalize = (value: string, field: Field, request: RequestName) => string;

export interface FrameworkApp {
  /** The grid's row: 'Next.js 16 (custom server)'. */
  readonly name: string;
  /** Packages whose installed versions the grid shows. */
  readonly packages: readonly string[];
  /** Production build, run in the app's directory; skipped while its inputs are unchanged. */
  readonly build?: readonly Command[];
  /** What the build writes (removed before a build). */
  readonly buildOutput?: readonly string[];
  /** The framework's own production server; PORT and HOST (127.0.0.1) are in its environment. */
  readonly own: Command;
  /** qilin, pointed at the app as the docs say: MODULE[:EXPORT] relative to the app dir, extra args. */
  readonly qilin: {
    readonly app: string;
    readonly args?: readonly string[];
    readonly env?: Readonly<Record<string, string>>;
    /** The engines the app runs on (Node-style apps: node only). */
    readonly engines: readonly ('uws' | 'node')[];
  };
  readonly requests: readonly CompatRequest[];
  /** Differences the docs list, with their reason; anything else that differs fails. */
  readonly differences?: readonly Difference[];
  /** Node-style frameworks: what serving them on the uws engine would need. */
  readonly uwsNeeds?: string;
  /** What the framework's own server does that the handler qilin serves does not (for the docs). */
  readonly notes?: string;
  /** Applied to both sides' values before comparing (see Normalize). */
  readonly normalize?: Normalize;
  /** Regexes whose matches in the body are replaced by `<varies>` on both sides: a shorthand for normalize. */
  readonly bodyVaries?: readonly RegExp[];
  /** The path polled until the servers answer (any status): default '/'. */
  readonly readyPath?: string;
  /** How long a server may take to answer after it started, in ms: default 30000. */
  readonly startTimeout?: number;
}
