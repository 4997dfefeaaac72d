/**
 * Waiting for raw descriptors to become ready, all on one thread.
 *
 * The runner reads its programs' pipes and learns of their exits through
 * descriptors it owns (libc pipes, pidfds), which Deno cannot watch. A
 * blocking read or waitpid per descriptor, each a `nonblocking` FFI call,
 * would hold one of Deno's blocking-pool threads for the program's whole life;
 * the pool is small (measured: 40 running programs held every async file
 * read of the runner for 2.7 s, until they ended). So the descriptors are
 * non-blocking, read and written on the event loop thread, and when one has
 * nothing to give, it waits here: one epoll set, one `epoll_wait` in flight
 * (one pool thread) for all of them. Each wait is one-shot and re-armed by
 * the next `wait`; an eventfd wakes the pending `epoll_wait` when the last
 * waiter goes, so no call outlives the descriptors it waits for. What is
 * ready already is collected on the event loop thread first (epoll_wait with
 * a timeout of 0): the end of a program readies its two pipes and its pidfd
 * microseconds apart, and each pool round trip costs a thread hop.
 *
 * @module
 */
import { type Libc, openLibc } from "../sys/libc.ts";

const SYMBOLS = {
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  /** the same call on this thread, with a timeout of 0: what is ready now, without a thread hop */
  epoll_ready: { name: "epoll_wait", parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const EPOLL_CLOEXEC = 0o2000000;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x001;
const EPOLLOUT = 0x004;
const EPOLLONESHOT = 1 << 30;
/** struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16). */
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 64;

export type Readiness = "read" | "write";

class Poller {
  readonly #epfd: number;
  readonly #wakeFd: number;
  /** descriptor -> who waits for it (one at a time: a stream has one read or write in flight) */
  readonly #waiters = new Map<number, () => void>();
  readonly #added = new Set<number>();
  #waiting = false;
  readonly #events = new Uint8Array(new ArrayBuffer(EVENT_BYTES * MAX_EVENTS));
  readonly #ctl = new Uint8Array(new ArrayBuffer(16));

  constructor(private readonly libc: Libc<typeof SYMBOLS>) {
    this.#epfd = libc.symbols.epoll_create1(EPOLL_CLOEXEC);
    this.#wakeFd = libc.symbols.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#epfd < 0 || this.#wakeFd < 0) {
      throw new Error(`epoll or eventfd failed (errno ${libc.errno()})`);
    }
    this.#control(EPOLL_CTL_ADD, this.#wakeFd, EPOLLIN);
  }

  /** True while an epoll_wait is in flight (tests check that none outlives its waiters). */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** Resolves once `fd` is ready to read (or at its end, or on error) or to write. */
  wait(fd: number, how: Readiness): Promise<void> {
    if (this.#waiters.has(fd)) throw new Error(`descriptor ${fd} is already waited for`);
    const { promise, resolve } = Promise.withResolvers<void>();
    const events = (how === "read" ? EPOLLIN : EPOLLOUT) | EPOLLONESHOT;
    this.#control(this.#added.has(fd) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, events);
    this.#added.add(fd);
    this.#waiters.set(fd, resolve);
    if (!this.#waiting) void this.#loop();
    return promise;
  }

  /**
   * Stops watching `fd`; call it before closing `fd` (a closed number can be
   * reused by another descriptor). A pending wait on it resolves.
   */
  forget(fd: number): void {
    if (this.#added.delete(fd)) this.#control(EPOLL_CTL_DEL, fd, 0);
    const waiter = this.#waiters.get(fd);
    this.#waiters.delete(fd);
    waiter?.();
    // nobody left: the pending epoll_wait must return, or it would wait for ever
    if (this.#waiters.size === 0 && this.#waiting) {
      this.libc.symbols.write(this.#wakeFd, new BigUint64Array([1n]), 8n);
    }
  }

  #control(op: number, fd: number, events: number): void {
    const view = new DataView(this.#ctl.buffer);
    view.setUint32(0, events, true);
    view.setUint32(DATA_OFFSET, fd, true);
    view.setUint32(DATA_OFFSET + 4, 0, true);
    if (this.libc.symbols.epoll_ctl(this.#epfd, op, fd, this.#ctl) !== 0 && op !== EPOLL_CTL_DEL) {
      throw new Error(`epoll_ctl failed for descriptor ${fd} (errno ${this.libc.errno()})`);
    }
  }

  async #loop(): Promise<void> {
    this.#waiting = true;
    const view = new DataView(this.#events.buffer);
    try {
      while (this.#waiters.size > 0) {
        // What is ready already is taken here; only when nothing is does the wait go to a pool
        // thread, whose answer reaches this loop a thread hop later (~50-300 us). A program's
        // end makes three descriptors ready within microseconds (its pipes, then its pidfd):
        // one hop for the three instead of one each.
        let n = this.libc.symbols.epoll_ready(this.#epfd, this.#events, MAX_EVENTS, 0);
        if (n <= 0) {
          n = await this.libc.symbols.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, -1);
        }
        // n < 0: EINTR (the only failure with valid arguments); wait again
        for (let i = 0; i < n; i++) {
          const fd = view.getUint32(i * EVENT_BYTES + DATA_OFFSET, true);
          if (fd === this.#wakeFd) {
            this.libc.symbols.read(this.#wakeFd, new Uint8Array(8), 8n);
            continue;
          }
          const waiter = this.#waiters.get(fd);
          this.#waiters.delete(fd);
          waiter?.();
        }
      }
    } finally {
      this.#waiting = false;
    }
  }
}

let poller: Poller | null | undefined;

/** The process's poller, or undefined where there is no libc with epoll to use. */
export function fdPoller(): Pick<Poller, "wait" | "forget" | "waiting"> | undefined {
  if (poller === undefined) {
    poller = null;
    if (Deno.build.os !== "linux") return undefined;
    try {
      poller = new Poller(openLibc(SYMBOLS));
    } catch {
      // no FFI grant for libc, or no glibc
    }
  }
  return poller ?? undefined;
}
