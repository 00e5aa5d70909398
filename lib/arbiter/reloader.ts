// reload (development mode): the arbiter watches the app's files and, when one changes, replaces
// the workers through the same path as HUP, which keeps the running workers when the new ones
// cannot load the app.
//
// One watcher in the arbiter rather than one per worker (Gunicorn's way): N workers do not each
// watch the same files, a worker never exits in the middle of a request because a file changed,
// and a broken edit does not turn into workers that fail to boot in a loop: the arbiter simply
// keeps the old ones until the next change.
//
// What is watched: the app's module graph as its workers report it after loading the app
// (lib/worker/module-files.ts; files under node_modules left out), plus reload_extra_files; while
// that graph is not known, the app's directory with everything below it (node_modules and dotfiles
// left out).
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { splitAppUri } from '../app/load.js';
import { resolveModule } from '../config/loader.js';
import type { Settings } from '../config/settings.js';

export type ReloadEngine = 'auto' | 'poll' | 'inotify';

/** Writes closer together than this (an editor's save, a build) make one reload. */
const SETTLE_MS = 300;
/** How often the poll engine looks at the watched files (as Gunicorn's poll reloader). */
const POLL_MS = 1000;

/** Names never watched: dependencies, dotfiles (.git, editor swap files), editor backups (`x~`). */
export function ignoredName(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.') || name.endsWith('~');
}

export interface ReloaderOptions {
  /** `poll`: stat the files every second; `inotify`: the OS's file events; `auto`: events, else poll. */
  engine: ReloadEngine;
  /** reload_extra_files, absolute: a file as it is, a directory with everything below it. */
  extra: readonly string[];
  /** Watched with everything below it when the workers cannot tell the app's module files. */
  appDir: string;
  /** Files changed, once writes have settled. */
  onChange(files: string[]): void;
  warn(message: string): void;
  debug(message: string): void;
}

export class Reloader {
  readonly engine: ReloadEngine;
  private usePolling: boolean;
  private readonly appDir: string;
  private readonly onChange: (files: string[]) => void;
  private readonly warn: (message: string) => void;
  private readonly debug: (message: string) => void;
  private extra: readonly string[];
  /**
   * The app's files as the last worker reported them; null: a worker could not tell them (the app's
   * directory is watched); undefined: no worker has reported yet (its first workers are loading the
   * files as they are now: nothing to reload).
   */
  private moduleFiles: Set<string> | null | undefined = undefined;
  /** The last load failed: any new file next to the app's files may be the fix (a missing import). */
  private appBroken = false;

  /** Watched exactly. */
  private files = new Set<string>();
  /** Any file directly in these. */
  private dirs = new Set<string>();
  /** Any file below these. */
  private trees = new Set<string>();
  private planKey = '';

  private readonly watchers = new Map<string, FSWatcher>();
  private pollTimer: NodeJS.Timeout | null = null;
  private mtimes = new Map<string, number>();
  private readonly changed = new Set<string>();
  private settleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(opts: ReloaderOptions) {
    this.engine = opts.engine;
    this.usePolling = opts.engine === 'poll';
    this.appDir = opts.appDir;
    this.onChange = opts.onChange;
    this.warn = opts.warn;
    this.debug = opts.debug;
    this.extra = opts.extra;
    this.replan();
  }

  /** A worker loaded the app (or failed to) and says which files it is made of. */
  setModuleFiles(files: string[] | null, loaded: boolean): void {
    if (loaded) {
      this.moduleFiles = files ? new Set(files) : null;
    } else if (files) {
      // A failed load saw only part of the app: add to what is known, never shrink it.
      this.moduleFiles = new Set([...(this.moduleFiles ?? []), ...files]);
    } else {
      this.moduleFiles ??= null;
    }
    this.appBroken = !loaded;
    this.replan();
  }

  setExtra(extra: readonly string[]): void {
    this.extra = extra;
    this.replan();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
  }

  /** What to watch, from the module files and the extra entries; then watch it. */
  private replan(): void {
    const files = new Set(this.moduleFiles ?? []);
    const trees = new Set(this.moduleFiles === null ? [this.appDir] : []);
    for (const entry of this.extra) (isDirectory(entry) ? trees : files).add(entry);
    const dirs = new Set(this.appBroken && this.moduleFiles ? [...this.moduleFiles].map((f) => path.dirname(f)) : []);
    const key = JSON.stringify([[...files].sort(), [...dirs].sort(), [...trees].sort()]);
    if (key === this.planKey) return;
    this.planKey = key;
    this.files = files;
    this.dirs = dirs;
    this.trees = trees;
    const what = [`${files.size} file(s)`];
    if (dirs.size) what.push(`any file in ${[...dirs].join(', ')}`);
    if (trees.size) what.push(`everything below ${[...trees].join(', ')}`);
    // Nothing to say before the first workers report (unless extra files are watched).
    if (this.moduleFiles !== undefined || files.size > 0 || trees.size > 0)
      this.debug(`Reloader watching ${what.join('; ')}${this.usePolling ? ' (polling)' : ''}`);
    if (this.usePolling) this.startPolling();
    else this.watchDirectories();
  }

  private matches(file: string): boolean {
    if (this.files.has(file)) return true;
    if (this.dirs.has(path.dirname(file)) && !ignoredName(path.basename(file))) return true;
    return [...this.trees].some((tree) => {
      const rel = path.relative(tree, file);
      return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && !rel.split(path.sep).some(ignoredName);
    });
  }

  private inTree(dir: string): boolean {
    return [...this.trees].some((tree) => dir === tree || dir.startsWith(tree + path.sep));
  }

  private noteChange(file: string): void {
    if (this.closed) return;
    this.changed.add(file);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      const files = [...this.changed];
      this.changed.clear();
      this.onChange(files);
    }, SETTLE_MS);
    this.settleTimer.unref();
  }

  // -- events: one non-recursive watch per directory (an editor's save-by-rename replaces the
  // file, which a watch on the file itself would lose) --

  private watchDirectories(): void {
    const wanted = new Set([...this.files].map((f) => path.dirname(f)));
    for (const d of this.dirs) wanted.add(d);
    for (const tree of this.trees) for (const d of directoriesBelow(tree)) wanted.add(d);
    for (const [dir, w] of this.watchers)
      if (!wanted.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    for (const dir of wanted) {
      if (this.watchers.has(dir) || !isDirectory(dir)) continue;
      let w: FSWatcher;
      try {
        w = watch(dir, { persistent: false }, (_event, name) => {
          if (name) this.onEvent(dir, name.toString());
        });
      } catch (err) {
        if (this.eventsFailed(dir, err as Error)) return; // polling now
        continue;
      }
      // The directory went away (or the watch broke): drop it; replan() watches it again if it returns.
      w.on('error', () => {
        w.close();
        if (this.watchers.get(dir) === w) this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    }
  }

  private onEvent(dir: string, name: string): void {
    if (this.closed) return;
    const file = path.join(dir, name);
    // A directory created in a watched tree: watch it too.
    if (this.inTree(dir) && !ignoredName(name) && isDirectory(file)) {
      this.watchDirectories();
      return;
    }
    if (this.matches(file)) this.noteChange(file);
  }

  /** fs.watch refused (out of inotify watches, say): `auto` polls instead (true); `inotify` says so. */
  private eventsFailed(dir: string, err: Error): boolean {
    if (this.engine === 'inotify') {
      this.warn(
        `Reloader: cannot watch ${dir} (${err.message}); changes there are not seen (reload_engine "poll" would)`,
      );
      return false;
    }
    this.warn(`Reloader: cannot watch ${dir} (${err.message}); polling every ${POLL_MS / 1000} s instead`);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.usePolling = true;
    this.startPolling();
    return true;
  }

  // -- poll: stat every watched file each second; a file that appears, changes or goes counts --

  private startPolling(): void {
    // The baseline for what is watched now; a file watched before too still counts a change made
    // since the last look (a fix saved just as the broken load was reported).
    const now = this.scan();
    for (const [file, mtime] of now) {
      const before = this.mtimes.get(file);
      if (before !== undefined && before !== mtime) this.noteChange(file);
    }
    this.mtimes = now;
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  private poll(): void {
    const now = this.scan();
    for (const [file, mtime] of now) if (this.mtimes.get(file) !== mtime) this.noteChange(file);
    for (const file of this.mtimes.keys()) if (!now.has(file)) this.noteChange(file);
    this.mtimes = now;
  }

  private scan(): Map<string, number> {
    const out = new Map<string, number>();
    const add = (file: string) => {
      try {
        const st = statSync(file);
        if (st.isFile()) out.set(file, st.mtimeMs);
      } catch {
        /* not there (now) */
      }
    };
    for (const f of this.files) add(f);
    for (const d of this.dirs) for (const name of entries(d)) if (!ignoredName(name)) add(path.join(d, name));
    for (const tree of this.trees) {
      for (const d of directoriesBelow(tree))
        for (const name of entries(d)) if (!ignoredName(name)) add(path.join(d, name));
    }
    return out;
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `root` and every directory below it, skipping ignored names (symlinked directories are not followed). */
function directoriesBelow(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    out.push(dir);
    let list;
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) if (e.isDirectory() && !ignoredName(e.name)) visit(path.join(dir, e.name));
  };
  if (isDirectory(root)) visit(root);
  return out;
}

/** What the arbiter's watcher needs besides the settings. */
export interface WatchOptions {
  /** Where qilin was started: reload_extra_files and the files logged are relative to it. */
  cwd: string;
  /** The app, as given on the command line. */
  app: string;
  onChange(files: string[]): void;
  warn(message: string): void;
  debug(message: string): void;
}

/**
 * The watcher `settings` ask for (reload may be turned on or off by a HUP): `current` is kept while
 * its engine is the one asked for (its extra files updated), else closed and, with reload on,
 * replaced by a new one.
 */
export function syncReloader(
  current: Reloader | null,
  settings: Pick<Settings, 'reload' | 'reload_engine' | 'reload_extra_files'>,
  opts: WatchOptions,
): Reloader | null {
  const { reload, reload_engine, reload_extra_files } = settings;
  const extra = reload_extra_files.map((f) => path.resolve(opts.cwd, f));
  if (reload && current?.engine === reload_engine) {
    current.setExtra(extra);
    return current;
  }
  current?.close();
  if (!reload) return null;
  opts.warn('Reloader is on. Use in development only!');
  return new Reloader({
    engine: reload_engine,
    extra,
    appDir: appModuleDirectory(opts.app),
    onChange: opts.onChange,
    warn: opts.warn,
    debug: opts.debug,
  });
}

/** The directory of the app's module, watched until a worker says which files the app is made of. */
function appModuleDirectory(app: string): string {
  try {
    return path.dirname(resolveModule(splitAppUri(app).module));
  } catch {
    return process.cwd(); // a package that does not resolve: the workers will say why
  }
}

/** `Reloading workers: app.ts, lib/db.ts, views/a.html and 2 more modified`, relative to `cwd` where below it. */
export function reloadingLine(files: readonly string[], cwd: string): string {
  const shown = [...new Set(files)].map((f) => {
    const rel = path.relative(cwd, f);
    return rel.startsWith('..') || path.isAbsolute(rel) ? f : rel;
  });
  const more = shown.length > 3 ? ` and ${shown.length - 3} more` : '';
  return `Reloading workers: ${shown.slice(0, 3).join(', ')}${more} modified`;
}
