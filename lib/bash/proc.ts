/**
 * Starting programs in their own process group and killing whole trees.
 *
 * Every program the runner starts gets `detached: true` (setsid: a new
 * session and process group whose id is its pid), so a signal to `-pid`
 * reaches everything it forked that stayed in the group. Descendants that
 * moved to a group of their own are listed (/proc, or ps under the sandbox)
 * before the first signal, since a dead parent's orphans are reparented and
 * lose the link. A process that both calls setsid and double-forks before we
 * look escapes both nets; that is the documented limit.
 */
import { descendants, killAll, type ProcessId } from "../proc/process_tree.ts";
import { sendSignal } from "../proc/signal.ts";

export const KILL_GRACE_MS = 2_000;

/** A started program and its process group. */
export interface Started {
  child: Deno.ChildProcess;
  pid: number;
}

/** The live process groups of one task; kills them all on timeout or cancel. */
export class ProcessTree {
  private readonly groups = new Map<number, Promise<Deno.CommandStatus>>();
  private killing: Promise<void> | undefined;

  /** Starts `program` as the leader of a new process group. Throws as Deno.Command does. */
  spawn(program: string, options: Deno.CommandOptions): Started {
    if (this.killing) throw new Deno.errors.Interrupted("the command is being stopped");
    const child = new Deno.Command(program, { ...options, detached: true }).spawn();
    this.groups.set(child.pid, child.status);
    return { child, pid: child.pid };
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise((r) => timer = setTimeout(r, graceMs));
    await Promise.race([Promise.all(this.groups.values()), grace]);
    clearTimeout(timer);
    for (const g of leaders) signal(-g, "SIGKILL");
    await killAll(family);
  }
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    sendSignal(pid, sig);
  } catch {
    // already gone
  }
}
