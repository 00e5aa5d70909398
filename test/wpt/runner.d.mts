// Types of runner.mjs (plain JS: it evaluates the WPT files in the global it runs in).
export interface TestResult {
  name: string;
  status: 'PASS' | 'FAIL' | 'TIMEOUT' | 'NOTRUN' | 'PRECONDITION_FAILED';
  message: string | null;
}
export interface FileResult {
  /** `response/response-clone.any.js` */
  file: string;
  results: TestResult[];
  /** The harness's own status: OK, ERROR (a duplicate name, a top-level error), TIMEOUT. */
  harness: { status: string; message: string | null };
  /** Errors no test caught: a top-level throw, an uncaught exception, an unhandled rejection. */
  errors: string[];
  timedOut: boolean;
  ms: number;
}
export interface RunOptions {
  origin: string;
  timeout?: number;
}
export const WPT_ROOT: string;
export const DIRECTORIES: string[];
export const SKIPPED: Record<string, string>;
export const FILE_TIMEOUT_MS: number;
export function listFiles(dir: string): string[];
export function sanitizeName(name: string): string;
export function runFile(file: string, opts: RunOptions): Promise<FileResult>;
export function runDirectory(dir: string, opts: RunOptions): Promise<FileResult[]>;
