/**
 * Sending a signal to a process or process group under the sandbox.
 *
 * `Deno.kill` needs an unscoped `--allow-run`; under the sandbox's list of
 * programs it throws NotCapable, so a timed-out command's process group
 * could not be stopped. The derived run list therefore includes the
 * `kill(1)` program, and this falls back to it. (`ChildProcess.kill` needs
 * no permission, but reaches only the direct child, never its group.)
 */

const KILL = "kill";

/** Like Deno.kill(pid, sig) (a negative pid is a process group); throws when no such process. */
export function sendSignal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
  }
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(KILL, {
      // `--` so that a negative pid (a group) is not read as an option
      args: ["-s", sig.replace(/^SIG/, ""), "--", String(pid)],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync();
  } catch (err) {
    throw new Deno.errors.NotCapable(
      `cannot signal ${pid}: Deno.kill needs an unscoped --allow-run and the kill program ` +
        `cannot be started (${(err as Error).message})`,
    );
  }
  if (!out.success) throw new Deno.errors.NotFound(`no process ${pid} to signal ${sig}`);
}
