import { Args } from "../tasks/args.ts";
import { compileGlob, workspacePattern } from "../fs/pattern.ts";
import { walk } from "../fs/walk.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { GlobArgs, GlobResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";
import type { Workspace } from "../fs/workspace.ts";

export const MAX_GLOB_MATCHES = 10_000;
/** Entries one glob looks at, at most (a `**` over a huge tree must end). */
export const MAX_GLOB_VISITS = 200_000;

/**
 * `glob {pattern}` -> `{matches: string[]}` sorted, root-relative. Walks the
 * workspace from its root without entering symlinked directories, only into
 * directories the pattern can still match; a symlink is a match only when it
 * leads inside. `truncated: true` (extension) when a cap stopped the walk.
 */
export const glob: OperationHandler = async (rawArgs, ctx): Promise<GlobResult> => {
  const { pattern } = globArgs(rawArgs);
  const ws = ctx.workspace;
  const mm = compileGlob(workspacePattern(ws, pattern));
  const matches: string[] = [];
  let visits = 0;
  let truncated = false;
  await walk(ws.fs, ".", async (e) => {
    if (++visits > MAX_GLOB_VISITS || matches.length >= MAX_GLOB_MATCHES) {
      truncated = true;
      return "stop";
    }
    if (mm.match(e.rel) && (!e.isSymlink || await leadsInside(ws, e.rel))) matches.push(e.rel);
    return e.isDir && mm.match(e.rel, true) ? "descend" : "skip";
  }, { signal: ctx.signal });
  matches.sort();
  return truncated ? { matches, truncated } : { matches };
};

async function leadsInside(ws: Workspace, rel: string): Promise<boolean> {
  try {
    await ws.resolve(rel);
    return true;
  } catch {
    return false;
  }
}

export function globArgs(raw: unknown): GlobArgs {
  return { pattern: Args.of("glob", raw).nonEmptyString("pattern", FIELD_LIMITS.pattern) };
}
