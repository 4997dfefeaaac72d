/**
 * Which pids a process created since a moment can have.
 *
 * The marker sweep (task_marker.ts) reads the environment of every process to
 * find a task's leftovers, a few milliseconds a task on a quiet host and more
 * on a busy one. But Linux hands out pids in a cycle: each new process (or
 * thread) gets the next free pid after the last one given (`ns_last_pid`),
 * wrapping to 300 past `pid_max`. So every process created since a moment has
 * a pid in the arc from the pid after that moment's `ns_last_pid` to today's,
 * unless the counter went all the way round meanwhile, which the kernel's
 * count of forks since boot (`processes` in /proc/stat) rules out. Within the
 * arc the sweep reads a handful of environments instead of all of them.
 *
 * What this does not cover: a pid chosen by the creator (clone3 with set_tid,
 * or a write to ns_last_pid) needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in
 * the runner's pid namespace, i.e. a task that runs as root; such a task can
 * also replace its environment, which no sweep sees (docs/file-safety.md).
 * Where any of the three files cannot be read, `current()` says "every pid".
 *
 * @module
 */
import { linuxSys, O, type Sys } from "../fs/linux_fs.ts";

/** Pids below this are never handed out again after a wrap (kernel RESERVED_PIDS). */
const RESERVED_PIDS = 300;

/** A test on a pid: may a process created since the window opened have it? */
export type PidFilter = (pid: number) => boolean;

export class PidWindow {
  private constructor(
    private readonly sys: Sys,
    /** the first pid handed out after the window opened (cyclically) */
    private readonly from: number,
    private readonly forksAtOpen: number,
    /** pid_max, read once: only root can change it */
    private readonly max: number,
  ) {}

  /** Opens a window now; undefined where /proc cannot tell (the sweep then reads every pid). */
  static open(): PidWindow | undefined {
    const sys = linuxSys();
    if (!sys) return undefined;
    const last = lastPid(sys);
    const forks = forkCount(sys);
    const max = pidMax(sys);
    if (last === undefined || forks === undefined || max === undefined) return undefined;
    return new PidWindow(sys, last + 1, forks, max);
  }

  /**
   * The pids processes created since `open()` can have, as a filter; undefined
   * when that is every pid (the counter may have gone round, or /proc failed).
   */
  current(): PidFilter | undefined {
    const last = lastPid(this.sys);
    const forks = forkCount(this.sys);
    if (last === undefined || forks === undefined) return undefined;
    return pidArc(this.from, last, this.max, forks - this.forksAtOpen);
  }
}

/**
 * The pids handed out from `from` (the first after the window opened) up to
 * `last` (the latest), cyclically under `max`, after `forks` forks; undefined
 * when the counter may have gone all the way round.
 */
export function pidArc(
  from: number,
  last: number,
  max: number,
  forks: number,
): PidFilter | undefined {
  // Each fork takes one pid: fewer forks than the cycle's length cannot come round to `from`.
  if (forks >= max - RESERVED_PIDS - 1) return undefined;
  const start = from >= max ? RESERVED_PIDS : from;
  if (forks === 0) return () => false; // nothing created since
  if (last >= start) return (pid) => pid >= start && pid <= last;
  return (pid) => pid >= start || pid <= last; // wrapped once
}

function readSmall(sys: Sys, path: string): string | undefined {
  let fd: number;
  try {
    fd = sys.openat(-100, path, O.RDONLY | O.CLOEXEC);
  } catch {
    return undefined;
  }
  try {
    // /proc/stat grows with CPUs and interrupt lines; "processes" comes after them
    const parts: Uint8Array[] = [];
    for (let at = 0;;) {
      const chunk = sys.preadSync(fd, at, 64 * 1024);
      if (chunk.length === 0) break;
      parts.push(chunk);
      at += chunk.length;
    }
    const dec = new TextDecoder();
    return parts.map((p, i) => dec.decode(p, { stream: i < parts.length - 1 })).join("");
  } catch {
    return undefined;
  } finally {
    sys.close(fd);
  }
}

function numberIn(text: string | undefined): number | undefined {
  const n = Number(text?.trim());
  return text !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function lastPid(sys: Sys): number | undefined {
  return numberIn(readSmall(sys, "/proc/sys/kernel/ns_last_pid"));
}

function pidMax(sys: Sys): number | undefined {
  return numberIn(readSmall(sys, "/proc/sys/kernel/pid_max"));
}

/** Forks (processes and threads) since boot. */
function forkCount(sys: Sys): number | undefined {
  return numberIn(/^processes (\d+)$/m.exec(readSmall(sys, "/proc/stat") ?? "")?.[1]);
}
