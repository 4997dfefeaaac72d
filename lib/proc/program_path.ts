/**
 * The one program lookup: which file a program word names. Used by the bash
 * executor (every program it starts, and bash itself in trusted mode), by
 * MCP stdio launches, and by the sandbox's `--allow-run` derivation, so the
 * file the rules were checked for, the file Deno's flags grant and the file
 * that starts are the same file.
 *
 * The workspace is where the platform (and so the model) can write. A file
 * there must never run as a bare program name: `PATH=...:/ws/bin` with a
 * planted `/ws/bin/ls` would otherwise make every allowed `ls` run it.
 */
import { isAbsolute, join, resolve } from "node:path";
import { isWithin } from "../fs/workspace.ts";

/**
 * The directories bare program names are looked up in: PATH's absolute
 * entries, by real path, without duplicates, and without any inside the
 * workspace. Relative entries (including the empty one, which means the
 * working directory) are dropped: they depend on where the command runs.
 */
export function searchPath(envPath: string | undefined, workspaceRoot: string): string[] {
  const root = realOr(workspaceRoot);
  const out: string[] = [];
  for (const entry of (envPath ?? "").split(":")) {
    if (!isAbsolute(entry)) continue;
    let real: string;
    try {
      real = Deno.realPathSync(entry);
    } catch {
      continue;
    }
    if (isWithin(real, root) || out.includes(real)) continue;
    out.push(real);
  }
  return out;
}

/** What findProgram needs beyond the name and the directories. */
export interface FindOptions {
  /** a name with `/` is resolved against this directory (default: the process's) */
  cwd?: string;
  /** a bare name never resolves to a file inside this directory (even through a symlink) */
  workspaceRoot?: string;
}

/**
 * The absolute path of the executable regular file `name` names: a name
 * with `/` is that path (resolved against `cwd`); a bare name is looked up
 * in `dirs` (from searchPath) in order. A candidate that is a symlink into
 * the workspace is skipped: a workspace file is a workspace file, whatever
 * directory links to it. Undefined when nothing fits.
 */
export function findProgram(
  name: string,
  dirs: readonly string[],
  opts: FindOptions = {},
): string | undefined {
  if (name.includes("/")) return resolve(opts.cwd ?? Deno.cwd(), name);
  if (name === "" || name === "." || name === "..") return undefined;
  const root = opts.workspaceRoot === undefined ? undefined : realOr(opts.workspaceRoot);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      const info = Deno.statSync(candidate);
      if (!info.isFile || ((info.mode ?? 0o755) & 0o111) === 0) continue;
      if (root !== undefined && isWithin(Deno.realPathSync(candidate), root)) continue;
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

function realOr(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}
