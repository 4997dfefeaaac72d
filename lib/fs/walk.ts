import type { Stat, WorkspaceFs } from "./workspace_fs.ts";

/** One directory entry met by `walk`, as lstat sees it (symlinks are not followed). */
export interface WalkEntry {
  /** root-relative, `/`-separated, real: no directory above it is a symlink */
  rel: string;
  name: string;
  isDir: boolean;
  isFile: boolean;
  isSymlink: boolean;
  /** lstat of the entry, taken through its directory's descriptor (only with `withStat`) */
  stat?: Stat;
}

/** Entries visited between two yields to the event loop (bench:loop measures the effect). */
const YIELD_EVERY = 256;

/** What to do after visiting an entry: walk into it (directories only), not, or end the walk. */
export type Visit = "descend" | "skip" | "stop";

export interface WalkOptions {
  signal?: AbortSignal;
  /** lstat every entry while its directory is open (list needs sizes; glob and grep do not) */
  withStat?: boolean;
}

/**
 * Walks below the real directory `startRel` depth-first, children in name
 * order, calling `visit` for each entry. Each directory is opened through
 * the workspace's descriptors with no symlink allowed on its path
 * (WorkspaceFs.openRealDir), so a directory swapped for a symlink while the
 * walk runs is skipped, never entered: the walk cannot leave the tree. A
 * subdirectory that cannot be read is passed over (like ripgrep); the
 * start directory failing to read is an error.
 */
export async function walk(
  fs: WorkspaceFs,
  startRel: string,
  visit: (entry: WalkEntry) => Visit | Promise<Visit>,
  opts: WalkOptions = {},
): Promise<void> {
  // An explicit stack (not recursion) keeps very deep trees off the call stack.
  const stack: WalkEntry[] = (await children(fs, startRel, opts.withStat)).reverse();
  let visited = 0;
  while (stack.length > 0) {
    opts.signal?.throwIfAborted();
    // Directory reads are synchronous system calls and a visit may not await
    // anything: without a real yield a big tree would hold the event loop.
    if (++visited % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
    const entry = stack.pop()!;
    const next = await visit(entry);
    if (next === "stop") return;
    if (next !== "descend" || !entry.isDir) continue;
    let kids: WalkEntry[];
    try {
      kids = await children(fs, entry.rel, opts.withStat);
    } catch {
      continue;
    }
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
}

async function children(fs: WorkspaceFs, dirRel: string, withStat = false): Promise<WalkEntry[]> {
  const dir = await fs.openRealDir(dirRel);
  try {
    const out: WalkEntry[] = [];
    for (const e of await dir.entries()) {
      const entry: WalkEntry = {
        rel: dirRel === "." || dirRel === "" ? e.name : `${dirRel}/${e.name}`,
        name: e.name,
        isDir: e.kind === "dir",
        isFile: e.kind === "file",
        isSymlink: e.kind === "symlink",
      };
      if (withStat) {
        const st = await dir.stat(e.name);
        if (!st) continue; // removed while listed
        entry.stat = st;
      }
      out.push(entry);
    }
    return out;
  } finally {
    dir.close();
  }
}
