/**
 * Sending a signal to a process or process group under the sandbox.
 *
 * kill(2) through libc (lib/fs/linux_fs.ts) first: the runner holds an FFI
 * grant for libc, and a direct call costs microseconds. Without it,
 * `Deno.kill`, which needs an unscoped `--allow-run`: under the sandbox's list
 * of programs it throws NotCapable, so the derived run list also includes the
 * `kill(1)` program, the last resort (a spawn, ~1 ms: once per command reaped
 * made every `bash` task slower). (`ChildProcess.kill` needs no permission,
 * but reaches only the direct child, never its group.)
 */
import { constants } from "node:os";
import { E, linuxSys } from "../fs/linux_fs.ts";

const KILL = "kill";
const ESRCH = 3;

/** Like Deno.kill(pid, sig) (a negative pid is a process group); throws when no such process. */
export function sendSignal(pid: number, sig: Deno.Signal): void {
  if (signalIfThere(pid, sig) === false) {
    throw new Deno.errors.NotFound(`no process ${pid} to signal ${sig}`);
  }
}

/**
 * sendSignal, but false (not a thrown error, which costs tens of
 * microseconds) when no such process or group exists: the common answer
 * when a finished command's empty group is reaped. Throws as sendSignal for
 * anything else.
 */
export function signalIfThere(pid: number, sig: Deno.Signal): boolean {
  const direct = viaLibc(pid, sig);
  if (direct !== undefined) return direct;
  try {
    Deno.kill(pid, sig);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
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
  return out.success;
}

/**
 * kill(2) through libc: true when sent, false when there is no such process,
 * undefined when libc is not there to ask (the caller falls back); throws as
 * Deno.kill does when the kernel refuses.
 */
function viaLibc(pid: number, sig: Deno.Signal): boolean | undefined {
  const sys = linuxSys();
  const number = (constants.signals as Record<string, number | undefined>)[sig];
  // pid 0 and -1 mean "my group" and "everyone": never through here by accident
  if (!sys || number === undefined || !Number.isInteger(pid) || pid === 0 || pid === -1) {
    return undefined;
  }
  if (sys.kill(pid, number)) return true;
  const errno = sys.libc.errno();
  if (errno === ESRCH) return false;
  if (errno === E.EPERM) throw new Deno.errors.PermissionDenied(`not allowed to signal ${pid}`);
  return undefined;
}
