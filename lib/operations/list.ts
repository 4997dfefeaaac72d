import { basename } from "node:path";
import { Args } from "../tasks/args.ts";
import { walk } from "../fs/walk.ts";
import type { Stat } from "../fs/workspace_fs.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { ListArgs, ListEntry, ListResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/** Entries one list returns at most; past it the result says `truncated: true`. */
export const MAX_LIST_ENTRIES = 10_000;

/**
 * `list {path, recursive?, ignore?}` -> `{entries: [{path, is_dir, size}]}`.
 * Entries are what lstat sees: a symlink is listed as itself (is_dir false,
 * its own size) and a symlinked directory is never walked into, even one
 * swapped in while the walk runs (directories are opened by descriptor). `ignore`
 * patterns match base names and prune matching directories. Listing a file
 * gives that one entry.
 */
export const list: OperationHandler = async (rawArgs, ctx): Promise<ListResult> => {
  const args = listArgs(rawArgs);
  const path = args.path ?? ".";
  const recursive = args.recursive ?? false;
  // The glob engine (minimatch) loads with the first `ignore` given, not at start.
  const ignore = args.ignore?.length
    ? args.ignore.map((await import("../fs/pattern.ts")).compileGlob)
    : [];
  const ignored = (name: string) => ignore.some((mm) => mm.match(name));
  const ws = ctx.workspace;
  // the real path: listed entries are named by it, and the walk refuses any symlink on it
  const rel = ws.relative(await ws.resolve(path));
  const info = await ws.fs.stat(rel);
  if (!info) throw new TaskError(`not found: ${path}`);
  if (info.kind !== "dir") {
    return { entries: ignored(basename(rel)) ? [] : [entry(rel, info)] };
  }
  const entries: ListEntry[] = [];
  let truncated = false;
  await walk(ws.fs, rel, (e) => {
    if (ignored(e.name)) return "skip";
    if (entries.length >= MAX_LIST_ENTRIES) {
      truncated = true;
      return "stop";
    }
    entries.push(entry(e.rel, e.stat!));
    return recursive ? "descend" : "skip";
  }, { signal: ctx.signal, withStat: true });
  return truncated ? { entries, truncated } : { entries };
};

function entry(path: string, info: Stat): ListEntry {
  return { path, is_dir: info.kind === "dir", size: info.size };
}

export function listArgs(raw: unknown): ListArgs {
  const args = Args.of("list", raw);
  return {
    path: args.optionalString("path", FIELD_LIMITS.path),
    recursive: args.optionalBoolean("recursive"),
    ignore: args.optionalStringArray("ignore", FIELD_LIMITS.patterns, FIELD_LIMITS.pattern),
  };
}
