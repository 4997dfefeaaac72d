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
import { isWithin } from "../fs/within.ts";
import { AT, linuxSys } from "../fs/linux_fs.ts";

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
    const real = realOrUndefined(entry);
    if (real === undefined || isWithin(real, root) || out.includes(real)) continue;
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
 * directory links to it. Undefined when nothing fits. `dirs` may be given as
 * a function, called only for a bare name (finding the directories costs a
 * realpath each: a path needs none).
 */
export function findProgram(
  name: string,
  dirs: readonly string[] | (() => readonly string[]),
  opts: FindOptions = {},
): string | undefined {
  if (name.includes("/")) return resolve(opts.cwd ?? Deno.cwd(), name);
  if (name === "" || name === "." || name === "..") return undefined;
  const root = opts.workspaceRoot === undefined ? undefined : realOr(opts.workspaceRoot);
  for (const dir of typeof dirs === "function" ? dirs() : dirs) {
    const candidate = join(dir, name);
    if (!isProgram(candidate)) continue;
    if (root !== undefined) {
      const real = realOrUndefined(candidate);
      if (real === undefined || isWithin(real, root)) continue;
    }
    return candidate;
  }
  return undefined;
}

// The lookups below mostly miss (a name is looked for in each PATH directory
// before the one that has it), on every program a command starts. Through
// libc a miss is a return value; through Deno's fs API it is a thrown error,
// ~40 us each (issue 13).

/** An executable regular file (symlinks followed). */
function isProgram(path: string): boolean {
  const sys = linuxSys();
  if (sys) {
    const st = sys.statxOrUndefined(AT.FDCWD, path, 0);
    return st !== undefined && st.kind === "file" && (st.mode & 0o111) !== 0;
  }
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o755) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function realOrUndefined(path: string): string | undefined {
  const sys = linuxSys();
  if (sys) return sys.realpathOrUndefined(path);
  try {
    return Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}

function realOr(path: string): string {
  return realOrUndefined(path) ?? path;
}
