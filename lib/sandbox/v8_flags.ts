/** The V8 flags the supervisor starts the runner with (lib/sandbox/supervisor.ts). */

/**
 * The runner's V8 heap sizing, given to the child as DENO_V8_FLAGS. Under a
 * flood of output (docs/benchmarks.md, "Output floods: the V8 heap") every
 * 64 KiB read becomes strings and frames that are garbage at once, and
 * V8's defaults let the young generation grow to 16 MB a semi-space and
 * the old one to several times what is live before collecting: RSS the
 * runner never needs. A 1 MB semi-space and old-generation growth of 50%
 * cost a few more (short) collections, measured on the read and bash
 * figures too. An operator's own DENO_V8_FLAGS replaces these; `--v8-flags`
 * on the command line is passed on and comes after them (it wins). The
 * programs the runner starts do not inherit them (lib/proc/child_env.ts).
 */
export const RUNNER_V8_FLAGS = "--max-semi-space-size=1,--heap-growing-percent=50";

/** DENO_V8_FLAGS for the runner child: the operator's, if set, else RUNNER_V8_FLAGS. */
export function runnerV8Flags(operator: string | undefined): string {
  return operator?.trim() ? operator : RUNNER_V8_FLAGS;
}
