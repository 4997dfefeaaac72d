/**
 * The supervisor's confined thread. A Landlock domain binds the thread that
 * creates it and everything that thread starts; so this Worker restricts
 * its own thread first and then starts the runner child (and its restarts)
 * from it. The supervisor's main thread stays unrestricted, and the child,
 * its threads and every program it starts are confined, under `deno run`
 * and in a compiled binary alike (a Worker is an OS thread in both).
 *
 * Protocol (postMessage, one direction each):
 *   in:  { type: "restrict", rules }        -> out: { type: "restricted", restriction } | { type: "error", message }
 *   in:  { type: "spawn", execPath, args, env, stdinLine }
 *                                            -> out: { type: "spawned", pid }, later { type: "exit", code, signal }
 *                                               or { type: "error", message }
 *   in:  { type: "kill", signal }           (the current child)
 * The child's stdin is a pipe this thread holds open: its first line is the
 * token (never in the child's environment or argv), and its EOF tells the
 * child the supervisor is gone.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { restrictThisThread } from "./landlock.ts";
import type { KernelRules } from "./landlock_rules.ts";

export type WorkerIn =
  | { type: "restrict"; rules: KernelRules }
  | {
    type: "spawn";
    execPath: string;
    args: string[];
    env: Record<string, string>;
    stdinLine: string;
  }
  | { type: "kill"; signal: Deno.Signal };

let restricted = false;
let child: Deno.ChildProcess | undefined;
let stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

self.onmessage = async (e: MessageEvent<WorkerIn>) => {
  const msg = e.data;
  try {
    if (msg.type === "restrict") {
      const restriction = restrictThisThread(msg.rules);
      restricted = true;
      self.postMessage({ type: "restricted", restriction });
    } else if (msg.type === "spawn") {
      // Fail closed: never start the runner from this thread unconfined.
      if (!restricted) throw new Error("spawn before the thread was restricted");
      await stdin?.close().catch(() => {});
      child = new Deno.Command(msg.execPath, {
        args: msg.args,
        env: msg.env,
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
        detached: true,
      }).spawn();
      stdin = child.stdin.getWriter();
      const pid = child.pid;
      self.postMessage({ type: "spawned", pid });
      stdin.write(new TextEncoder().encode(msg.stdinLine + "\n")).catch(() => {});
      const status = await child.status;
      child = undefined;
      self.postMessage({ type: "exit", pid, code: status.code, signal: status.signal });
    } else if (msg.type === "kill") {
      try {
        child?.kill(msg.signal);
      } catch { /* it has just exited */ }
    }
  } catch (err) {
    self.postMessage({ type: "error", message: (err as Error).message });
  }
};
