/**
 * The supervised runner child's side of supervision: which sandbox mode this
 * process is in, closing its /proc entries, and exiting when its supervisor
 * is gone. Apart from lib/sandbox/supervisor.ts so that the child does not
 * load the supervisor's permission and kernel-rule derivations at start
 * (start-up time, docs/benchmarks.md): it needs them only on a reload.
 */
import type { Logger } from "../deps.ts";
import { logger } from "../log.ts";
import { ENV, readEnv } from "../settings.ts";
import { scrubEnv, setNonDumpable } from "./landlock.ts";
import { SANDBOX_ENV } from "./handoff.ts";

export type SandboxMode =
  /** under `deno run`: re-execute with the derived flags and supervise */
  | "supervisor"
  /** the re-executed child: run the runner */
  | "sandboxed"
  /** a compiled binary: flags fixed at compile time; report them */
  | "standalone"
  /** --no-sandbox: run with whatever flags the process has */
  | "disabled";

export function sandboxMode(opts: { noSandbox?: boolean } = {}): SandboxMode {
  if (opts.noSandbox) return "disabled";
  if (readEnv(SANDBOX_ENV)) return "sandboxed";
  if (Deno.build.standalone) return "standalone";
  return "supervisor";
}

/**
 * In the sandboxed child: exit when the supervisor is gone (our stdin, its
 * pipe, reaches EOF). A supervisor stopped by a signal forwards it first;
 * one killed outright (SIGKILL) would otherwise leave this runner behind
 * with a live connection, and a restarted service would then run two.
 */
export function watchSupervisor(log: Logger = logger("sandbox")): void {
  if (!/^\d+$/.test(readEnv(SANDBOX_ENV) ?? "") || Deno.stdin.isTerminal()) return;
  (async () => {
    const buf = new Uint8Array(64);
    try {
      while ((await Deno.stdin.read(buf)) !== null) { /* only the hand-off line, read before */ }
    } catch { /* a broken pipe is EOF too */ }
    log.error("the supervising process is gone; exiting");
    Deno.exit(1);
  })();
}

/**
 * Whatever happens next, /proc/<pid>/environ and /mem of this process are
 * closed to the programs it starts (root with CAP_SYS_PTRACE excepted), and
 * the token, read by now, leaves the environment, and our own
 * /proc/<pid>/environ too: non-dumpable does not stop root (CAP_SYS_PTRACE).
 * Whether the process could be made non-dumpable.
 */
export function closeProcToCommands(): boolean {
  const nonDumpable = setNonDumpable();
  if (!scrubEnv(ENV.token)) {
    try {
      Deno.env.delete(ENV.token);
    } catch { /* no env permission for it: it cannot be set either */ }
  }
  return nonDumpable;
}

/**
 * The supervised child's counterpart of enterSandbox (lib/sandbox/child.ts):
 * its supervisor chose its flags and applied the kernel layer; it closes
 * its /proc entries and exits when the supervisor is gone.
 */
export function enterSupervisedChild(log: Logger = logger("sandbox")): void {
  closeProcToCommands();
  watchSupervisor(log);
}
