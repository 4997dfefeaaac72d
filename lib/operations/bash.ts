import { Args } from "../tasks/args.ts";
import { runBash } from "../bash/run.ts";
import type { OperationHandler } from "../tasks/context.ts";

/** `bash {command, workdir?, timeout?}` under `permission.bash` (see lib/bash/). */
export const bash: OperationHandler = async (raw, ctx) => {
  const args = Args.of("bash", raw);
  return await runBash({
    command: args.string("command"),
    workdir: args.optionalString("workdir"),
    timeout: args.optionalNumber("timeout"),
  }, ctx);
};
