import { join } from "node:path";

/** One directory entry met by `walk`, as lstat sees it (symlinks are not followed). */
export interface WalkEntry {
  /** absolute path; every directory above it was reached without following a symlink */
  real: string;
  /** root-relative, `/`-separated */
  rel: string;
  name: string;
  isDir: boolean;
  isFile: boolean;
  isSymlink: boolean;
}

/** What to do after visiting an entry: walk into it (directories only), not, or end the walk. */
export type Visit = "descend" | "skip" | "stop";

/**
 * Walks below the directory `startReal` (whose root-relative form is
 * `startRel`) depth-first, children in name order, calling `visit` for each
 * entry. Symlinked directories are never entered, so the walk cannot leave
 * the tree it started in. A subdirectory that cannot be read is passed over
 * (like ripgrep); the start directory failing to read is an error.
 */
export async function walk(
  startReal: string,
  startRel: string,
  visit: (entry: WalkEntry) => Visit | Promise<Visit>,
  signal?: AbortSignal,
): Promise<void> {
  // An explicit stack (not recursion) keeps very deep trees off the call stack.
  const stack: WalkEntry[] = (await children(startReal, startRel)).reverse();
  while (stack.length > 0) {
    signal?.throwIfAborted();
    const entry = stack.pop()!;
    const next = await visit(entry);
    if (next === "stop") return;
    if (next !== "descend" || !entry.isDir) continue;
    let kids: WalkEntry[];
    try {
      kids = await children(entry.real, entry.rel);
    } catch {
      continue;
    }
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
}

async function children(dirReal: string, dirRel: string): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  for await (const e of Deno.readDir(dirReal)) {
    out.push({
      real: join(dirReal, e.name),
      rel: dirRel === "." || dirRel === "" ? e.name : `${dirRel}/${e.name}`,
      name: e.name,
      // readDir reports the entry itself, like lstat: a symlink is neither dir nor file
      isDir: e.isDirectory,
      isFile: e.isFile,
      isSymlink: e.isSymlink,
    });
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
