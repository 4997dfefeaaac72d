import { basename } from "node:path";
import { Args } from "../tasks/args.ts";
import { compileGlob } from "../fs/pattern.ts";
import { walk } from "../fs/walk.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { ListArgs, ListEntry, ListResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/** Entries one list returns at most; past it the result says `truncated: true`. */
export const MAX_LIST_ENTRIES = 10_000;

/**
 * `list {path, recursive?, ignore?}` -> `{entries: [{path, is_dir, size}]}`.
 * Entries are what lstat sees: a symlink is listed as itself (is_dir false,
 * its own size) and a symlinked directory is never walked into. `ignore`
 * patterns match base names and prune matching directories. Listing a file
 * gives that one entry.
 */
export const list: OperationHandler = async (rawArgs, ctx): Promise<ListResult> => {
  const args = listArgs(rawArgs);
  const path = args.path ?? ".";
  const recursive = args.recursive ?? false;
  const ignore = (args.ignore ?? []).map(compileGlob);
  const ignored = (name: string) => ignore.some((mm) => mm.match(name));
  const ws = ctx.workspace;
  const real = await ws.resolve(path);
  const info = await Deno.lstat(real);
  if (!info.isDirectory) {
    return { entries: ignored(basename(real)) ? [] : [entry(ws.relative(real), info)] };
  }
  const entries: ListEntry[] = [];
  let truncated = false;
  await walk(real, ws.relative(real), async (e) => {
    if (ignored(e.name)) return "skip";
    if (entries.length >= MAX_LIST_ENTRIES) {
      truncated = true;
      return "stop";
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(e.real);
    } catch {
      return "skip"; // removed while we walked
    }
    entries.push(entry(e.rel, st));
    return recursive ? "descend" : "skip";
  }, ctx.signal);
  return truncated ? { entries, truncated } : { entries };
};

function entry(path: string, info: Deno.FileInfo): ListEntry {
  return { path, is_dir: info.isDirectory, size: info.size };
}

export function listArgs(raw: unknown): ListArgs {
  const args = Args.of("list", raw);
  return {
    path: args.optionalString("path", FIELD_LIMITS.path),
    recursive: args.optionalBoolean("recursive"),
    ignore: args.optionalStringArray("ignore", FIELD_LIMITS.patterns, FIELD_LIMITS.pattern),
  };
}
