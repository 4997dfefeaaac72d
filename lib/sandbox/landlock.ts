/**
 * The third sandbox layer: Linux Landlock. The kernel confines what the
 * runner and every program it starts may write and execute; reads are left
 * alone (reading logs is the point of most commands).
 *
 * A Landlock domain applies to the thread that creates it, is inherited by
 * every process that thread starts (across fork and exec), and can never be
 * lifted. The supervisor calls restrictThisThread() on its main thread and
 * spawns the runner from it (confinedLauncher in supervisor.ts): the
 * runner child and everything it starts live in the domain.
 *
 * FFI: `syscall`, `open`, `close` and `prctl` from libc, through
 * lib/sys/libc.ts, so `--allow-ffi=<libc path>` is the whole grant.
 *
 * @module
 */
import { openLibc } from "../sys/libc.ts";
import type { KernelRules } from "./landlock_rules.ts";

/** struct landlock_ruleset_attr.handled_access_fs bits (linux/landlock.h) */
export const ACCESS = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  /** ABI 2: link or rename a file into another directory */
  REFER: 1n << 13n,
  /** ABI 3: truncate(2), ftruncate, open with O_TRUNC */
  TRUNCATE: 1n << 14n,
} as const;

/** Rights that change the file system: what the layer confines to the write paths. */
function writeRights(abi: number): bigint {
  let r = ACCESS.WRITE_FILE | ACCESS.REMOVE_DIR | ACCESS.REMOVE_FILE | ACCESS.MAKE_CHAR |
    ACCESS.MAKE_DIR | ACCESS.MAKE_REG | ACCESS.MAKE_SOCK | ACCESS.MAKE_FIFO |
    ACCESS.MAKE_BLOCK | ACCESS.MAKE_SYM;
  if (abi >= 2) r |= ACCESS.REFER;
  if (abi >= 3) r |= ACCESS.TRUNCATE;
  return r;
}

/** The rights a rule on a non-directory may carry (others make the kernel answer EINVAL). */
const FILE_RIGHTS = ACCESS.EXECUTE | ACCESS.WRITE_FILE | ACCESS.READ_FILE | ACCESS.TRUNCATE;

/** x86_64 and aarch64 share these (asm-generic numbering since 5.13). */
const SYS = { create_ruleset: 444n, add_rule: 445n, restrict_self: 446n } as const;
const LANDLOCK_CREATE_RULESET_VERSION = 1;
const LANDLOCK_RULE_PATH_BENEATH = 1;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_DUMPABLE = 4;
/** O_PATH | O_CLOEXEC: the same values on x86_64 and aarch64 */
const O_PATH_CLOEXEC = 0o10000000 | 0o2000000;

const SYMBOLS = {
  create_ruleset: { name: "syscall", parameters: ["i64", "buffer", "usize", "u32"], result: "i64" },
  probe: { name: "syscall", parameters: ["i64", "pointer", "usize", "u32"], result: "i64" },
  add_rule: { name: "syscall", parameters: ["i64", "i32", "u32", "buffer", "u32"], result: "i64" },
  restrict_self: { name: "syscall", parameters: ["i64", "i32", "u32"], result: "i64" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  getenv: { parameters: ["buffer"], result: "pointer" },
  strlen: { parameters: ["pointer"], result: "usize" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Whether the kernel layer can run here, and if not, the one-line reason. */
export type Availability =
  | { available: true; abi: number }
  | { available: false; reason: string };

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  22: "EINVAL",
  38: "ENOSYS",
  95: "EOPNOTSUPP",
};

function errnoText(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

function open() {
  return openLibc(SYMBOLS);
}

/**
 * Probes the Landlock ABI version. Never throws: no Linux, no glibc, no FFI
 * permission, a kernel without Landlock (ENOSYS) or with it disabled at boot
 * (EOPNOTSUPP) all answer `available: false` with the reason.
 */
export function probeLandlock(): Availability {
  if (Deno.build.os !== "linux") {
    return { available: false, reason: `Landlock is Linux-only (this is ${Deno.build.os})` };
  }
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return { available: false, reason: `no Landlock system call numbers for ${Deno.build.arch}` };
  }
  let libc;
  try {
    libc = open();
  } catch (err) {
    return { available: false, reason: `cannot call the kernel: ${(err as Error).message}` };
  }
  try {
    const abi = Number(
      libc.symbols.probe(SYS.create_ruleset, null, 0n, LANDLOCK_CREATE_RULESET_VERSION),
    );
    if (abi < 1) {
      const e = libc.errno();
      return {
        available: false,
        reason: e === 38
          ? "this kernel has no Landlock (needs Linux 5.13 or later)"
          : e === 95
          ? "Landlock is built in but disabled (add landlock to the lsm= boot parameter)"
          : `Landlock probe failed: ${errnoText(e)} (a seccomp profile may block it)`,
      };
    }
    return { available: true, abi };
  } finally {
    libc.close();
  }
}

/** What restrictThisThread did, for logs and `permissions`. */
export interface Restriction {
  abi: number;
  /** paths granted, and paths named by the rules that do not exist (skipped) */
  writable: string[];
  executable: string[];
  skipped: string[];
}

export class LandlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LandlockError";
  }
}

/**
 * Confines the calling thread, irreversibly: from now on it and every
 * process it starts may write only beneath `rules.write` and execute only
 * files beneath `rules.exec`. Sets no_new_privs first (the kernel requires
 * it of an unprivileged caller; it also stops set-uid programs from
 * regaining what the domain takes away). Throws LandlockError when the
 * kernel refuses; the thread is then unrestricted, so the caller must not
 * start anything from it.
 */
export function restrictThisThread(rules: KernelRules): Restriction {
  const probe = probeLandlock();
  if (!probe.available) throw new LandlockError(probe.reason);
  const abi = probe.abi;
  const libc = open();
  const fail = (what: string): never => {
    throw new LandlockError(`${what}: ${errnoText(libc.errno())}`);
  };
  let ruleset = -1;
  try {
    const write = writeRights(abi);
    const handled = write | ACCESS.EXECUTE;
    const attr = new BigUint64Array([handled]);
    ruleset = Number(
      libc.symbols.create_ruleset(SYS.create_ruleset, new Uint8Array(attr.buffer), 8n, 0),
    );
    if (ruleset < 0) fail("landlock_create_ruleset");

    const out: Restriction = { abi, writable: [], executable: [], skipped: [] };
    const grants = new Map<string, bigint>();
    for (const p of rules.write) grants.set(p, (grants.get(p) ?? 0n) | write);
    for (const p of rules.exec) grants.set(p, (grants.get(p) ?? 0n) | ACCESS.EXECUTE);
    for (const [path, rights] of grants) {
      // Opened by the kernel, not stat'ed by Deno: a sandboxed runner may
      // lack a read grant for /lib64, and the loader must still be named.
      const fd = libc.symbols.open(cString(path), O_PATH_CLOEXEC);
      if (fd < 0) {
        out.skipped.push(path);
        continue;
      }
      try {
        // struct landlock_path_beneath_attr { __u64 allowed_access; __s32 parent_fd; } packed
        const buf = new Uint8Array(12);
        const view = new DataView(buf.buffer);
        const add = (allowed: bigint) => {
          view.setBigUint64(0, allowed, true);
          view.setInt32(8, fd, true);
          return libc.symbols.add_rule(SYS.add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, buf, 0);
        };
        // Directory rights on a file are EINVAL: a file gets the rights a file can have.
        if (add(rights) < 0 && (libc.errno() !== 22 || add(rights & FILE_RIGHTS) < 0)) {
          fail(`landlock_add_rule ${path}`);
        }
      } finally {
        libc.symbols.close(fd);
      }
      if (rights & ACCESS.WRITE_FILE) out.writable.push(path);
      if (rights & ACCESS.EXECUTE) out.executable.push(path);
    }
    if (libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) fail("PR_SET_NO_NEW_PRIVS");
    if (libc.symbols.restrict_self(SYS.restrict_self, ruleset, 0) < 0) {
      fail("landlock_restrict_self");
    }
    return out;
  } finally {
    if (ruleset >= 0) libc.symbols.close(ruleset);
    libc.close();
  }
}

/**
 * Makes this process non-dumpable (as ssh-agent does): its /proc/<pid>/environ,
 * /proc/<pid>/mem and core dumps are then closed to other processes of the
 * same user; only a process with CAP_SYS_PTRACE (root, by default) may still
 * read them. Returns false where the platform has no such switch or FFI is
 * not permitted. Programs the process starts are dumpable again (execve
 * resets it), which is what lets ps and kill still see them.
 */
export function setNonDumpable(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    const libc = open();
    try {
      return libc.symbols.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) === 0;
    } finally {
      libc.close();
    }
  } catch {
    return false;
  }
}

/**
 * Overwrites the value of environment variable `name` where the kernel shows
 * it: /proc/<pid>/environ reads the process's original environment block,
 * which unsetenv (Deno.env.delete) leaves untouched. Zeroes the value's
 * bytes in place, then unsets it. Linux with FFI only; false otherwise.
 */
export function scrubEnv(name: string): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    const libc = open();
    try {
      const value = libc.symbols.getenv(cString(name));
      if (value === null) return true;
      libc.symbols.memset(value, 0, libc.symbols.strlen(value));
    } finally {
      libc.close();
    }
    Deno.env.delete(name);
    return true;
  } catch {
    return false;
  }
}

function cString(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
