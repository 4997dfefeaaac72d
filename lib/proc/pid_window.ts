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

/** The pids a process created since the window opened may have. */
export interface PidArc {
  has(pid: number): boolean;
  /**
   * Those pids in the order they were handed out, when there are at most
   * LIST_MAX of them: the sweep then opens /proc/<pid> for each instead of
   * listing /proc (a listing of ~130 processes costs ~100 us; a task that ran
   * one program has an arc of a pid or two).
   */
  readonly pids?: readonly number[];
}

/** Arcs this short are listed pid by pid. */
export const LIST_MAX = 256;

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
  current(): PidArc | undefined {
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
): PidArc | undefined {
  // Each fork takes one pid: fewer forks than the cycle's length cannot come round to `from`.
  if (forks >= max - RESERVED_PIDS - 1) return undefined;
  const start = from >= max ? RESERVED_PIDS : from;
  if (forks === 0) return { has: () => false, pids: [] }; // nothing created since
  const wrapped = last < start;
  const has = wrapped
    ? (pid: number) => pid >= start || (pid >= RESERVED_PIDS && pid <= last)
    : (pid: number) => pid >= start && pid <= last;
  const count = wrapped ? max - start + last - RESERVED_PIDS + 1 : last - start + 1;
  if (count > LIST_MAX) return { has };
  const pids: number[] = [];
  for (let pid = start; pids.length < count; pid = pid + 1 >= max ? RESERVED_PIDS : pid + 1) {
    pids.push(pid);
  }
  return { has, pids };
}

/**
 * Up to five small /proc reads a `bash` task that starts a program. Each
 * file stays open for the runner's life and is read again from offset 0
 * (procfs makes its text anew on each read from the start): a path walk
 * under /proc (openat) was most of their cost. One buffer serves them all,
 * grown when a file does not fit (/proc/stat grows with CPUs and interrupt
 * lines; "processes" comes after them).
 */
let buffer = new Uint8Array(4096);
const decoder = new TextDecoder();

/** /proc paths opened once, for the runner's life (the sweep's /proc directory too) */
const kept = new Map<string, number>();

/** `path`'s descriptor, opened on first use and kept; throws as openat does. */
export function keptOpen(sys: Sys, path: string, flags = O.RDONLY | O.CLOEXEC): number {
  let fd = kept.get(path);
  if (fd === undefined) kept.set(path, fd = sys.openat(-100, path, flags));
  return fd;
}

function readSmall(sys: Sys, path: string): string | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = keptOpen(sys, path);
    } catch {
      return undefined;
    }
    try {
      return readFrom(sys, fd);
    } catch {
      // a descriptor gone bad: opened again once
      kept.delete(path);
      sys.close(fd);
    }
  }
  return undefined;
}

function readFrom(sys: Sys, fd: number): string {
  let at = 0;
  for (;;) {
    if (at === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = sys.preadInto(fd, at, buffer.subarray(at));
    if (n === 0) break;
    at += n;
  }
  return decoder.decode(buffer.subarray(0, at));
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
