/**
 * The dynamic loader as an argument: `ld-linux-x86-64.so.2 PROG` runs PROG
 * without the kernel checking execute permission on PROG (the loader maps
 * it itself). The kernel layer must let the loader execute, since every
 * dynamic program needs it, so a program that runs a command by path
 * (`find -exec`, a `--use-compress-program=`, a pager variable) could start
 * any program through it. In restricted mode a word naming the loader is
 * refused: by its name (`ld-linux*.so*`, `ld-musl-*.so*`, `ld.so`, `ld64.so*`,
 * old glibc's `ld-2.31.so`), and, for a path, by what it is (a symlink or a
 * hard link to the loader under another name is the same file).
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { AT, linuxSys, O } from "../fs/linux_fs.ts";
import { baseName } from "./command_policy.ts";

/** Base names the dynamic loaders of Linux libcs go by. */
const LOADER_NAME =
  /^(ld-linux[\w.-]*\.so(\.\d+)*|ld-musl-[\w.-]+\.so(\.\d+)*|ld(64)?\.so(\.\d+)*|ld-\d[\d.]*\.so)$/i;

/** Directories the loaders live in (Debian, Red Hat, Alpine, multiarch). */
const LOADER_DIRS = [
  "/lib",
  "/lib64",
  "/lib32",
  "/usr/lib",
  "/usr/lib64",
  "/usr/lib32",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
];

let loaderFiles: Set<string> | undefined;

/** Which file each loader on this host is (device and inode), found once. */
function loaders(): Set<string> {
  if (loaderFiles) return loaderFiles;
  loaderFiles = new Set();
  for (const dir of LOADER_DIRS) {
    for (const name of entries(dir)) {
      if (!LOADER_NAME.test(name)) continue;
      const id = fileId(join(dir, name));
      if (id) loaderFiles.add(id);
    }
  }
  return loaderFiles;
}

// Through libc where it can be had: the sandboxed runner has no Deno read
// grant for /lib or for most paths an argument names.
function entries(dir: string): string[] {
  const sys = linuxSys();
  try {
    if (!sys) return [...Deno.readDirSync(dir)].map((e) => e.name);
    const fd = sys.openat(AT.FDCWD, dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      return sys.readdir(fd).map((e) => e.name);
    } finally {
      sys.close(fd);
    }
  } catch {
    return [];
  }
}

/** "dev:ino" of the regular file `path` names (symlinks followed), or undefined. */
function fileId(path: string): string | undefined {
  const sys = linuxSys();
  try {
    if (sys) {
      const st = sys.statx(AT.FDCWD, path, 0);
      return st.kind === "file" ? `${st.dev}:${st.ino}` : undefined;
    }
    const st = Deno.statSync(path);
    return st.isFile && st.ino !== null ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first word of `words` that names a dynamic loader, or undefined.
 * A word is read whole, after an `=` (`--opt=PATH`) and split at blanks
 * (`--to-command='LOADER PROG'`); a piece with a `/` is also looked up
 * (relative to `cwd`) and compared with the loaders by device and inode.
 */
export function namesDynamicLoader(words: readonly string[], cwd: string): string | undefined {
  for (const word of words) {
    for (const piece of pieces(word)) {
      if (LOADER_NAME.test(baseName(piece))) return word;
      if (!piece.includes("/")) continue;
      const id = fileId(isAbsolute(piece) ? piece : join(cwd, piece));
      if (id && loaders().has(id)) return word;
    }
  }
  return undefined;
}

function pieces(word: string): string[] {
  const out = new Set([word]);
  const eq = word.indexOf("=");
  if (eq >= 0) out.add(word.slice(eq + 1));
  for (const p of word.split(/[\s=:,;'"]+/)) if (p) out.add(p);
  return [...out];
}
