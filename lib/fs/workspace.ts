import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import { Beneath } from "./beneath.ts";
import { PathFs } from "./path_fs.ts";
import type { WorkspaceFs } from "./workspace_fs.ts";
import { isWithin } from "./within.ts";

export { isWithin };

const MAX_SYMLINK_HOPS = 40;
/** relative, no empty component (`//`, a trailing `/`), no NUL */
const PLAIN_RELATIVE = /^[^/\0]+(?:\/[^/\0]+)*$/;
/** a `.` or `..` component */
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * The workspace root and the one place that turns a path from the platform
 * into a real path on disk. `lexical` confines a path as written; `resolve`
 * follows every symlink itself (at any depth, dangling ones included) and
 * refuses anything whose real location is outside the root. File contents
 * are reached through `fs` (lib/fs/workspace_fs.ts), which opens paths
 * relative to a descriptor of the root so that a symlink swapped in while a
 * task runs is not followed out (lib/fs/beneath.ts).
 */
export class Workspace {
  /** how files are opened, read, written and listed */
  readonly fs: WorkspaceFs;

  private constructor(
    /** the root as configured (absolute) */
    readonly configuredRoot: string,
    /** the root with its own symlinks resolved: what every real path is checked against */
    readonly root: string,
  ) {
    const realRel = async (rel: string, display: string) =>
      this.relative(await this.resolve(rel, display));
    this.fs = Beneath.open(root, realRel) ?? new PathFs(root, realRel);
  }

  static async open(root: string): Promise<Workspace> {
    const abs = normalize(isAbsolute(root) ? root : join(Deno.cwd(), root));
    await Deno.mkdir(abs, { recursive: true, mode: 0o755 });
    return new Workspace(abs, await Deno.realPath(abs));
  }

  /**
   * `path` (relative to the root, or absolute inside it) as a normalized
   * root-relative path ("." for the root), without touching the disk.
   * Throws PathEscapeError when it names a place outside, as written.
   */
  lexical(path: string): string {
    // Most paths are already in that form: kept as they are, with no path arithmetic.
    if (sep === "/" && PLAIN_RELATIVE.test(path) && !DOT_COMPONENT.test(path)) return path;
    return this.relative(this.#lexicalAbs(path));
  }

  #lexicalAbs(path: string): string {
    if (typeof path !== "string" || path.includes("\0")) throw new PathEscapeError(String(path));
    if (isAbsolute(path)) {
      const abs = normalize(path);
      if (isWithin(abs, this.root)) return abs;
      if (isWithin(abs, this.configuredRoot)) {
        return join(this.root, relative(this.configuredRoot, abs));
      }
      throw new PathEscapeError(path);
    }
    const lexical = normalize(join(this.root, path));
    if (!isWithin(lexical, this.root)) throw new PathEscapeError(path);
    return lexical;
  }

  /**
   * The real absolute path for `path` (relative to the root, or absolute
   * inside it). Components that do not exist yet are kept as written, so a
   * path to be created resolves too. Throws PathEscapeError otherwise.
   */
  async resolve(path: string, display = path): Promise<string> {
    const lexical = this.#lexicalAbs(path);
    const real = await realResolve(this.root, relative(this.root, lexical), display);
    if (!isWithin(real, this.root)) throw new PathEscapeError(display);
    return real;
  }

  /** The root-relative, `/`-separated form used in results ("." for the root). */
  relative(real: string): string {
    const rel = relative(this.root, real);
    return rel === "" ? "." : rel.split(sep).join("/");
  }
}

/**
 * Resolves `rel` below `start` component by component with lstat, expanding
 * each symlink's target in place, the way the kernel would. Unlike
 * realpath(3) it also handles a dangling final link (whose target a write
 * would create) and paths whose tail does not exist yet.
 */
async function realResolve(start: string, rel: string, original: string): Promise<string> {
  let cur = start;
  const todo = rel.split(sep).filter((p) => p !== "" && p !== ".");
  let hops = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === "..") {
      cur = join(cur, "..");
      continue;
    }
    const next = join(cur, name);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(next);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        // A `..` left over from a symlink target must not be folded lexically
        // here: `missing/../link/x` would skip `missing` and land on an
        // unresolved `link`. The kernel answers ENOENT for it, so do we.
        if (todo.includes("..")) {
          throw new Deno.errors.NotFound(
            `${JSON.stringify(original)} (a symlink leads through a missing directory)`,
          );
        }
        return normalize(join(next, ...todo));
      }
      // Under the second sandbox layer the workspace is always readable, so a
      // component Deno refuses to stat lies outside it: that is an escape,
      // and the message must say so (users grep for it).
      if (err instanceof Deno.errors.NotCapable) throw new PathEscapeError(original);
      throw err;
    }
    if (info.isSymlink) {
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new TaskError(`too many levels of symbolic links: ${JSON.stringify(original)}`);
      }
      const target = await Deno.readLink(next);
      todo.unshift(...target.split(sep).filter((p) => p !== "" && p !== "."));
      if (isAbsolute(target)) cur = sep;
      continue;
    }
    cur = next;
  }
  return cur;
}
