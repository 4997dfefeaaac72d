import { Args } from "../tasks/args.ts";
import { TaskError } from "../tasks/errors.ts";
import type { GrepFile } from "../fs/grep_job.ts";
import { compileGrepPattern } from "../fs/grep_pattern.ts";
import { grepTimedOut, type GrepWorkers } from "../fs/grep_search.ts";
import { includeFilter } from "../fs/pattern.ts";
import { walk } from "../fs/walk.ts";
import type { OperationHandler } from "../tasks/context.ts";
import { limitOutput } from "../tasks/output.ts";
import type { GrepArgs, GrepResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";
import type { Workspace } from "../fs/workspace.ts";

export const GREP_TIMEOUT_MS = 30_000;
export const MAX_GREP_MATCHES = 10_000;
export const MAX_GREP_FILES = 100_000;
/** Bytes searched per file; the rest of a bigger file is not searched. */
export const MAX_GREP_FILE_BYTES = 16 * 1024 * 1024;
/** A match's `content` is cut after this many characters (minified files). */
export const MAX_GREP_LINE_CHARS = 2_000;

export interface GrepOptions {
  timeoutMs: number;
  /** default: the runner's pool, `ctx.services.grep` */
  workers?: GrepWorkers;
}

/**
 * `grep {pattern, include?}` -> `{matches, content, truncated?, file_path?,
 * total_size?}`. Files are chosen on the main thread like ripgrep's
 * defaults (hidden names and binary files skipped, symlinked directories not
 * entered, symlinks leading outside skipped); the RE2 regex runs in a worker
 * (GrepWorkers), stopped after `timeoutMs` or on cancel.
 */
export function grepOperation(opts: GrepOptions): OperationHandler {
  return async (rawArgs, ctx): Promise<GrepResult> => {
    const args = grepArgs(rawArgs);
    const { source, flags } = compileGrepPattern(args.pattern);
    const ws = ctx.workspace;
    const chosen = includeFilter(ws, args.include ?? []);
    // one budget for the whole search: the walk here, then the matching
    const deadline = Date.now() + opts.timeoutMs;
    const { files, capped: filesCapped } = await candidates(ws, chosen, ctx.signal, deadline);
    if (Date.now() > deadline) throw new TaskError(grepTimedOut(opts.timeoutMs));
    const outcome = await (opts.workers ?? ctx.services.grep).run({
      root: ws.root,
      source,
      flags,
      files,
      maxMatches: MAX_GREP_MATCHES,
      maxFileBytes: MAX_GREP_FILE_BYTES,
      maxLineChars: MAX_GREP_LINE_CHARS,
    }, {
      timeoutMs: Math.max(1, deadline - Date.now()),
      budgetMs: opts.timeoutMs,
      signal: ctx.signal,
    });
    const lines = outcome.matches.map((m) => `${m.path}:${m.line_number}:${m.content}`);
    // said at the end of the text (and so in the saved file), never silently
    if (outcome.capped) lines.push(`[grep stopped at ${MAX_GREP_MATCHES} matches]`);
    if (filesCapped) lines.push(`[grep searched only the first ${MAX_GREP_FILES} files]`);
    if (outcome.cutFiles > 0) {
      lines.push(`[${outcome.cutFiles} file(s) searched only in their first 16 MiB]`);
    }
    return { matches: outcome.matches, ...await limitOutput(ws, "grep", lines.join("\n")) };
  };
}

export const grep: OperationHandler = grepOperation({ timeoutMs: GREP_TIMEOUT_MS });

async function candidates(
  ws: Workspace,
  chosen: (rel: string) => boolean,
  signal: AbortSignal,
  deadline: number,
): Promise<{ files: GrepFile[]; capped: boolean }> {
  const files: GrepFile[] = [];
  let capped = false;
  await walk(ws.fs, ".", async (e) => {
    if (Date.now() > deadline) return "stop"; // the caller says it timed out
    if (e.name.startsWith(".")) return "skip";
    if (e.isDir) return "descend";
    if (!chosen(e.rel)) return "skip";
    let real = e.rel;
    if (e.isSymlink) {
      try {
        // a link leading outside is skipped, never read
        real = ws.relative(await ws.resolve(e.rel));
        if ((await ws.fs.stat(real))?.kind !== "file") return "skip"; // symlinked dirs are not entered
      } catch {
        return "skip";
      }
    } else if (!e.isFile) return "skip"; // sockets, FIFOs, devices
    if (files.length >= MAX_GREP_FILES) {
      capped = true;
      return "stop";
    }
    files.push({ path: e.rel, real });
    return "skip";
  }, { signal });
  if (signal.aborted) throw new TaskError("grep cancelled");
  return { files, capped };
}

export function grepArgs(raw: unknown): GrepArgs {
  const args = Args.of("grep", raw);
  return {
    pattern: args.string("pattern", FIELD_LIMITS.pattern),
    include: args.optionalStringArray("include", FIELD_LIMITS.patterns, FIELD_LIMITS.pattern),
  };
}
