#!/usr/bin/env -S deno run
/**
 * flashduty-runner. The process you start runs the CLI (lib/cli.ts); a
 * runner child its supervisor started (lib/sandbox/supervisor.ts) gets its
 * settings and config on stdin instead and runs lib/sandbox/child.ts, so it
 * never loads the CLI's or the config file's parser (idle RSS, start time).
 * Only the branch taken is evaluated.
 */
import { isSupervisedChild } from "./lib/sandbox/handoff.ts";

export async function main(args: string[]): Promise<number> {
  if (isSupervisedChild()) return await (await import("./lib/sandbox/child.ts")).runChild();
  return await (await import("./lib/cli.ts")).main(args);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
