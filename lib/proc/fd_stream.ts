/**
 * Pipe ends the runner owns as raw descriptors, as web streams.
 *
 * Pipes made with libc `pipe2` (lib/proc/spawn_native.ts, spawn_merged.ts)
 * are not Deno resources, so Deno's and node's stream APIs cannot read them
 * (node fs streams on a raw fd fail with EBADF here). The runner's end is
 * made non-blocking and read or written on the event loop thread, a few
 * microseconds a call; when it has nothing to give (EAGAIN), the stream waits
 * for it in the one shared epoll set (lib/proc/fd_poller.ts). The program's
 * end stays blocking, as programs expect.
 *
 * @module
 */
import { type Libc, libcOnce } from "../sys/libc.ts";
import { fdPoller } from "./fd_poller.ts";

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_GETFL = 3;
const F_SETFL = 4;
const F_DUPFD_CLOEXEC = 1030;
const EINTR = 4;
const EAGAIN = 11;
/** What one read takes when the reader brings no buffer of its own. */
const CHUNK_BYTES = 64 * 1024;

/** Without libc or epoll, callers fall back to Deno's pipes. */
const binding = libcOnce(SYMBOLS, () => fdPoller() !== undefined);

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
  let readFd: number;
  try {
    readFd = aboveStdio(libc, fds[0]);
  } catch (err) {
    libc.symbols.close(fds[1]);
    throw err;
  }
  try {
    return { readFd, writeFd: aboveStdio(libc, fds[1]) };
  } catch (err) {
    libc.symbols.close(readFd);
    throw err;
  }
}

/**
 * `fd` moved to 3 or above. Where the runner's own stdin, stdout or stderr
 * is closed, a new pipe can get 0-2, and a program's start, which sets 0-2
 * one after another, would overwrite one end before copying it.
 */
function aboveStdio(libc: Libc<typeof SYMBOLS>, fd: number): number {
  if (fd > 2) return fd;
  const moved = libc.symbols.fcntl(fd, F_DUPFD_CLOEXEC, 3);
  libc.symbols.close(fd);
  if (moved < 0) throw new Error(`fcntl failed (errno ${libc.errno()})`);
  return moved;
}

/** Closes a descriptor this process owns (once: the caller keeps track). */
export function closeFd(fd: number): void {
  binding()?.symbols.close(fd);
}

/** Our end of a pipe in non-blocking mode (a flag of our end only, not the program's). */
function nonBlocking(libc: Libc<typeof SYMBOLS>, fd: number): void {
  const flags = libc.symbols.fcntl(fd, F_GETFL, 0);
  if (flags < 0 || libc.symbols.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw new Error(`fcntl failed (errno ${libc.errno()})`);
  }
}

/**
 * Takes `fd` over: non-blocking from now on, and closed once, after the
 * poller forgot it (a wait pending on it wakes and finds it closed).
 */
function own(fd: number) {
  const libc = binding()!;
  const poller = fdPoller()!;
  nonBlocking(libc, fd);
  let open = true;
  return {
    libc,
    poller,
    isOpen: () => open,
    close() {
      if (!open) return;
      open = false;
      poller.forget(fd);
      libc.symbols.close(fd);
    },
  };
}

/**
 * The read end `fd` as a byte stream, which owns it from now on: a BYOB
 * reader reads straight into its own buffer. The end is closed at end of
 * file, on error, and on cancel, so a writer then gets SIGPIPE as with any
 * pipe.
 */
export function fdReadable(fd: number): ReadableStream<Uint8Array> {
  const { libc, poller, isOpen: open, close } = own(fd);
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: CHUNK_BYTES,
    async pull(c: ReadableByteStreamController) {
      // With autoAllocateChunkSize there is always a request, BYOB or not.
      const req = c.byobRequest!;
      const view = req.view as Uint8Array;
      for (;;) {
        if (!open()) return; // cancelled while waiting
        const n = Number(libc.symbols.read(fd, view, BigInt(view.byteLength)));
        if (n > 0) return req.respond(n);
        if (n === 0) {
          close();
          c.close();
          return req.respond(0);
        }
        const errno = libc.errno();
        if (errno === EAGAIN) await poller.wait(fd, "read");
        else if (errno !== EINTR) {
          close();
          return c.error(new Error(`reading the program's output failed (errno ${errno})`));
        }
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}

/**
 * The write end `fd` as a stream, which owns it from now on. A write to a
 * pipe whose reader is gone fails (EPIPE: the runtime ignores SIGPIPE) and
 * rejects with BrokenPipe. Closing or aborting closes the end; so does
 * `readerGone` settling (the program exited), so an input nobody closes does
 * not keep its descriptor for ever.
 */
export function fdWritable(fd: number, readerGone?: Promise<unknown>): WritableStream<Uint8Array> {
  const { libc, poller, isOpen: open, close } = own(fd);
  void readerGone?.finally(close);
  const broken = () => new Deno.errors.BrokenPipe("the program's input is closed");
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let at = 0; at < chunk.byteLength;) {
        if (!open()) throw broken();
        const rest = chunk.subarray(at);
        const n = Number(libc.symbols.write(fd, rest, BigInt(rest.byteLength)));
        if (n >= 0) {
          at += n;
          continue;
        }
        const errno = libc.errno();
        if (errno === EAGAIN) await poller.wait(fd, "write");
        else if (errno !== EINTR) {
          close();
          throw broken();
        }
      }
    },
    close,
    abort: close,
  });
}
