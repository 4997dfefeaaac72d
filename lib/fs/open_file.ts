import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { constants, type FileHandle, open } from "node:fs/promises";
import { TaskError } from "../tasks/errors.ts";

/** The identity the file had when it was checked (lstat): what the opened file must still be. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

// O_NOFOLLOW: a symlink swapped in at the last component fails the open
// instead of being followed; O_NONBLOCK: a FIFO swapped in cannot hang the
// open (it is then refused as not a regular file).
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens `real` (an already confined, symlink-free path) for reading and
 * proves the opened file is the regular file that was checked: same device
 * and inode as `expected` (or as an lstat taken just before the open). A
 * rename or symlink swap between check and open is refused, not followed.
 * `display` is the path as the platform wrote it, for messages.
 */
export async function openVerified(
  real: string,
  display: string,
  expected?: FileIdentity,
): Promise<OpenedFile> {
  let checked = expected;
  if (checked === undefined) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(real);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new TaskError(`file not found: ${display}`);
      throw err;
    }
    if (info.isDirectory) throw new TaskError(`cannot read a directory: ${display}`);
    if (!info.isFile) throw new TaskError(`not a regular file: ${display}`);
    checked = { dev: info.dev ?? 0, ino: info.ino ?? 0 };
  }
  let handle: FileHandle;
  try {
    handle = await open(real, FLAGS);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") throw new TaskError(`file not found: ${display}`);
    if (code === "ELOOP") throw new TaskError(`file changed while being opened: ${display}`);
    throw err;
  }
  try {
    const st = await handle.stat();
    if (st.dev !== checked.dev || st.ino !== checked.ino) {
      throw new TaskError(`file changed while being opened: ${display}`);
    }
    if (st.isDirectory()) throw new TaskError(`cannot read a directory: ${display}`);
    if (!st.isFile()) throw new TaskError(`not a regular file: ${display}`);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Reads up to `length` bytes at `position` (fewer only at end of file). */
export async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * openVerified for a thread where blocking is fine (the grep worker): the
 * same checks with synchronous calls, a few microseconds each instead of an
 * async round trip. Returns the open fd; the caller closes it.
 */
export function openVerifiedSync(real: string, display: string): { fd: number; size: number } {
  const info = Deno.lstatSync(real);
  if (!info.isFile) throw new TaskError(`not a regular file: ${display}`);
  const fd = openSync(real, FLAGS);
  try {
    const st = fstatSync(fd);
    if (st.dev !== info.dev || st.ino !== info.ino || !st.isFile()) {
      throw new TaskError(`file changed while being opened: ${display}`);
    }
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** readAt for a synchronous fd. */
export function readAtSync(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}
