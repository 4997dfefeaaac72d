/**
 * systemd's notify protocol (`Type=notify`, `WatchdogSec=`): one datagram
 * `READY=1` once the platform has welcomed the runner, then `WATCHDOG=1`
 * keep-alives at half the interval systemd asks for, sent from the event loop
 * (a runner whose loop is stuck stops sending them and systemd restarts it).
 *
 * Deno has no stable Unix datagram socket, so this goes through
 * lib/sys/libc.ts (socket + sendto), which needs nothing beyond the one
 * `--allow-ffi=<libc>` grant the runner already has. Outside systemd
 * (`NOTIFY_SOCKET` unset) every call is a no-op.
 *
 * The runner child sends for the supervisor, so the unit sets
 * `NotifyAccess=all`.
 *
 * @module
 */
import { libcOnce } from "../sys/libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): a 2-byte family, then a 108-byte path */
const SUN_PATH_MAX = 108;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The sockaddr_un for `path` (`@name` is an abstract socket), or undefined if it cannot be one. */
export function socketAddress(path: string): Uint8Array | undefined {
  const name = new TextEncoder().encode(path.startsWith("@") ? "\0" + path.slice(1) : path);
  if (name.length === 0 || name.length >= SUN_PATH_MAX) return undefined;
  const addr = new Uint8Array(2 + name.length + (path.startsWith("@") ? 0 : 1));
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  return addr;
}

/**
 * Sends `state` (e.g. "READY=1") to `$NOTIFY_SOCKET`. Returns false when
 * there is no socket or the send failed: notification is best effort, and
 * the runner never stops over it.
 */
export function sdNotify(state: string, socketPath = readEnv("NOTIFY_SOCKET")): boolean {
  if (!socketPath || Deno.build.os !== "linux") return false;
  const addr = socketAddress(socketPath);
  if (!addr) return false;
  const libc = binding();
  if (!libc) return false;
  const fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const msg = new TextEncoder().encode(state);
    return Number(libc.symbols.sendto(fd, msg, BigInt(msg.length), 0, addr, addr.length)) ===
      msg.length;
  } finally {
    libc.symbols.close(fd);
  }
}

/**
 * libc, opened on the first notification and kept: keep-alives repeat for the
 * runner's life. Without it (no FFI grant, no glibc) notification is off.
 */
const binding = libcOnce(SYMBOLS);

/**
 * The watchdog interval systemd asks for (`WATCHDOG_USEC`, for this process
 * or, with `WATCHDOG_PID` naming the supervisor, for its child too), in ms.
 */
export function watchdogMs(): number | undefined {
  const usec = Number(readEnv("WATCHDOG_USEC"));
  return Number.isFinite(usec) && usec > 0 ? usec / 1000 : undefined;
}

/**
 * Tells systemd the runner is ready (call on each welcome; systemd ignores
 * repeats) and starts the watchdog keep-alives if systemd asked for them.
 * Returns a stop function.
 */
export function startSystemdNotify(): { ready(): void; stop(): void } {
  let timer: ReturnType<typeof setInterval> | undefined;
  const every = watchdogMs();
  if (every !== undefined && readEnv("NOTIFY_SOCKET")) {
    const t = setInterval(() => sdNotify("WATCHDOG=1"), Math.max(100, every / 2));
    Deno.unrefTimer(t);
    timer = t;
  }
  return {
    ready: () => void sdNotify("READY=1"),
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      sdNotify("STOPPING=1");
    },
  };
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env grant for it
  }
}
