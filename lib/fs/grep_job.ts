import type { GrepMatch } from "../wire/protocol.ts";

/** One file for the grep worker: confined and checked on the main thread. */
export interface GrepFile {
  /** root-relative path shown in results */
  path: string;
  /** confined real path to open, relative to the root (no symlink in it when it was found) */
  real: string;
}

/** The message the main thread posts to the grep worker. */
export interface GrepJob {
  /** the workspace root's real path: files are opened below a descriptor of it */
  root: string;
  source: string;
  flags: number;
  files: GrepFile[];
  maxMatches: number;
  maxFileBytes: number;
  maxLineChars: number;
  /**
   * One Int32 the main thread sets to 1 to stop the search. Needed because
   * Worker.terminate() does not stop a worker busy in JavaScript (Deno
   * 2.9, denoland/deno#35657): the worker checks it before every line.
   */
  stop: SharedArrayBuffer;
}

/** The worker's one reply. */
export type GrepReply =
  | { ok: true; matches: GrepMatch[]; capped: boolean; cutFiles: number }
  | { ok: false; error: string }
  | { ok: false; stopped: true };
