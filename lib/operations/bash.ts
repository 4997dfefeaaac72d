import { Args } from "../tasks/args.ts";
import { runBash } from "../bash/run.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { BashArgs } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/** `bash {command, workdir?, timeout?}` under `permission.bash` (see lib/bash/). */
export const bash: OperationHandler = async (raw, ctx) => await runBash(bashArgs(raw), ctx);

export function bashArgs(raw: unknown): BashArgs {
  const args = Args.of("bash", raw);
  return {
    command: args.string("command", FIELD_LIMITS.command),
    workdir: args.optionalString("workdir", FIELD_LIMITS.path),
    timeout: args.optionalNumber("timeout"),
  };
}
