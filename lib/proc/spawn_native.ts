/**
 * Starting a program with glibc's posix_spawn, through FFI.
 *
 * Why not Deno.Command or node:child_process: every program the runner starts
 * leads a new session (setsid), so its whole group can be signalled. With
 * `detached: true` both make Rust's std fall back from a vfork-style clone to
 * a full fork, whose cost grows with the runner's memory (0.8 ms at 51 MB,
 * 2.5 ms at 172 MB, ../docs/benchmarks.md), and node:child_process, the only
 * one that sets argv[0] (the name as typed, as bash passes it), held the event
 * loop ~10 ms a spawn here (a CPU profile: 27% of a `bash seq 1 1` loop in
 * op_node_spawn_child). posix_spawn clones with CLONE_VM|CLONE_VFORK and
 * still does setsid (POSIX_SPAWN_SETSID), argv[0], the working directory
 * (addchdir_np) and the three descriptors in one call.
 *
 * What Deno.Command would have checked is checked here first: the Deno
 * permission for this program (`--allow-run`, the Deno layer of the sandbox),
 * and Deno's refusal of `LD_*`/`DYLD_*` variables without an unscoped grant.
 * The child gets every signal's default action and an empty signal mask (the
 * runtime ignores SIGPIPE, and ignored signals survive exec: `yes | head`
 * would never end).
 *
 * The child holds fds 0-2 and nothing else (addclosefrom_np): the runner's
 * own descriptors are close-on-exec, but what its parent (a service manager,
 * a shell) left open without that flag would otherwise reach every command
 * (Deno.Command passes those on).
 *
 * Pipes are libc pipes read and written through FFI (lib/proc/fd_stream.ts).
 * The exit is learnt from a pidfd, which becomes readable when the program
 * ends, in the shared epoll set (lib/proc/fd_poller.ts), then reaped with a
 * waitpid that does not block; where pidfds are missing (Linux < 5.3), a
 * blocking waitpid on a pool thread. Rust's runtime reaps only the children it
 * started (by pid), so it never takes ours.
 *
 * Needs glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np; Debian
 * 12, Ubuntu 22.04, RHEL 9 and the distroless image have it); where it is missing, `nativeSpawnAvailable()` is false and the caller uses
 * Deno.Command or node:child_process.
 *
 * @module
 */
import { constants } from "node:os";
import { type Libc, libcOnce } from "../sys/libc.ts";
import { fdPoller } from "./fd_poller.ts";
import { closeFd, fdPipesAvailable, fdReadable, fdWritable, openPipe } from "./fd_stream.ts";

const SYMBOLS = {
  malloc: { parameters: ["usize"], result: "usize" },
  free: { parameters: ["usize"], result: "void" },
  memcpy: { parameters: ["usize", "buffer", "usize"], result: "usize" },
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "usize", "usize"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  __xpg_strerror_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  waitpidNow: { name: "waitpid", parameters: ["i32", "buffer", "i32"], result: "i32" },
  pidfd_open: { name: "syscall", parameters: ["i64", "i64", "i64"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

// glibc's values (bits/spawn.h, fcntl.h), the same on x86_64 and aarch64
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_RDWR = 0o2;
/** posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128: room to spare. */
const STRUCT_BYTES = 512;
/** A waitpid that fails this many times in a row (EINTR) gives up. */
const WAIT_RETRIES = 64;
/** the system call's number, the same on x86_64 and aarch64 */
const SYS_PIDFD_OPEN = 434n;
const WNOHANG = 1;
const encoder = new TextEncoder();

/** Undefined with glibc < 2.34 (a symbol is missing) too: the caller spawns through Deno. */
const binding = libcOnce(SYMBOLS, fdPipesAvailable);

/** True where `spawnNative` can start programs (Linux, glibc ≥ 2.34, `--allow-ffi` for it). */
export function nativeSpawnAvailable(): boolean {
  return binding() !== undefined;
}

export type Stdio = "piped" | "null" | "inherit";

export interface NativeSpawnOptions {
  /** what the program sees as its name (argv[0]) */
  argv0: string;
  args: readonly string[];
  cwd?: string;
  /** the whole environment (nothing is inherited) */
  env: Record<string, string>;
  stdin: Stdio;
  stdout: Stdio;
  stderr: Stdio;
  /** stdout and stderr as one pipe (read as `stdout`; `stderr` is empty) */
  merge?: boolean;
}

/** What the runner uses of a started program (Deno.ChildProcess has it all). */
export interface Child {
  readonly pid: number;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
}

/**
 * Starts `program` (a path) as the leader of a new session and process group.
 * Throws as Deno.Command does: NotCapable where the Deno layer does not allow
 * it, NotFound / PermissionDenied / Error as exec failed.
 */
export function spawnNative(program: string, o: NativeSpawnOptions): Child {
  const libc = binding();
  if (!libc) throw new Error("posix_spawn through libc is not available here");
  checkDenoGrant(program, o.env);
  const argv = [o.argv0, ...o.args];
  const envp = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
  for (const s of [program, ...argv, ...envp, o.cwd ?? ""]) {
    if (s.includes("\0")) throw new TypeError("a NUL byte in a program's argument or environment");
  }

  const fa = struct();
  const attr = struct();
  const mine: number[] = []; // our ends, closed if the start fails
  const theirs: number[] = []; // the child's ends, closed here once it has them
  const s = libc.symbols;
  let memory = 0n;
  try {
    s.posix_spawn_file_actions_init(fa);
    s.posix_spawnattr_init(attr);
    const all = struct();
    s.sigfillset(all);
    s.posix_spawnattr_setsigdefault(attr, all);
    const none = struct();
    s.sigemptyset(none);
    s.posix_spawnattr_setsigmask(attr, none);
    s.posix_spawnattr_setflags(
      attr,
      POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
    );
    if (o.cwd !== undefined) check(s.posix_spawn_file_actions_addchdir_np(fa, cString(o.cwd)));

    const ends: { stdin?: number; stdout?: number; stderr?: number } = {};
    const wire = (fd: 0 | 1 | 2, mode: Stdio): number | undefined => {
      if (mode === "inherit") return undefined;
      if (mode === "null") {
        check(s.posix_spawn_file_actions_addopen(fa, fd, cString("/dev/null"), O_RDWR, 0));
        return undefined;
      }
      const { readFd, writeFd } = openPipe();
      const [parent, child] = fd === 0 ? [writeFd, readFd] : [readFd, writeFd];
      mine.push(parent);
      theirs.push(child);
      check(s.posix_spawn_file_actions_adddup2(fa, child, fd));
      return parent;
    };
    ends.stdin = wire(0, o.stdin);
    const merged = o.merge === true && o.stdout === "piped";
    ends.stdout = wire(1, o.stdout);
    if (merged) check(s.posix_spawn_file_actions_adddup2(fa, theirs[theirs.length - 1], 2));
    else ends.stderr = wire(2, o.stderr);

    // after the dup2s, which may have moved a pipe end onto 0-2
    check(s.posix_spawn_file_actions_addclosefrom_np(fa, 3));

    const image = argumentImage(argv, envp);
    memory = s.malloc(BigInt(image.bytes.byteLength));
    if (memory === 0n) throw new Error("out of memory starting a program");
    image.relocate(memory);
    s.memcpy(memory, image.bytes, BigInt(image.bytes.byteLength));
    const pidCell = new Int32Array(1);
    const err = s.posix_spawn(
      pidCell,
      cString(program),
      fa,
      attr,
      memory,
      memory + BigInt(image.envpOffset),
    );
    if (err !== 0) throw spawnError(libc, program, err);
    const pid = pidCell[0];
    mine.length = 0; // the streams below own them now
    const status = waitFor(libc, pid);
    return {
      pid,
      stdin: ends.stdin !== undefined ? fdWritable(ends.stdin, status) : new WritableStream(),
      stdout: ends.stdout !== undefined ? fdReadable(ends.stdout) : empty(),
      stderr: ends.stderr !== undefined ? fdReadable(ends.stderr) : empty(),
      status,
    };
  } finally {
    if (memory !== 0n) s.free(memory);
    s.posix_spawn_file_actions_destroy(fa);
    s.posix_spawnattr_destroy(attr);
    for (const fd of [...theirs, ...mine]) closeFd(fd);
  }
}

/** The checks Deno.Command makes before it spawns (the Deno layer of the sandbox). */
function checkDenoGrant(program: string, env: Record<string, string>): void {
  if (Deno.permissions.querySync({ name: "run", command: program }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires run access to "${program}", run again with the --allow-run flag`,
    );
  }
  const loaderVar = Object.keys(env).find((k) => /^(LD_|DYLD_)/.test(k));
  if (loaderVar && Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires --allow-run permissions to spawn subprocess with ${loaderVar} environment variable`,
    );
  }
}

/**
 * argv and envp as C wants them, in one block: two NULL-terminated arrays of
 * pointers, then the strings. The pointers are offsets until `relocate` adds
 * the block's address (it lives in malloc'd memory: a JS buffer's address
 * cannot be read under a scoped FFI grant).
 */
function argumentImage(argv: readonly string[], envp: readonly string[]) {
  const strings = [...argv, ...envp].map((s) => encoder.encode(s));
  const pointerBytes = (argv.length + 1 + envp.length + 1) * 8;
  const total = pointerBytes + strings.reduce((n, b) => n + b.byteLength + 1, 0);
  const bytes = new Uint8Array(total);
  const pointers = new BigUint64Array(bytes.buffer, 0, pointerBytes / 8);
  let at = pointerBytes;
  let slot = 0;
  const offsets: number[] = [];
  strings.forEach((b, i) => {
    if (i === argv.length) slot++; // argv's NULL
    bytes.set(b, at);
    offsets.push(slot);
    pointers[slot++] = BigInt(at);
    at += b.byteLength + 1; // and its NUL (the array is zeroed)
  });
  return {
    bytes,
    envpOffset: (argv.length + 1) * 8,
    relocate(base: bigint) {
      for (const i of offsets) pointers[i] += base;
    },
  };
}

function waitFor(libc: Libc<typeof SYMBOLS>, pid: number): Promise<Deno.CommandStatus> {
  const cell = new Int32Array(1);
  const poller = fdPoller();
  const pidfd = poller ? Number(libc.symbols.pidfd_open(SYS_PIDFD_OPEN, BigInt(pid), 0n)) : -1;
  if (poller && pidfd >= 0) {
    return (async () => {
      try {
        for (;;) {
          const r = libc.symbols.waitpidNow(pid, cell, WNOHANG);
          if (r === pid) return decodeStatus(cell[0]);
          if (r < 0) return { success: false, code: 1, signal: null }; // not ours (never expected)
          await poller.wait(pidfd, "read");
        }
      } finally {
        poller.forget(pidfd);
        libc.symbols.close(pidfd);
      }
    })();
  }
  return (async () => {
    for (let fails = 0; fails < WAIT_RETRIES;) {
      const r = await libc.symbols.waitpid(pid, cell, 0);
      if (r === pid) return decodeStatus(cell[0]);
      fails++;
    }
    // Not ours to wait for any more (never expected): report a failure, not a hang.
    return { success: false, code: 1, signal: null };
  })();
}

const SIGNAL_NAMES = new Map(
  Object.entries(constants.signals).map(([name, n]) => [n as number, name as Deno.Signal]),
);

/** A wait status as Deno reports it: a signal's death is code 128 + its number. */
export function decodeStatus(status: number): Deno.CommandStatus {
  const sig = status & 0x7f;
  if (sig === 0) {
    const code = (status >> 8) & 0xff;
    return { success: code === 0, code, signal: null };
  }
  return { success: false, code: 128 + sig, signal: SIGNAL_NAMES.get(sig) ?? null };
}

function spawnError(libc: Libc<typeof SYMBOLS>, program: string, errno: number): Error {
  const text = new Uint8Array(256);
  const why = libc.symbols.__xpg_strerror_r(errno, text, BigInt(text.byteLength)) === 0
    ? new TextDecoder().decode(text.subarray(0, text.indexOf(0)))
    : `error ${errno}`;
  const message = `Failed to spawn '${program}': ${why} (os error ${errno})`;
  const ENOENT = 2, EPERM = 1, EACCES = 13;
  if (errno === ENOENT) return new Deno.errors.NotFound(message);
  if (errno === EACCES || errno === EPERM) return new Deno.errors.PermissionDenied(message);
  return new Error(message);
}

function check(err: number): void {
  if (err !== 0) throw new Error(`setting up a program's start failed (error ${err})`);
}

/** A zeroed buffer for a C struct, off the V8 heap (so it never moves between calls). */
function struct(): Uint8Array {
  return new Uint8Array(new ArrayBuffer(STRUCT_BYTES));
}

function cString(s: string): Uint8Array {
  return encoder.encode(`${s}\0`);
}

function empty(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}
