/**
 * One OS pipe for a program's stdout and stderr (`cmd 2>&1`, `cmd |& x`):
 * the program's writes to fd 1 and fd 2 land in the pipe in the order it made
 * them, as under bash. Two pipes merged by the runner cannot promise that: the
 * reads of the two pipes race, so lines of a program that interleaves the two
 * streams come out reordered.
 *
 * Neither Deno.Command nor node's "pipe" stdio give two fds one pipe, so the
 * pipe comes from libc (lib/proc/fd_stream.ts). Where programs are started
 * with posix_spawn (lib/proc/spawn_native.ts) the pipe is set up there; this
 * module serves the fallback, node:child_process, which takes the write end
 * as a raw fd for fd 1 and fd 2.
 *
 * Where libc or the FFI grant is missing (non-Linux, musl), `mergedPipe`
 * answers undefined and the caller keeps two pipes.
 *
 * @module
 */
import { closeFd, fdPipesAvailable, fdReadable, openPipe } from "./fd_stream.ts";

/** True where `mergedPipe` can make a pipe (Linux, glibc, `--allow-ffi` for it). */
export function mergedPipeAvailable(): boolean {
  return fdPipesAvailable();
}

/** A pipe whose write end a program gets as fd 1 and fd 2. */
export interface MergedPipe {
  /** the write end, to hand to the child as its stdout and stderr */
  readonly writeFd: number;
  /**
   * Closes the parent's copy of the write end; call it once the child is
   * started (or failed to start), so end-of-file arrives when the program
   * and whatever it forked stop writing.
   */
  closeWrite(): void;
  /** The read end as a byte stream (lib/proc/fd_stream.ts fdReadable). */
  readonly readable: ReadableStream<Uint8Array>;
}

/** A new pipe, or undefined where there is no libc to make one. Throws if pipe2 fails. */
export function mergedPipe(): MergedPipe | undefined {
  if (!fdPipesAvailable()) return undefined;
  const { readFd, writeFd } = openPipe();
  let writeOpen = true;
  return {
    writeFd,
    closeWrite() {
      if (!writeOpen) return;
      writeOpen = false;
      closeFd(writeFd);
    },
    readable: fdReadable(readFd),
  };
}
