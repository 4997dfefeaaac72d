/**
 * Finding every process a task started, however it detached.
 *
 * A process tree is not enough: `setsid -f cmd`, `(setsid cmd &)`, a double
 * fork or a daemon leaves the task's process group and session and is
 * re-parented to init, so nothing links it to the task any more (issue 12:
 * 10/10 survived cancel and timeout). The environment is inherited across
 * fork, exec, setsid and re-parenting, so (as GitHub's runner does with its
 * job tag) each command and stdio MCP server gets a marker variable with a
 * value no other task shares, and after the task every process whose
 * environment carries it is killed.
 *
 * Found through /proc/<pid>/environ, read with FFI calls (lib/fs/linux_fs.ts)
 * because the sandboxed runner has no Deno read grant for /proc; where FFI
 * is missing, through `ps e` (which shows the environment of the runner
 * user's processes). What this cannot see: a process that replaced its
 * whole environment (`env -i`, execve with a new envp) before the sweep,
 * or one running as another user; docs/file-safety.md says so.
 *
 * @module
 */
import { linuxSys, O, type Sys } from "../fs/linux_fs.ts";
import { keptOpen, type PidArc, PidWindow } from "./pid_window.ts";
import { sendSignal } from "./signal.ts";

/** The variable's name. child_env.ts strips FLASHDUTY_* from what programs inherit; this is added after. */
export const TASK_MARKER_ENV = "FLASHDUTY_TASK_MARKER";

const SIGKILL = 9;
/** Sweeps until one finds nobody: a process forking while we kill is caught by the next. */
const MAX_SWEEPS = 20;

export class TaskMarker {
  /** random: a task cannot guess another's marker to hide in it, or to get it killed */
  readonly value = crypto.randomUUID();
  /** undefined until the first start; null where /proc cannot tell */
  #window: PidWindow | null | undefined;

  /**
   * Call before the first process carrying the marker starts: the sweep then
   * reads only processes created since (lib/proc/pid_window.ts). Without it,
   * the sweep reads every process.
   */
  beforeFirstStart(): void {
    this.#window ??= PidWindow.open() ?? null;
  }

  /** `env` plus the marker (a new object). */
  mark(env: Record<string, string>): Record<string, string> {
    return { ...env, [TASK_MARKER_ENV]: this.value };
  }

  /**
   * SIGKILLs every process carrying this marker, sweep after sweep until
   * none is left (or MAX_SWEEPS); resolves with how many were killed.
   * Never throws: a cleanup must not turn a result into an error.
   */
  async sweep(): Promise<number> {
    const needle = `${TASK_MARKER_ENV}=${this.value}`;
    let killed = 0;
    for (let i = 0; i < MAX_SWEEPS; i++) {
      const pids = await markedProcesses(needle, SCAN_BATCH, this.#window?.current());
      if (pids.length === 0) break;
      for (const pid of pids) if (killPid(pid)) killed++;
      // let the kernel take them down before looking again
      await new Promise((r) => setTimeout(r, i < 3 ? 5 : 50));
    }
    return killed;
  }
}

/**
 * Pids (not this process) whose environment holds `needle` as one whole
 * entry. `batch`: environ files open at once (tests make it small); `only`:
 * the pids worth reading (undefined: all).
 */
export async function markedProcesses(
  needle: string,
  batch = SCAN_BATCH,
  only?: PidArc,
): Promise<number[]> {
  const sys = linuxSys();
  if (sys) {
    try {
      return await scanProc(sys, needle, batch, only);
    } catch { /* no /proc: ask ps */ }
  }
  return await scanPs(needle);
}

/**
 * Reading another process's environ takes that process's memory lock: on a
 * busy host one read can take milliseconds, so the reads run off the event
 * loop (Sys.pread) and the scan never holds it up (bench:loop). They run all
 * at once: one after another, each a hand-off to the blocking thread pool,
 * they cost ~75 us a process (~7-9 ms a scan of 100 processes, on every
 * `bash` task). The opens stay on this thread (microseconds: an open takes
 * no memory lock), and fail at once for processes not ours to read.
 */
async function scanProc(
  sys: Sys,
  needle: string,
  batch: number,
  only: PidArc | undefined,
): Promise<number[]> {
  const want = new TextEncoder().encode(`${needle}\0`);
  // A short arc is opened pid by pid, below a /proc descriptor kept for the
  // runner's life (a pid there may be a thread's: its environ is its
  // process's, and a kill of it reaches the process). Otherwise /proc is
  // listed, through a descriptor of its own (a listing reads from where the
  // last one ended).
  const listed = !only?.pids;
  const proc = listed ? sys.openat(-100, "/proc", PROC_FLAGS) : keptOpen(sys, "/proc", PROC_FLAGS);
  const out: number[] = [];
  try {
    const pids = only?.pids
      ? only.pids.filter((pid) => pid !== Deno.pid).map(String)
      : sys.readdir(proc).map((e) => e.name)
        .filter((name) =>
          /^\d+$/.test(name) && Number(name) !== Deno.pid && (!only || only.has(Number(name)))
        );
    // in batches: a host with thousands of processes must not run the runner out of descriptors
    for (let at = 0; at < pids.length; at += batch) {
      const open: { pid: number; fd: number }[] = [];
      for (const name of pids.slice(at, at + batch)) {
        const fd = sys.openatOrFail(proc, `${name}/environ`, OPEN_FLAGS);
        if (fd >= 0) open.push({ pid: Number(name), fd }); // else gone, or not ours to read
      }
      const found = await Promise.all(open.map(async ({ pid, fd }) => {
        try {
          return holds(await environOf(sys, fd), want) ? pid : undefined;
        } catch {
          return undefined; // exited while read
        } finally {
          sys.close(fd);
        }
      }));
      for (const pid of found) if (pid !== undefined) out.push(pid);
    }
  } finally {
    if (listed) sys.close(proc);
  }
  return out;
}

const PROC_FLAGS = O.RDONLY | O.DIRECTORY | O.CLOEXEC;

const OPEN_FLAGS = O.RDONLY | O.CLOEXEC;
/** environ files open at once */
const SCAN_BATCH = 128;

/** Most environments fit in one read of this size; a longer one takes more. */
const ENVIRON_CHUNK = 8 * 1024;

async function environOf(sys: Sys, fd: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await sys.pread(fd, total, ENVIRON_CHUNK);
    if (chunk.length > 0) parts.push(chunk);
    total += chunk.length;
    // pread fills the whole chunk unless the end came first
    if (chunk.length < ENVIRON_CHUNK) break;
  }
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

/** True when `env` (NUL-separated entries) has `want` (an entry and its NUL) at an entry's start. */
function holds(env: Uint8Array, want: Uint8Array): boolean {
  for (let start = 0; start < env.length;) {
    let match = start + want.length <= env.length;
    for (let i = 0; match && i < want.length; i++) match = env[start + i] === want[i];
    if (match) return true;
    const nul = env.indexOf(0, start);
    if (nul < 0) return false;
    start = nul + 1;
  }
  return false;
}

async function scanPs(needle: string): Promise<number[]> {
  let text: string;
  try {
    const out = await new Deno.Command("ps", {
      args: ["-A", "e", "-ww", "-o", "pid=,args="],
      stdin: "null",
      stderr: "null",
    }).output();
    text = new TextDecoder().decode(out.stdout);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (!m || Number(m[1]) === Deno.pid) continue;
    if (m[2].split(" ").includes(needle)) out.push(Number(m[1]));
  }
  return out;
}

function killPid(pid: number): boolean {
  const sys = linuxSys();
  if (sys) return sys.kill(pid, SIGKILL);
  try {
    Deno.kill(pid, "SIGKILL");
    return true;
  } catch {
    try {
      sendSignal(pid, "SIGKILL"); // through the kill program, under the sandbox
      return true;
    } catch {
      return false;
    }
  }
}
