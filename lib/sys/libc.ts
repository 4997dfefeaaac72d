/**
 * One way into the C library, shared by every layer that needs a system call
 * Deno does not expose (openat2 for the file layer, Landlock and prctl for the
 * kernel layer).
 *
 * Why FFI needs only `--allow-ffi=<this path>`: the runner opens exactly one
 * library, and reads errno by copying it with `memcpy` into a buffer it owns.
 * `Deno.UnsafePointerView` would need an unscoped `--allow-ffi`, so it is not
 * used anywhere.
 *
 * @module
 */

/** Where glibc lives on the distributions and images the runner ships for. */
export const LIBC_CANDIDATES: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
  "/lib/libc.so.6",
];

let found: string | null | undefined;

/**
 * The path of the C library this process is linked against, or undefined
 * where there is none to use (not Linux, musl, or nothing readable). Read from
 * /proc/self/maps when allowed (exact), else the first candidate that exists.
 */
export function libcPath(): string | undefined {
  if (found !== undefined) return found ?? undefined;
  found = null;
  if (Deno.build.os !== "linux") return undefined;
  try {
    const maps = Deno.readTextFileSync("/proc/self/maps");
    const m = maps.match(/\s(\/\S*\/libc\.so\.6)$/m);
    if (m) return (found = m[1]);
  } catch { /* not readable under the runner's grants: fall back */ }
  for (const c of LIBC_CANDIDATES) {
    try {
      if (Deno.statSync(c).isFile) return (found = c);
    } catch (err) {
      // No read grant for it (a sandboxed runner): the ffi grant names it.
      if (err instanceof Deno.errors.NotCapable && ffiGranted(c)) return (found = c);
    }
  }
  return undefined;
}

function ffiGranted(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi", path }).state === "granted";
  } catch {
    return false;
  }
}

const ERRNO_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** An opened libc with the caller's symbols, plus errno. */
export interface Libc<S extends Deno.ForeignLibraryInterface> {
  readonly symbols: Deno.DynamicLibrary<S>["symbols"];
  /** errno of this thread, as the last failing call left it */
  errno(): number;
  close(): void;
}

/**
 * Opens libc with `symbols` (use `name` to bind one C function under several
 * signatures, e.g. `syscall`). Throws when there is no libc or FFI is not
 * permitted; callers decide whether that is fatal.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(symbols: S): Libc<S> {
  const path = libcPath();
  if (!path) throw new Error("no C library found (FFI system calls need glibc on Linux)");
  const lib = Deno.dlopen(path, symbols);
  // The same library opened a second time (dlopen counts references): errno's
  // two symbols keep exact types apart from the caller's generic set.
  const err = Deno.dlopen(path, ERRNO_SYMBOLS);
  const cell = new Int32Array(1);
  return {
    symbols: lib.symbols,
    errno() {
      const where = err.symbols.__errno_location();
      if (where === null) return 0;
      err.symbols.memcpy(cell, where, 4n);
      return cell[0];
    },
    close() {
      lib.close();
      err.close();
    },
  };
}

/**
 * A getter for libc with `symbols`, opened on the first call and kept (one
 * dlopen a binding); undefined, for good, where it cannot be: not Linux, no
 * glibc, no FFI grant for it, a symbol this glibc lacks, or `usable()`
 * answering false. Callers fall back to what works without it.
 */
export function libcOnce<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
  usable: () => boolean = () => true,
): () => Libc<S> | undefined {
  let bound: Libc<S> | null | undefined;
  return () => {
    if (bound === undefined) {
      bound = null;
      if (Deno.build.os === "linux" && usable()) {
        try {
          bound = openLibc(symbols);
        } catch {
          // stays null: the caller's fallback
        }
      }
    }
    return bound ?? undefined;
  };
}
