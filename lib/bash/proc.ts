/**
 * Starting programs in their own process group and killing whole trees.
 *
 * Every program the runner starts leads a new session and process group
 * (setsid: the group's id is its pid), so a signal to `-pid`
 * reaches everything it forked that stayed in the group. Descendants that
 * moved to a group of their own are listed (/proc, or ps under the sandbox)
 * before the first signal, since a dead parent's orphans are reparented and
 * lose the link. A process that both calls setsid and double-forks before we
 * look escapes both nets; that is the documented limit.
 */
import { withDeadline } from "../async/deadline.ts";
import { spawn as nodeSpawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { descendants, killAll, type ProcessId } from "../proc/process_tree.ts";
import { signalIfThere } from "../proc/signal.ts";
import { type MergedPipe, mergedPipe } from "../proc/spawn_merged.ts";
import { type Child, nativeSpawnAvailable, spawnNative, type Stdio } from "../proc/spawn_native.ts";

export type { Child };

export const KILL_GRACE_MS = 2_000;

/** A started program and its process group. */
export interface Started {
  child: Child;
  pid: number;
  /** stdout and stderr are one pipe, read as `child.stdout` (`child.stderr` is empty) */
  merged: boolean;
}

/** The live process groups of one task; kills them all on timeout or cancel. */
export class ProcessTree {
  private readonly groups = new Map<number, Promise<Deno.CommandStatus>>();
  private killing: Promise<void> | undefined;
  #started = 0;

  readonly #native: boolean;
  readonly #beforeFirstStart: (() => void) | undefined;

  /**
   * `native`: start programs with posix_spawn (the default where glibc
   * allows); false takes the fallback path (tests run both).
   * `beforeFirstStart`: called once, before the first program starts.
   */
  constructor(o: { native?: boolean; beforeFirstStart?: () => void } = {}) {
    this.#native = o.native ?? nativeSpawnAvailable();
    this.#beforeFirstStart = o.beforeFirstStart;
  }

  /** Programs started (or tried): while none was, no process can carry the task's marker. */
  get started(): number {
    return this.#started;
  }

  /**
   * Starts `program` as the leader of a new session and process group. Throws
   * as Deno.Command does. With `argv0`, the program sees that as its name
   * (`ls`, as typed) while the resolved path is what runs. With `mergeOutput`
   * (stdout and stderr go to one destination), both are one OS pipe, so their
   * order is the program's; where that pipe cannot be made, they stay two
   * pipes and `merged` says false.
   *
   * Through posix_spawn where glibc allows (lib/proc/spawn_native.ts: a
   * vfork, not a fork of the whole runner); else node:child_process, which
   * takes argv0 and raw fds, or Deno.Command.
   */
  spawn(
    program: string,
    options: Deno.CommandOptions,
    argv0?: string,
    mergeOutput = false,
  ): Started {
    if (this.killing) throw new Deno.errors.Interrupted("the command is being stopped");
    if (this.#started === 0) this.#beforeFirstStart?.();
    this.#started++; // before the attempt: a start that throws half way is still swept
    // what both start paths take: the whole environment, the directory as a string
    const env = options.clearEnv ? { ...options.env } : { ...Deno.env.toObject(), ...options.env };
    const cwd = options.cwd === undefined ? undefined : String(options.cwd);
    if (this.#native) {
      const child = spawnNative(program, {
        argv0: argv0 ?? program,
        args: options.args ?? [],
        cwd,
        env,
        stdin: stdio(options.stdin),
        stdout: stdio(options.stdout),
        stderr: stdio(options.stderr),
        merge: mergeOutput,
      });
      this.groups.set(child.pid, child.status);
      return { child, pid: child.pid, merged: mergeOutput && options.stdout === "piped" };
    }
    const pipe = mergeOutput ? mergedPipe() : undefined;
    const child = pipe || (argv0 !== undefined && argv0 !== program)
      ? spawnNamed(program, argv0 ?? program, { ...options, cwd, env }, pipe)
      : new Deno.Command(program, { ...options, detached: true }).spawn();
    this.groups.set(child.pid, child.status);
    return { child, pid: child.pid, merged: pipe !== undefined };
  }

  /**
   * After a group's leader exited: whatever it left running in its group
   * (a background job, a daemon that did not setsid) goes too, so no
   * process outlives the command and holds its output pipes open.
   */
  reap(pid: number): void {
    if (!this.groups.delete(pid)) return;
    signal(-pid, "SIGKILL");
  }

  /** SIGTERM to every group and known descendant, SIGKILL after a grace period. */
  killAll(graceMs = KILL_GRACE_MS): Promise<void> {
    this.killing ??= this.kill(graceMs);
    return this.killing;
  }

  private async kill(graceMs: number): Promise<void> {
    const leaders = [...this.groups.keys()];
    const family: ProcessId[] = (await Promise.all(leaders.map((pid) => descendants(pid))))
      .flatMap((list) => list ?? []);
    for (const g of leaders) signal(-g, "SIGTERM");
    for (const p of family) signal(p.pid, "SIGTERM");
    await withDeadline(Promise.all(this.groups.values()), graceMs, () => undefined);
    for (const g of leaders) signal(-g, "SIGKILL");
    await killAll(family);
  }
}

/** Deno.Command's default for each stream is "inherit". */
function stdio(mode: Deno.CommandOptions["stdin"]): Stdio {
  return mode === "piped" || mode === "null" ? mode : "inherit";
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    signalIfThere(pid, sig); // false: already gone (a finished command's empty group, mostly)
  } catch {
    // not ours to signal
  }
}

/**
 * node:child_process's spawn, which takes argv0 and raw fds, behind the Child
 * interface; `o.env` is the whole environment. With `pipe`, its write end is
 * the program's fd 1 and fd 2.
 */
function spawnNamed(
  program: string,
  argv0: string,
  o: Deno.CommandOptions & { cwd?: string; env: Record<string, string> },
  pipe?: MergedPipe,
): Child {
  const mode = (m: string | undefined) =>
    m === "piped" ? "pipe" : m === "inherit" ? "inherit" : "ignore";
  let cp;
  try {
    cp = nodeSpawn(program, o.args ?? [], {
      argv0,
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: pipe
        ? [mode(o.stdin), pipe.writeFd, pipe.writeFd]
        : [mode(o.stdin), mode(o.stdout), mode(o.stderr)],
    });
  } catch (err) {
    void pipe?.readable.cancel();
    throw err;
  } finally {
    // The child has its own copies now: ours would keep end-of-file from coming.
    pipe?.closeWrite();
  }
  // A failed start is reported as an "error" event on the next tick: listen before anything else.
  cp.on("error", () => {});
  if (cp.pid === undefined) {
    void pipe?.readable.cancel();
    throw new Deno.errors.NotFound(
      `failed to start ${program} (e.g. the argument list is too long)`,
    );
  }
  const none = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  const status = new Promise<Deno.CommandStatus>((resolve) => {
    cp.once("exit", (code, sig) => {
      const signal = (sig ?? null) as Deno.Signal | null;
      const n = sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0;
      const c = code ?? 128 + n;
      resolve({ success: c === 0, code: c, signal });
    });
  });
  return {
    pid: cp.pid,
    stdin: cp.stdin ? writable(cp.stdin) : new WritableStream(),
    stdout: pipe ? pipe.readable : cp.stdout ? readable(cp.stdout) : none(),
    stderr: cp.stderr ? readable(cp.stderr) : none(),
    status,
  };
}

/**
 * A node stream as a web stream, with every error handled here: cancelling
 * closes our end of the pipe (the program gets SIGPIPE), as with Deno.Command.
 */
function readable(node: Readable): ReadableStream<Uint8Array> {
  let done = false;
  // A byte stream, so pump (lib/bash/sinks.ts) reads it into its one reused buffer.
  return new ReadableStream({
    type: "bytes",
    start(c) {
      node.on("data", (d: Uint8Array) => {
        if (done) return;
        c.enqueue(new Uint8Array(d)); // a copy: node may reuse the buffer
        if ((c.desiredSize ?? 0) <= 0) node.pause();
      });
      const end = () => {
        if (done) return;
        done = true;
        c.close();
        c.byobRequest?.respond(0);
      };
      node.on("end", end);
      node.on("close", end);
      node.on("error", end);
    },
    pull() {
      node.resume();
    },
    cancel() {
      done = true;
      node.destroy();
    },
  }, { highWaterMark: 256 * 1024 });
}

function writable(node: Writable): WritableStream<Uint8Array> {
  node.on("error", () => {}); // EPIPE when the program exits first: the write below rejects
  return new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (node.destroyed) return reject(new Deno.errors.BrokenPipe("stdin closed"));
        node.write(chunk, (err) => err ? reject(err) : resolve());
      }),
    close: () => new Promise<void>((resolve) => node.end(() => resolve())),
    abort: () => {
      node.destroy();
    },
  });
}
