/**
 * How the workspace's files are opened, read, written and listed: one
 * interface, two ways. `Beneath` (lib/fs/beneath.ts, Linux with glibc and
 * FFI) opens every path relative to a descriptor of the workspace root with
 * the kernel refusing any escape; `PathFs` (lib/fs/path_fs.ts, elsewhere)
 * checks paths and then opens them, which a concurrent symlink swap can
 * outrun. Paths given here are workspace-relative and already confined
 * lexically (Workspace does that); "real" paths hold no symlink.
 *
 * @module
 */
import type { Kind, Stat } from "./linux_fs.ts";

export type { Kind, Stat };

/** An open regular file. */
export interface FileHandle {
  readonly size: number;
  /** up to `length` bytes at `position` (fewer only at end of file) */
  read(position: number, length: number): Promise<Uint8Array>;
  /**
   * `use` of the bytes `read` would give, without keeping them: they may lie
   * in a buffer reused by the next read, so `use` must not keep them (a read
   * result encodes them to base64 at once). Cheaper than `read` for a small
   * read: no buffer is allocated.
   */
  readWith<T>(position: number, length: number, use: (bytes: Uint8Array) => T): Promise<T>;
  /** its bytes from the start, in chunks (a redirect's stdin) */
  readable(): ReadableStream<Uint8Array>;
  write(data: Uint8Array): Promise<void>;
  close(): void;
}

export interface DirEntry {
  name: string;
  /** as lstat sees it: a symlink is "symlink", never followed */
  kind: Kind;
}

/** An open directory. */
export interface DirHandle {
  /** every entry, in name order */
  entries(): Promise<DirEntry[]>;
  /** lstat of one entry; undefined when it is gone */
  stat(name: string): Promise<Stat | undefined>;
  close(): void;
}

export type OpenMode = "read" | "write" | "append";

export interface WorkspaceFs {
  /** "openat2" and "openat" open through descriptors; "path" checks then opens by path */
  readonly kind: "openat2" | "openat" | "path";
  /**
   * Opens a regular file, following symlinks that stay inside. "write"
   * truncates, "append" appends; both create it (mode 0644) and refuse a
   * file with more than one hard link. FIFOs, devices and directories are
   * refused without blocking.
   */
  openFile(rel: string, display: string, mode: OpenMode): Promise<FileHandle>;
  /** Opens a directory by a real path (no symlink in it): a symlink swapped in is refused. */
  openRealDir(realRel: string): Promise<DirHandle>;
  /** stat following symlinks that stay inside; undefined when nothing is there */
  stat(rel: string): Promise<Stat | undefined>;
  /**
   * Replaces the file at `rel` with `data` (temp file, fsync, rename in the
   * same directory), creating parent directories. A final symlink leading
   * inside is written through, as before.
   */
  writeAtomic(rel: string, data: Uint8Array, display: string): Promise<void>;
  /**
   * writeAtomic for bytes that arrive in pieces (a saved output as the
   * command prints it): they go to the temp file as written, and nothing is
   * at `rel` until `commit`.
   */
  createAtomic(rel: string, display: string): Promise<AtomicFile>;
}

/** A file being written by createAtomic: `commit` renames it into place, `discard` removes it. */
export interface AtomicFile {
  write(data: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  /** removes the temp file; does nothing after `commit` or a second time */
  discard(): void;
}

/** `data` written whole into `file`, then committed; a failed write discards the file. */
export async function writeWhole(file: AtomicFile, data: Uint8Array): Promise<void> {
  try {
    await file.write(data);
  } catch (err) {
    file.discard();
    throw err;
  }
  await file.commit();
}

/** Sorts entries by name as bytes compare (the order every walk and listing uses). */
export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Chunks of a file read through `read`, for a redirect's stdin. */
export function chunkStream(
  read: (position: number, length: number) => Promise<Uint8Array>,
  chunk = 64 * 1024,
): ReadableStream<Uint8Array> {
  let position = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const bytes = await read(position, chunk);
      if (bytes.length === 0) controller.close();
      else {
        position += bytes.length;
        controller.enqueue(bytes);
      }
    },
  });
}
