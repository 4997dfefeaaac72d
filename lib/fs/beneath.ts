/**
 * Workspace file access through descriptors, so that no path is resolved
 * twice and no symlink swapped in mid-operation is followed out.
 *
 * The root is opened once. A path that may hold symlinks is opened with
 * `openat2(root, path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: the
 * kernel follows symlinks that stay below the root and refuses (EXDEV)
 * anything that would leave it, at the moment of the open. A path the
 * kernel refuses that way, or where openat2 is missing (ENOSYS, before Linux
 * 5.6; or FLASHDUTY_RUNNER_NO_OPENAT2=1), is resolved by the workspace's own
 * lstat chain (which refuses escapes and follows absolute links that lead
 * back inside) into a real path, and that real path is opened with no symlink
 * allowed anywhere: `openat2(..., RESOLVE_NO_SYMLINKS)`, or one `openat(dir,
 * name, O_NOFOLLOW)` per component. A directory swapped for a symlink
 * between the check and the open then fails the open (ELOOP) instead of
 * being followed.
 *
 * Everything after the open goes through the descriptor: reads (pread),
 * listing (getdents64, statx relative to the directory), and writes (the
 * temp file is created in, fsynced, and renamed within the directory's
 * descriptor), so a later swap cannot redirect it either.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import {
  AT,
  E,
  kindOfDirent,
  linuxSys,
  O,
  RESOLVE,
  SCRATCH_BYTES,
  type Stat,
  type Sys,
  SysError,
} from "./linux_fs.ts";
import {
  type AtomicFile,
  byName,
  chunkStream,
  type DirEntry,
  type DirHandle,
  type FileHandle,
  type OpenMode,
  type WorkspaceFs,
  writeWhole,
} from "./workspace_fs.ts";

/** O_PATH: a descriptor that only names a place (no read permission needed to walk through). */
const O_PATH = 0o10000000;
const DIR_FLAGS = O.RDONLY | O.DIRECTORY | O.CLOEXEC;
const TEMP_PREFIX = ".flashduty-write-";
/** Reads up to this size run on the calling thread (measured: bench/fs_bench.ts). */
const SYNC_READ_BYTES = SCRATCH_BYTES;

/**
 * openat2 failures the lstat chain looks at again: EXDEV and ELOOP (an
 * escape, an absolute link, or a loop: it says which), ENOENT and ENOTDIR
 * (it says why, e.g. a link through a missing directory, or an escape behind
 * it). Only failures pay for the second look.
 */
const SECOND_LOOK = new Set<number>([E.EXDEV, E.ELOOP, E.ENOENT, E.ENOTDIR]);

/** Set to 1 to use the per-component openat walk even where openat2 exists (tests). */
export const NO_OPENAT2_ENV = "FLASHDUTY_RUNNER_NO_OPENAT2";

/** Turns a workspace-relative path into its real (symlink-free) relative form, or throws PathEscapeError. */
export type RealResolver = (rel: string, display: string) => Promise<string>;

export class Beneath implements WorkspaceFs {
  #openat2: boolean;

  private constructor(
    private readonly sys: Sys,
    private readonly rootFd: number,
    private readonly realRel: RealResolver | undefined,
    openat2: boolean,
  ) {
    this.#openat2 = openat2;
  }

  /**
   * Opens `root` (its real path) for descriptor-relative access; undefined
   * where FFI or libc is unavailable. `realRel` resolves paths the kernel
   * refused (Workspace's lstat chain); without it such paths are refused.
   */
  static open(root: string, realRel?: RealResolver): Beneath | undefined {
    const sys = linuxSys();
    if (!sys) return undefined;
    let rootFd: number;
    try {
      rootFd = sys.openat(AT.FDCWD, root, DIR_FLAGS);
    } catch {
      return undefined;
    }
    let openat2 = !noOpenat2();
    if (openat2) {
      try {
        sys.close(sys.openat2(rootFd, ".", DIR_FLAGS, 0, RESOLVE.BENEATH));
      } catch (err) {
        if (!(err instanceof SysError) || err.errno !== E.ENOSYS) throw err;
        openat2 = false; // Linux before 5.6, or a seccomp filter that hides it
      }
    }
    return new Beneath(sys, rootFd, realRel, openat2);
  }

  get kind(): "openat2" | "openat" {
    return this.#openat2 ? "openat2" : "openat";
  }

  /**
   * A descriptor for `rel`, following symlinks that stay inside. A path the
   * kernel refused (SECOND_LOOK) goes through the lstat chain and then a
   * symlink-free open.
   */
  async openFollow(rel: string, flags: number, mode: number, display: string): Promise<number> {
    return this.#openFast(rel, flags, mode) ?? await this.#openResolved(rel, flags, mode, display);
  }

  /**
   * The common case, on this thread: openat2 below the root. Undefined when
   * the path needs the second look (or there is no openat2); other failures throw.
   */
  #openFast(rel: string, flags: number, mode: number): number | undefined {
    if (!this.#openat2) return undefined;
    try {
      return this.#beneath(rel, flags, mode, RESOLVE.NO_MAGICLINKS);
    } catch (err) {
      if (!(err instanceof SysError) || !SECOND_LOOK.has(err.errno)) throw err;
      return undefined;
    }
  }

  /** The second look: the lstat chain's real path, opened with no symlink allowed. */
  async #openResolved(rel: string, flags: number, mode: number, display: string): Promise<number> {
    if (!this.realRel) throw new PathEscapeError(display);
    let real: string;
    try {
      real = await this.realRel(rel, display);
    } catch (err) {
      // the lstat chain's reason (a link through a missing directory) is worth keeping
      if (err instanceof Deno.errors.NotFound) throw new TaskError(`not found: ${err.message}`);
      throw err;
    }
    return this.openReal(real, flags, mode);
  }

  /** openat2 below the root: the kernel refuses (EXDEV) any resolution that leaves it. */
  #beneath(path: string, flags: number, mode: number, resolve: number): number {
    return this.sys.openat2(this.rootFd, path, flags, mode, RESOLVE.BENEATH | resolve);
  }

  /**
   * A descriptor for a real path (no symlink in it, no `..`): any symlink met
   * on the way fails with ELOOP, so nothing swapped in is followed.
   */
  openReal(realRel: string, flags: number, mode = 0): number {
    if (this.#openat2) {
      return this.#beneath(realRel, flags, mode, RESOLVE.NO_SYMLINKS);
    }
    const parts = components(realRel);
    if (parts.length === 0) return this.sys.openat(this.rootFd, ".", flags | O.NOFOLLOW, mode);
    let dir = this.rootFd;
    try {
      for (let i = 0; i < parts.length - 1; i++) {
        const next = this.sys.openat(dir, parts[i], O_PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
        if (dir !== this.rootFd) this.sys.close(dir);
        dir = next;
      }
      return this.sys.openat(dir, parts.at(-1)!, flags | O.NOFOLLOW, mode);
    } finally {
      if (dir !== this.rootFd) this.sys.close(dir);
    }
  }

  openFile(rel: string, display: string, mode: OpenMode): Promise<FileHandle> {
    const flags = mode === "read"
      ? O.RDONLY | O.NONBLOCK | O.CLOEXEC
      : O.WRONLY | O.CREAT | O.NONBLOCK | O.CLOEXEC | (mode === "append" ? O.APPEND : 0);
    const perm = mode === "read" ? 0 : 0o644;
    // The common case (openat2 takes the path) stays on this thread with no hop
    // through the event loop: a read task is a handful of system calls.
    let fd: number | undefined;
    try {
      fd = this.#openFast(rel, flags, perm);
    } catch (err) {
      return Promise.reject(openError(err, display, mode));
    }
    if (fd !== undefined) {
      try {
        return Promise.resolve(this.#opened(fd, display, mode));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#openResolved(rel, flags, perm, display).then(
      (fd) => this.#opened(fd, display, mode),
      (err) => {
        throw openError(err, display, mode);
      },
    );
  }

  /** The open `fd` checked (a regular file; for writing, one link) and made a handle. */
  #opened(fd: number, display: string, mode: OpenMode): FileHandle {
    try {
      const st = this.sys.fstatBrief(fd);
      if (st.kind === "dir") {
        throw new TaskError(
          mode === "read"
            ? `cannot read a directory: ${display}`
            : `cannot write ${display}: it is a directory`,
        );
      }
      if (st.kind !== "file") throw new TaskError(`not a regular file: ${display}`);
      if (mode !== "read") {
        // Checked before truncating: a hard link would write into a file elsewhere.
        if (st.nlink > 1) {
          throw new TaskError(`cannot write ${display}: it has more than one hard link`);
        }
        if (mode === "write") this.sys.ftruncate(fd, 0);
      }
      return this.#handle(fd, mode === "write" ? 0 : st.size);
    } catch (err) {
      this.sys.close(fd);
      throw err instanceof SysError ? new TaskError(`${display}: ${err.message}`) : err;
    }
  }

  #handle(fd: number, size: number): FileHandle {
    return new FdFile(this.sys, fd, size);
  }

  /** Synchronous open-and-read for a thread that may block (the grep worker). */
  readRealSync(realRel: string, maxBytes: number): { bytes: Uint8Array; size: number } {
    const fd = this.openReal(realRel, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
    try {
      const st = this.sys.fstat(fd);
      if (st.kind !== "file") throw new TaskError(`not a regular file: ${realRel}`);
      return { bytes: this.sys.preadSync(fd, 0, Math.min(st.size, maxBytes)), size: st.size };
    } finally {
      this.sys.close(fd);
    }
  }

  openRealDir(realRel: string): Promise<DirHandle> {
    let fd: number;
    try {
      fd = this.openReal(realRel, DIR_FLAGS);
    } catch (err) {
      return Promise.reject(dirError(err, realRel));
    }
    const sys = this.sys;
    let closed = false;
    return Promise.resolve({
      entries: () => {
        const out: DirEntry[] = [];
        for (const d of sys.readdir(fd)) {
          let kind = kindOfDirent(d.type);
          if (kind === undefined) {
            try {
              kind = sys.statx(fd, d.name, AT.SYMLINK_NOFOLLOW).kind;
            } catch {
              continue; // removed while listed
            }
          }
          out.push({ name: d.name, kind });
        }
        return Promise.resolve(out.sort(byName));
      },
      stat: (name) => {
        try {
          return Promise.resolve(sys.statx(fd, name, AT.SYMLINK_NOFOLLOW));
        } catch {
          return Promise.resolve(undefined);
        }
      },
      close() {
        if (closed) return;
        closed = true;
        sys.close(fd);
      },
    });
  }

  async stat(rel: string): Promise<Stat | undefined> {
    let fd: number;
    try {
      fd = await this.openFollow(rel, O_PATH | O.CLOEXEC, 0, rel);
    } catch (err) {
      if (err instanceof SysError && (err.errno === E.ENOENT || err.errno === E.ENOTDIR)) {
        return undefined;
      }
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err instanceof SysError ? new TaskError(`${rel}: ${err.message}`) : err;
    }
    try {
      return this.sys.fstat(fd);
    } finally {
      this.sys.close(fd);
    }
  }

  async writeAtomic(rel: string, data: Uint8Array, display: string): Promise<void> {
    await writeWhole(await this.createAtomic(rel, display), data);
  }

  async createAtomic(rel: string, display: string): Promise<AtomicFile> {
    if (!this.realRel) throw new PathEscapeError(display);
    // The final component may be a symlink leading inside (written through, as
    // before); the real path has none, and is then opened without following any.
    const real = await this.realRel(rel, display);
    if (real === "." || real === "") {
      throw new TaskError(`cannot write ${display}: it is a directory`);
    }
    const dir = this.#mkdirs(dirname(real), display);
    try {
      return this.#temp(dir, basename(real), display);
    } catch (err) {
      this.sys.close(dir);
      throw err;
    }
  }

  /** Opens (creating as needed) each directory of a real path, one name at a time, never following a link. */
  #mkdirs(realDir: string, display: string): number {
    let dir = this.rootFd;
    try {
      for (const name of components(realDir)) {
        try {
          this.sys.mkdirat(dir, name, 0o755);
        } catch (err) {
          if (!(err instanceof SysError && err.errno === E.EEXIST)) {
            throw new TaskError(
              `cannot create the directory for ${display}: ${describe(err as SysError)}`,
            );
          }
        }
        let next: number;
        try {
          next = this.sys.openat(dir, name, DIR_FLAGS | O.NOFOLLOW);
        } catch (err) {
          const errno = (err as SysError).errno;
          // a symlink here now was a directory (or nothing) a moment ago: it was swapped
          if (errno === E.ELOOP) throw new PathEscapeError(display);
          throw new TaskError(
            `cannot create the directory for ${display}: ${describe(err as SysError)}`,
          );
        }
        if (dir !== this.rootFd) this.sys.close(dir);
        dir = next;
      }
      // the caller closes the last one; the root's descriptor is never handed out
      return dir === this.rootFd ? this.sys.openat(this.rootFd, ".", DIR_FLAGS) : dir;
    } catch (err) {
      if (dir !== this.rootFd) this.sys.close(dir);
      throw err;
    }
  }

  /**
   * A temp file beside `name` in `dir` (which it takes over and closes):
   * written through its descriptor, fsynced and renamed within `dir` on commit.
   */
  #temp(dir: number, name: string, display: string): AtomicFile {
    const sys = this.sys;
    let mode = 0o644;
    try {
      const st = sys.statx(dir, name, AT.SYMLINK_NOFOLLOW);
      if (st.kind === "dir") throw new TaskError(`cannot write ${display}: it is a directory`);
      if (st.kind === "file") mode = st.mode;
    } catch (err) {
      if (!(err instanceof SysError)) throw err; // not there yet
    }
    const temp = `${TEMP_PREFIX}${crypto.randomUUID()}.tmp`;
    const fd = sys.openat(dir, temp, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, mode);
    let open = true;
    const release = (unlink: boolean) => {
      if (!open) return;
      open = false;
      sys.close(fd);
      if (unlink) {
        try {
          sys.unlinkat(dir, temp);
        } catch { /* already renamed or gone */ }
      }
      sys.close(dir);
    };
    const failed = (err: unknown): Error => {
      release(true);
      if (err instanceof SysError && (err.errno === E.EISDIR || err.errno === E.ENOTEMPTY)) {
        return new TaskError(`cannot write ${display}: it is a directory`);
      }
      return err instanceof SysError
        ? new TaskError(`cannot write ${display}: ${describe(err)}`)
        : err as Error;
    };
    return {
      write: async (data) => {
        if (!open) throw new TaskError(`cannot write ${display}: already closed`);
        try {
          await sys.writeAll(fd, data);
        } catch (err) {
          throw failed(err);
        }
      },
      commit: async () => {
        if (!open) throw new TaskError(`cannot write ${display}: already closed`);
        try {
          sys.fchmod(fd, mode); // the umask must not narrow an existing file's mode
          await sys.fsync(fd);
          sys.renameat(dir, temp, name);
        } catch (err) {
          throw failed(err);
        }
        await sys.fsync(dir); // the rename's durability; best effort
        release(false);
      },
      discard: () => release(true),
    };
  }
}

/**
 * An open regular file's descriptor. A class (its methods shared, not a set
 * of closures per file): a read task opens one.
 */
class FdFile implements FileHandle {
  #closed = false;

  constructor(private readonly sys: Sys, private readonly fd: number, readonly size: number) {}

  // A small read costs less than the hop to another thread; a big one may
  // wait on the disk, and goes off the event loop.
  read(position: number, length: number): Promise<Uint8Array> {
    if (length > SYNC_READ_BYTES) return this.sys.pread(this.fd, position, length);
    try {
      return Promise.resolve(this.sys.preadSync(this.fd, position, length));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // A small read is used where it lies, in the thread's reused buffer: no copy is made.
  readWith<T>(position: number, length: number, use: (bytes: Uint8Array) => T): Promise<T> {
    if (length > SYNC_READ_BYTES) return this.sys.pread(this.fd, position, length).then(use);
    try {
      return Promise.resolve(use(this.sys.preadScratch(this.fd, position, length)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  readable(): ReadableStream<Uint8Array> {
    return chunkStream((position, length) => this.read(position, length));
  }

  write(data: Uint8Array): Promise<void> {
    return this.sys.writeAll(this.fd, data);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sys.close(this.fd);
  }
}

function components(rel: string): string[] {
  return rel.split("/").filter((p) => p !== "" && p !== ".");
}

function noOpenat2(): boolean {
  try {
    return Deno.env.get(NO_OPENAT2_ENV) === "1";
  } catch {
    return false; // not readable under the grants: the default
  }
}

function describe(err: SysError): string {
  switch (err.errno) {
    case E.ENOENT:
      return "No such file or directory";
    case E.ENOTDIR:
      return "Not a directory";
    case E.EACCES:
    case E.EPERM:
      return "Permission denied";
    case E.ENOSPC:
      return "No space left on device";
    case E.ENAMETOOLONG:
      return "File name too long";
    case E.EEXIST:
      return "File exists";
    case E.ELOOP:
      return "Too many levels of symbolic links";
    default:
      return err.message;
  }
}

function openError(err: unknown, display: string, mode: OpenMode): Error {
  if (!(err instanceof SysError)) return err as Error;
  switch (err.errno) {
    case E.ENOENT:
    case E.ENOTDIR:
      return new Deno.errors.NotFound(`${display}: No such file or directory`);
    case E.ELOOP:
      return new TaskError(`file changed while being opened: ${display}`);
    case E.EXDEV:
      return new PathEscapeError(display);
    case E.EISDIR:
      return new TaskError(
        mode === "read"
          ? `cannot read a directory: ${display}`
          : `cannot write ${display}: it is a directory`,
      );
    case E.ENXIO:
      return new TaskError(`not a regular file: ${display}`);
    default:
      return new TaskError(`${display}: ${describe(err)}`);
  }
}

function dirError(err: unknown, realRel: string): Error {
  if (!(err instanceof SysError)) return err as Error;
  if (err.errno === E.ENOENT) return new Deno.errors.NotFound(`no directory ${realRel}`);
  if (err.errno === E.ELOOP || err.errno === E.EXDEV) return new PathEscapeError(realRel);
  return new TaskError(`${realRel}: ${describe(err)}`);
}
