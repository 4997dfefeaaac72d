/**
 * Pipe ends the runner owns as raw descriptors, as web streams.
 *
 * Pipes made with libc `pipe2` (lib/proc/spawn_native.ts, spawn_merged.ts)
 * are not Deno resources, so Deno's and node's stream APIs cannot read them
 * (node fs streams on a raw fd fail with EBADF here). They are read and
 * written with `nonblocking` FFI calls: each blocking read or write runs on a
 * worker thread and never stalls the event loop.
 *
 * errno cannot be read after such a call (it ran on another thread), and the
 * one transient failure a blocking pipe read or write has is EINTR: a failed
 * call is retried a few times in a row before the stream ends in an error.
 *
 * @module
 */
import { type Libc, openLibc } from "../sys/libc.ts";

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

const O_CLOEXEC = 0o2000000;
/** What one read takes when the reader brings no buffer of its own. */
const CHUNK_BYTES = 64 * 1024;
/** Failed calls in a row before giving up (see the module comment). */
const RETRIES = 8;

let bound: Libc<typeof SYMBOLS> | null | undefined;

function binding(): Libc<typeof SYMBOLS> | undefined {
  if (bound === undefined) {
    bound = null;
    if (Deno.build.os !== "linux") return undefined;
    try {
      bound = openLibc(SYMBOLS);
    } catch {
      // no FFI grant for libc, or no glibc: callers fall back to Deno's pipes
    }
  }
  return bound ?? undefined;
}

/** True where pipes can be made and read here (Linux, glibc, `--allow-ffi` for it). */
export function fdPipesAvailable(): boolean {
  return binding() !== undefined;
}

/** A new pipe, both ends close-on-exec (no program started meanwhile inherits them). */
export function openPipe(): { readFd: number; writeFd: number } {
  const libc = binding();
  if (!libc) throw new Error("pipes through libc are not available here");
  const fds = new Int32Array(2);
  if (libc.symbols.pipe2(fds, O_CLOEXEC) !== 0) {
    throw new Error(`pipe2 failed (errno ${libc.errno()})`);
  }
  return { readFd: fds[0], writeFd: fds[1] };
}

/** Closes a descriptor this process owns (once: the caller keeps track). */
export function closeFd(fd: number): void {
  binding()?.symbols.close(fd);
}

/**
 * The read end `fd` as a byte stream, which owns it from now on: a BYOB
 * reader reads straight into its own buffer. The end is closed at end of
 * file, on error, and on cancel, so a writer then gets SIGPIPE as with any
 * pipe; if a read is in flight when cancelled, the end is closed when it
 * returns (closing it under the read could let the number be reused meanwhile).
 */
export function fdReadable(fd: number): ReadableStream<Uint8Array> {
  const libc = binding()!;
  let open = true;
  let inFlight = false;
  let cancelled = false;
  const close = () => {
    if (!open) return;
    open = false;
    libc.symbols.close(fd);
  };
  const readOnce = async (into: Uint8Array): Promise<number> => {
    for (let tries = 0;; tries++) {
      const n = Number(await libc.symbols.read(fd, into, BigInt(into.byteLength)));
      if (n >= 0 || tries >= RETRIES) return n;
    }
  };
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: CHUNK_BYTES,
    async pull(c: ReadableByteStreamController) {
      // With autoAllocateChunkSize there is always a request, BYOB or not.
      const req = c.byobRequest!;
      inFlight = true;
      let n: number;
      try {
        n = await readOnce(req.view as Uint8Array);
      } finally {
        inFlight = false;
      }
      if (cancelled) return close();
      if (n > 0) return req.respond(n);
      close();
      if (n < 0) return c.error(new Error("reading the program's output failed"));
      c.close();
      req.respond(0);
    },
    cancel() {
      cancelled = true;
      if (!inFlight) close();
    },
  }, { highWaterMark: 0 });
}

/**
 * The write end `fd` as a stream, which owns it from now on. A write to a
 * pipe whose reader is gone fails (EPIPE: the runtime ignores SIGPIPE) and
 * rejects with BrokenPipe. Closing or aborting closes the end, after a write
 * in flight returns; so does `readerGone` settling (the program exited), so
 * an input nobody closes does not keep its descriptor for ever.
 */
export function fdWritable(fd: number, readerGone?: Promise<unknown>): WritableStream<Uint8Array> {
  const libc = binding()!;
  let open = true;
  let inFlight = false;
  let closing = false;
  const close = () => {
    if (!open) return;
    open = false;
    libc.symbols.close(fd);
  };
  const done = () => {
    closing = true;
    if (!inFlight) close();
  };
  void readerGone?.finally(done);
  const broken = () => new Deno.errors.BrokenPipe("the program's input is closed");
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      // The stream hands chunks one at a time, so one write is in flight at most.
      if (closing) throw broken();
      inFlight = true;
      try {
        for (let at = 0, fails = 0; at < chunk.byteLength;) {
          if (closing) throw broken();
          const rest = chunk.subarray(at);
          const n = Number(await libc.symbols.write(fd, rest, BigInt(rest.byteLength)));
          if (n >= 0) {
            at += n;
            fails = 0;
          } else if (++fails > RETRIES) {
            throw broken();
          }
        }
      } finally {
        inFlight = false;
        if (closing) close();
      }
    },
    close: done,
    abort: done,
  });
}
