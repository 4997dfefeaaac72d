import { basename, dirname, join } from "node:path";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import { isWithin } from "./workspace.ts";
import { type AtomicFile, writeWhole } from "./workspace_fs.ts";

/**
 * Replaces the file at `real` (a confined path below `root`) with `data`
 * so that no reader ever sees a half-written file: the bytes go to a fresh
 * temp file in the same directory, are fsynced, then renamed over the
 * target. rename(2) replaces a symlink at the target instead of following
 * it, and never writes through a hard link into another file. Parent
 * directories are created. An existing file keeps its permission bits.
 */
export async function atomicWrite(
  root: string,
  real: string,
  data: Uint8Array,
  display: string,
): Promise<void> {
  await writeWhole(await atomicFile(root, real, display), data);
}

/** atomicWrite for bytes that arrive in pieces: nothing is at `real` until `commit`. */
export async function atomicFile(root: string, real: string, display: string): Promise<AtomicFile> {
  if (real === root) throw new TaskError(`cannot write ${display}: it is a directory`);
  let mode: number | undefined;
  try {
    const info = await Deno.lstat(real);
    if (info.isDirectory) throw new TaskError(`cannot write ${display}: it is a directory`);
    if (info.isFile && info.mode !== null) mode = info.mode & 0o7777;
  } catch (err) {
    // not there yet (or a parent is a file: mkdir below says so clearly)
    if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
      throw err;
    }
  }
  const dir = dirname(real);
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new TaskError(`cannot create the directory for ${display}: ${(err as Error).message}`);
  }
  // A component could have been swapped for a symlink since resolve: write
  // only into a directory whose real location is still inside.
  const realDir = await Deno.realPath(dir);
  if (!isWithin(realDir, root)) throw new PathEscapeError(display);
  const target = join(realDir, basename(real));
  const temp = join(realDir, `.flashduty-write-${crypto.randomUUID()}.tmp`);
  // createNew is O_CREAT|O_EXCL: it never opens an existing file or follows a symlink
  const file = await Deno.open(temp, { write: true, createNew: true, mode: mode ?? 0o644 });
  let open = true;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  const failed = async (err: unknown): Promise<Error> => {
    open = false;
    close();
    await Deno.remove(temp).catch(() => {});
    if (err instanceof Deno.errors.IsADirectory) {
      return new TaskError(`cannot write ${display}: it is a directory`);
    }
    return err as Error;
  };
  return {
    write: async (data) => {
      if (!open) throw new TaskError(`cannot write ${display}: already closed`);
      try {
        for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
      } catch (err) {
        throw await failed(err);
      }
    },
    commit: async () => {
      if (!open) throw new TaskError(`cannot write ${display}: already closed`);
      try {
        // the umask must not narrow an existing file's mode
        if (mode !== undefined) await Deno.chmod(temp, mode);
        await file.sync();
        close();
        await Deno.rename(temp, target);
      } catch (err) {
        throw await failed(err);
      }
      open = false;
      await syncDir(realDir);
    },
    discard: () => {
      if (!open) return;
      open = false;
      close();
      void Deno.remove(temp).catch(() => {});
    },
  };
}

// Makes the rename itself durable; best effort (not every filesystem allows it).
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // the data is already safe in the file; only the rename's durability is at stake
  }
}
