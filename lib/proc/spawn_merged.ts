/**
 * One OS pipe for a program's stdout and stderr (`cmd 2>&1`, `cmd |& x`):
 * the program's writes to fd 1 and fd 2 land in the pipe in the order it made
 * them, as under bash. Two pipes merged by the runner cannot promise that: the
 * reads of the two pipes race, so lines of a program that interleaves the two
 * streams come out reordered.
 *
 * Neither Deno.Command nor node's "pipe" stdio give two fds one pipe, so the
 * pipe comes from libc (`pipe2`, close-on-exec on both ends, so no other
 * program started meanwhile inherits them); node:child_process takes the
 * write end as a raw fd for fd 1 and fd 2. The read end is read through FFI
 * (node fs streams on a raw fd fail with EBADF here): a `nonblocking` call, so
 * the blocking read runs on a worker thread and never stalls the event loop.
 *
 * Where libc or the FFI grant is missing (non-Linux, musl), `mergedPipe`
 * answers undefined and the caller keeps two pipes.
 *
 * @module
 */
import { type Libc, openLibc } from "../sys/libc.ts";

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

const O_CLOEXEC = 0o2000000;
/** What one read takes when the reader brings no buffer of its own. */
const CHUNK_BYTES = 64 * 1024;
/**
 * A failed read is retried this many times in a row before the stream ends in
 * an error. errno cannot be read (the call ran on another thread), and the one
 * transient failure a blocking pipe read has is EINTR.
 */
const READ_RETRIES = 8;

let bound: Libc<typeof SYMBOLS> | null | undefined;

function binding(): Libc<typeof SYMBOLS> | undefined {
  if (bound === undefined) {
    bound = null;
    if (Deno.build.os !== "linux") return undefined;
    try {
      bound = openLibc(SYMBOLS);
    } catch {
      // no FFI grant for libc, or no glibc: the caller falls back to two pipes
    }
  }
  return bound ?? undefined;
}

/** True where `mergedPipe` can make a pipe (Linux, glibc, `--allow-ffi` for it). */
export function mergedPipeAvailable(): boolean {
  return binding() !== undefined;
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
  /**
   * The read end as a byte stream (a BYOB reader reads straight into its own
   * buffer). Cancelling closes the read end, so a writer gets SIGPIPE as with
   * any pipe; if a read is in flight then, the end is closed when it returns
   * (closing it under the read could let the fd number be reused meanwhile).
   */
  readonly readable: ReadableStream<Uint8Array>;
}

/** A new pipe, or undefined where there is no libc to make one. Throws if pipe2 fails. */
export function mergedPipe(): MergedPipe | undefined {
  const libc = binding();
  if (!libc) return undefined;
  const fds = new Int32Array(2);
  if (libc.symbols.pipe2(fds, O_CLOEXEC) !== 0) {
    throw new Error(`pipe2 failed (errno ${libc.errno()})`);
  }
  const [readFd, writeFd] = fds;
  let writeOpen = true;
  let readOpen = true;
  let inFlight = false;
  let cancelled = false;
  const closeRead = () => {
    if (!readOpen) return;
    readOpen = false;
    libc.symbols.close(readFd);
  };
  const readOnce = async (into: Uint8Array): Promise<number> => {
    for (let tries = 0;; tries++) {
      const n = Number(await libc.symbols.read(readFd, into, BigInt(into.byteLength)));
      if (n >= 0 || tries >= READ_RETRIES) return n;
    }
  };
  const source: UnderlyingByteSource = {
    type: "bytes",
    autoAllocateChunkSize: CHUNK_BYTES,
    async pull(c: ReadableByteStreamController) {
      // With autoAllocateChunkSize there is always a request, BYOB or not.
      const req = c.byobRequest!;
      const view = req.view as Uint8Array;
      inFlight = true;
      let n: number;
      try {
        n = await readOnce(view);
      } finally {
        inFlight = false;
      }
      if (cancelled) return closeRead();
      if (n > 0) return req.respond(n);
      closeRead();
      if (n < 0) return c.error(new Error("reading the program's output failed"));
      c.close();
      req.respond(0);
    },
    cancel() {
      cancelled = true;
      if (!inFlight) closeRead();
    },
  };
  const readable = new ReadableStream(source, { highWaterMark: 0 });
  return {
    writeFd,
    closeWrite() {
      if (!writeOpen) return;
      writeOpen = false;
      libc.symbols.close(writeFd);
    },
    readable,
  };
}
