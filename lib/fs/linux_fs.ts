/**
 * The Linux file system calls the workspace layer makes through FFI
 * (lib/sys/libc.ts): descriptor-relative opens (`openat2`, `openat`), and
 * reading, writing, listing and renaming through descriptors. Deno's own fs
 * API takes paths only, and a path is resolved again by every call: a
 * directory swapped for a symlink between two calls sends the second one
 * elsewhere (issue 12: 235 leaks in 2,000 reads). A descriptor stays the
 * directory or file that was opened.
 *
 * Thin by design: constants, the symbol table, struct decoding and errno
 * mapping; the rules live in lib/fs/beneath.ts.
 *
 * @module
 */
import { type Libc, libcOnce } from "../sys/libc.ts";

const X86_64 = Deno.build.arch === "x86_64";

/** open(2) flags; the generic (aarch64) values differ from x86_64's for two of them. */
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: X86_64 ? 0o200000 : 0o40000,
  NOFOLLOW: X86_64 ? 0o400000 : 0o100000,
  CLOEXEC: 0o2000000,
} as const;

/** openat2(2) `resolve` bits. */
export const RESOLVE = {
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
} as const;

export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  EMPTY_PATH: 0x1000,
} as const;

export const E = {
  ENOENT: 2,
  EINTR: 4,
  ENXIO: 6,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  EPERM: 1,
} as const;

const SYS_OPENAT2_N = 437n; // the same number on x86_64 and aarch64
const SYS_GETDENTS64 = X86_64 ? 217 : 61;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE */
const STATX_WANT = 0x1 | 0x2 | 0x4 | 0x100 | 0x200;

/** The most preadScratch reads at once. */
export const SCRATCH_BYTES = 64 * 1024;

const SYMBOLS = {
  openat2: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "usize"],
    result: "i64",
  },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pread: { name: "pread64", parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // The same calls off the main thread, for bulk data: a slow disk must not
  // stall the event loop. errno is per thread, so these report -1 only.
  preadAsync: {
    name: "pread64",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  writeAsync: {
    name: "write",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  openatAsync: {
    name: "openat",
    parameters: ["i32", "buffer", "i32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  fsyncAsync: { name: "fsync", parameters: ["i32"], result: "i32", nonblocking: true },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  getdents64: { name: "syscall", parameters: ["i64", "i64", "buffer", "usize"], result: "i64" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // into a buffer we own: the returned pointer is only compared with NULL
  realpath: { parameters: ["buffer", "buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

export type FsLibc = Libc<typeof SYMBOLS>;

/** The process's one binding (dlopen once per thread); undefined when FFI or libc is missing. */
export const fsLibc: () => FsLibc | undefined = libcOnce(SYMBOLS);

let sharedSys: Sys | null | undefined;

/** The calls on the process's one binding; undefined when FFI or libc is missing. */
export function linuxSys(): Sys | undefined {
  if (sharedSys === undefined) {
    const libc = fsLibc();
    sharedSys = libc ? new Sys(libc) : null;
  }
  return sharedSys ?? undefined;
}

/** A failed system call: the errno and what was being done. */
export class SysError extends Error {
  constructor(readonly errno: number, readonly call: string) {
    super(`${call} failed (errno ${errno})`);
    this.name = "SysError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated C string (one allocation: paths are made on every file task). */
export function cstr(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3 + 1); // UTF-8 takes at most 3 bytes a UTF-16 unit
  const { written } = encoder.encodeInto(s, out);
  return out.subarray(0, written + 1); // the byte after is the NUL (zero-filled)
}

/** room for a path of FIELD_LIMITS.path (4096) UTF-16 units at 3 UTF-8 bytes each, and the NUL */
const C_PATH_BYTES = 4096 * 3 + 1;

/**
 * `s` as a NUL-terminated C string in `buf` (returned), or a new one when it
 * does not fit: valid until the next use of `buf`.
 */
function cstrIn(buf: Uint8Array, s: string): Uint8Array {
  if (s.length * 3 + 1 > buf.length) return cstr(s);
  const { written } = encoder.encodeInto(s, buf);
  buf[written] = 0;
  return buf;
}

export type Kind = "file" | "dir" | "symlink" | "other";

export interface Stat {
  kind: Kind;
  size: number;
  /** permission bits */
  mode: number;
  nlink: number;
  ino: bigint;
  /** the file system's device, "major:minor": with `ino`, which file this is */
  dev: string;
}

function kindOf(mode: number): Kind {
  const t = mode & S_IFMT;
  return t === S_IFREG ? "file" : t === S_IFDIR ? "dir" : t === S_IFLNK ? "symlink" : "other";
}

/** The calls, each throwing SysError with its errno. */
export class Sys {
  readonly #statBuf = new Uint8Array(256);
  readonly #statView = new DataView(this.#statBuf.buffer);
  readonly #how = new BigUint64Array(3);
  readonly #howBytes = new Uint8Array(this.#how.buffer);
  /** PATH_MAX, what realpath(3) may write */
  readonly #pathBuf = new Uint8Array(4096);
  /**
   * The C string of a synchronous call's path, reused: a fresh one a call
   * is an allocation on every file task, and a small typed array the FFI
   * layer is handed must first be moved off the V8 heap. Only for calls
   * that return before the next one starts (never an async one).
   */
  readonly #cpath = new Uint8Array(C_PATH_BYTES);
  /** the same for a call's second path (renameat) */
  readonly #cpath2 = new Uint8Array(C_PATH_BYTES);
  /** what preadScratch reads into: made on first use, reused after */
  #scratch?: Uint8Array;

  constructor(readonly libc: FsLibc) {}

  /** openat2(dirfd, path, {flags, mode, resolve}); retried on EAGAIN (a concurrent rename). */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
    const p = cstrIn(this.#cpath, path);
    this.#how[0] = BigInt(flags);
    this.#how[1] = BigInt(mode);
    this.#how[2] = BigInt(resolve);
    const how = this.#howBytes;
    for (let tries = 0;; tries++) {
      const fd = Number(this.libc.symbols.openat2(SYS_OPENAT2_N, BigInt(dirfd), p, how, 24n));
      if (fd >= 0) return fd;
      const errno = this.libc.errno();
      if ((errno === E.EAGAIN || errno === E.EINTR) && tries < 16) continue;
      throw new SysError(errno, "openat2");
    }
  }

  openat(dirfd: number, path: string, flags: number, mode = 0): number {
    const fd = this.openatOrFail(dirfd, path, flags, mode);
    if (fd < 0) throw new SysError(this.libc.errno(), "openat");
    return fd;
  }

  /**
   * openat, -1 where it fails (errno says why): for opens that often miss (the
   * sweep's /proc/<pid>/environ of a process that has exited), since a thrown
   * error costs tens of microseconds.
   */
  openatOrFail(dirfd: number, path: string, flags: number, mode = 0): number {
    return this.libc.symbols.openat(dirfd, cstrIn(this.#cpath, path), flags, mode);
  }

  /** openat off the main thread (a /proc file of a busy process can be slow); -1 on failure. */
  openatAsync(dirfd: number, path: string, flags: number): Promise<number> {
    return this.libc.symbols.openatAsync(dirfd, cstr(path), flags, 0);
  }

  close(fd: number): void {
    this.libc.symbols.close(fd);
  }

  /** statx of `path` below `dirfd` ("" with AT_EMPTY_PATH: the descriptor itself). */
  statx(dirfd: number, path: string, flags: number): Stat {
    const st = this.statxOrUndefined(dirfd, path, flags);
    if (!st) throw new SysError(this.libc.errno(), "statx");
    return st;
  }

  /**
   * statx, undefined where it fails: for lookups that mostly miss (a program
   * searched along PATH), since a thrown error costs tens of microseconds.
   */
  statxOrUndefined(dirfd: number, path: string, flags: number): Stat | undefined {
    if (!this.#statx(dirfd, path, flags)) return undefined;
    const v = this.#statView;
    const mode = v.getUint16(28, true);
    return {
      kind: kindOf(mode),
      mode: mode & 0o7777,
      nlink: v.getUint32(16, true),
      ino: v.getBigUint64(32, true),
      size: this.#size(),
      dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
    };
  }

  /**
   * What opening a file checks of its descriptor (kind, size, links), without
   * the identity fstat builds (a BigInt and a string) on every read task.
   */
  fstatBrief(fd: number): Pick<Stat, "kind" | "size" | "nlink"> {
    if (!this.#statx(fd, "", AT.EMPTY_PATH)) throw new SysError(this.libc.errno(), "statx");
    const v = this.#statView;
    return {
      kind: kindOf(v.getUint16(28, true)),
      size: this.#size(),
      nlink: v.getUint32(16, true),
    };
  }

  /** statx into #statBuf; false where it fails (errno says why) */
  #statx(dirfd: number, path: string, flags: number): boolean {
    const p = cstrIn(this.#cpath, path);
    return this.libc.symbols.statx(dirfd, p, flags, STATX_WANT, this.#statBuf) === 0;
  }

  /** stx_size of #statBuf, as two halves (no BigInt) */
  #size(): number {
    const v = this.#statView;
    return v.getUint32(40, true) + v.getUint32(44, true) * 2 ** 32;
  }

  /** realpath(3), undefined where it fails (missing, not allowed, too long). */
  realpathOrUndefined(path: string): string | undefined {
    const out = this.#pathBuf;
    if (this.libc.symbols.realpath(cstrIn(this.#cpath, path), out) === null) return undefined;
    return decoder.decode(out.subarray(0, out.indexOf(0)));
  }

  fstat(fd: number): Stat {
    return this.statx(fd, "", AT.EMPTY_PATH);
  }

  /** Every entry of the open directory `fd` but `.` and `..`, with the type the kernel gave (may be "other" for unknown). */
  readdir(fd: number): { name: string; type: number }[] {
    const out: { name: string; type: number }[] = [];
    const buf = new Uint8Array(64 * 1024);
    const v = new DataView(buf.buffer);
    const decoder = new TextDecoder();
    for (;;) {
      const n = Number(
        this.libc.symbols.getdents64(BigInt(SYS_GETDENTS64), BigInt(fd), buf, BigInt(buf.length)),
      );
      if (n < 0) throw new SysError(this.libc.errno(), "getdents64");
      if (n === 0) return out;
      for (let at = 0; at < n;) {
        const reclen = v.getUint16(at + 16, true);
        const type = buf[at + 18];
        const start = at + 19;
        const end = buf.indexOf(0, start);
        const name = decoder.decode(buf.subarray(start, end));
        if (name !== "." && name !== "..") out.push({ name, type });
        at += reclen;
      }
    }
  }

  mkdirat(dirfd: number, name: string, mode: number): void {
    if (this.libc.symbols.mkdirat(dirfd, cstrIn(this.#cpath, name), mode) !== 0) {
      throw new SysError(this.libc.errno(), "mkdirat");
    }
  }

  renameat(dirfd: number, from: string, to: string): void {
    if (
      this.libc.symbols.renameat(
        dirfd,
        cstrIn(this.#cpath, from),
        dirfd,
        cstrIn(this.#cpath2, to),
      ) !== 0
    ) {
      throw new SysError(this.libc.errno(), "renameat");
    }
  }

  unlinkat(dirfd: number, name: string, flags = 0): void {
    if (this.libc.symbols.unlinkat(dirfd, cstrIn(this.#cpath, name), flags) !== 0) {
      throw new SysError(this.libc.errno(), "unlinkat");
    }
  }

  /** kill(2): false when the process is gone or not ours to signal. */
  kill(pid: number, signal: number): boolean {
    return this.libc.symbols.kill(pid, signal) === 0;
  }

  fchmod(fd: number, mode: number): void {
    if (this.libc.symbols.fchmod(fd, mode) !== 0) throw new SysError(this.libc.errno(), "fchmod");
  }

  ftruncate(fd: number, size: number): void {
    if (this.libc.symbols.ftruncate(fd, BigInt(size)) !== 0) {
      throw new SysError(this.libc.errno(), "ftruncate");
    }
  }

  /** Up to `length` bytes at `position` (fewer only at end of file), on this thread. */
  preadSync(fd: number, position: number, length: number): Uint8Array {
    return this.#preadFill(new Uint8Array(length), fd, position, length);
  }

  /**
   * preadSync into a buffer this Sys reuses (`length` at most SCRATCH_BYTES):
   * the bytes are valid until the next call, for a caller that encodes them
   * at once (a read result's base64). A new buffer a read costs an
   * allocation outside the V8 heap and the collector's tracking of it.
   */
  preadScratch(fd: number, position: number, length: number): Uint8Array {
    if (length > SCRATCH_BYTES) throw new RangeError(`preadScratch of ${length} bytes`);
    return this.#preadFill(this.#scratch ??= new Uint8Array(SCRATCH_BYTES), fd, position, length);
  }

  #preadFill(buf: Uint8Array, fd: number, position: number, length: number): Uint8Array {
    let got = 0;
    while (got < length) {
      // the whole buffer when it is the read (no view made), else the part still to fill
      const into = got === 0 && length === buf.length ? buf : buf.subarray(got, length);
      const n = this.preadInto(fd, position + got, into);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  /** One pread into `into` (a caller's buffer, reused), on this thread: the bytes read, 0 at the end. */
  preadInto(fd: number, position: number, into: Uint8Array): number {
    for (;;) {
      const n = Number(
        this.libc.symbols.pread(fd, into, BigInt(into.byteLength), BigInt(position)),
      );
      if (n >= 0) return n;
      const errno = this.libc.errno();
      if (errno !== E.EINTR) throw new SysError(errno, "pread");
    }
  }

  /** preadSync off the main thread. */
  async pread(fd: number, position: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = Number(
        await this.libc.symbols.preadAsync(
          fd,
          got === 0 ? buf : buf.subarray(got),
          BigInt(length - got),
          BigInt(position + got),
        ),
      );
      if (n < 0) throw new SysError(0, "pread");
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  /** Writes all of `data` off the main thread. */
  async writeAll(fd: number, data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length;) {
      const n = Number(
        await this.libc.symbols.writeAsync(fd, data.subarray(off), BigInt(data.length - off)),
      );
      if (n < 0) throw new SysError(0, "write");
      off += n;
    }
  }

  async fsync(fd: number): Promise<boolean> {
    return (await this.libc.symbols.fsyncAsync(fd)) === 0;
  }
}

/** d_type values of getdents64. */
export const DT = { DIR: 4, REG: 8, LNK: 10, UNKNOWN: 0 } as const;

export function kindOfDirent(type: number): Kind | undefined {
  if (type === DT.UNKNOWN) return undefined;
  return type === DT.REG ? "file" : type === DT.DIR ? "dir" : type === DT.LNK ? "symlink" : "other";
}
