/**
 * The supervised runner child's entry (main.ts sends a process here when
 * its supervisor started it). The supervisor has parsed the flags and the
 * config file, checked them and derived this process's permissions; it
 * hands the result over on stdin (lib/sandbox/handoff.ts). So this process
 * loads no CLI parser and no YAML parser: what it imports at start is the
 * runner (a SIGHUP reload loads the YAML parser then).
 */
import { receiveHandoff } from "./handoff.ts";
import { enterSupervisedChild } from "./supervised.ts";
import { setupLogging } from "../log.ts";
import { checkAuditLog, checkWorkspace, fatal } from "../ops/startup_check.ts";
import { runRunner } from "../runner.ts";

/** Runs the runner until it stops; resolves with the exit code. */
export async function runChild(): Promise<number> {
  try {
    const { settings, config } = await receiveHandoff();
    await setupLogging(settings.logLevel, settings.logFormat);
    // Checked by the supervisor too; checked here under this process's own (narrower) grants.
    await checkWorkspace(settings.workspace);
    if (settings.auditLog) await checkAuditLog(settings.auditLog.path);
    enterSupervisedChild();
    return await runRunner(settings, config);
  } catch (err) {
    return fatal(err);
  }
}
