/**
 * Start-up checks: every problem found before the runner serves is one
 * line naming the setting and its value, and main.ts exits with code 2
 * (USAGE_EXIT_CODE: the systemd unit does not restart on it, since a
 * restart cannot fix a bad setting). An unwritable workspace is caught here,
 * by a write probe, not by the first task that writes.
 */
import { dirname, isAbsolute, join, normalize } from "node:path";
import { UsageError } from "../settings.ts";

/** A short reason for a file-system error, without Deno's "(os error N): op '/path'" tail. */
export function osReason(err: unknown): string {
  const code = (err as { code?: string })?.code;
  switch (code) {
    case "EEXIST":
      return "exists and is not a directory";
    case "ENOTDIR":
      return "a component of the path is a file, not a directory";
    case "ENOENT":
      return "does not exist";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EADDRINUSE":
      return "address already in use";
    case "EADDRNOTAVAIL":
      return "address not available on this host";
  }
  if (err instanceof Deno.errors.NotCapable) {
    return "not permitted by this process's Deno permissions";
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/ \(os error \d+\).*$/s, "").split("\n")[0];
}

/** `invalid --workspace "/x": <why>` (the setting also comes from env or the config file). */
function workspaceError(path: string, why: string): UsageError {
  return new UsageError(
    `invalid --workspace ${JSON.stringify(path)} (or FLASHDUTY_RUNNER_WORKSPACE / config ` +
      `\`workspace\`): ${why}`,
  );
}

/**
 * Makes sure the workspace is a directory the runner can write: creates it
 * (and its parents) when missing, then creates and removes a probe file.
 * Throws UsageError with one line naming the setting and the value.
 */
export async function checkWorkspace(path: string): Promise<string> {
  const abs = normalize(isAbsolute(path) ? path : join(Deno.cwd(), path));
  try {
    const info = await Deno.stat(abs);
    if (!info.isDirectory) throw workspaceError(path, "exists and is a file, not a directory");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (!(err instanceof Deno.errors.NotFound)) {
      throw workspaceError(path, `${osReason(err)}${parentHint(abs)}`);
    }
    try {
      await Deno.mkdir(abs, { recursive: true, mode: 0o755 });
    } catch (mkdirErr) {
      throw workspaceError(path, `cannot create it: ${osReason(mkdirErr)}${parentHint(abs)}`);
    }
  }
  const probe = join(abs, `.flashduty-runner-write-probe-${Deno.pid}-${Date.now()}`);
  try {
    await Deno.writeTextFile(probe, "", { createNew: true, mode: 0o600 });
  } catch (err) {
    throw workspaceError(path, `not writable: ${osReason(err)}`);
  }
  try {
    await Deno.remove(probe);
  } catch (err) {
    throw workspaceError(path, `cannot remove a file in it: ${osReason(err)}`);
  }
  return abs;
}

/** Which parent is in the way, when one is a file: " (/a/b is a file)". */
function parentHint(abs: string): string {
  for (let p = dirname(abs); p !== dirname(p); p = dirname(p)) {
    try {
      if (!Deno.statSync(p).isDirectory) return ` (${p} is a file)`;
      return "";
    } catch { /* keep walking up */ }
  }
  return "";
}

/** Any start-up error as the one line main.ts prints (no stack, no embedded newlines). */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * What the CLI and the supervised child do with an error that ends the
 * process: print it as one line; exit 2 for a usage or config error
 * (restarting cannot fix it, and the supervisor does not), else 1.
 */
export function fatal(err: unknown): number {
  console.error(`flashduty-runner: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  return err instanceof UsageError ? 2 : 1;
}

/** The audit log must open for appending at start (one line, exit 2), not fail on the first task. */
export async function checkAuditLog(path: string): Promise<void> {
  try {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    file.close();
  } catch (err) {
    throw new UsageError(
      `invalid --audit-log ${JSON.stringify(path)} (or FLASHDUTY_RUNNER_AUDIT_LOG / config ` +
        `\`audit_log\`): ${osReason(err)}${parentHint(path)}`,
    );
  }
}
