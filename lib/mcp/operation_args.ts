/** What mcp_call and mcp_list_tools share: their timeout rule, the pool's per-call options. */
import { TIMEOUTS, timeoutSeconds } from "../tasks/timeout.ts";
import type { OperationContext } from "../tasks/context.ts";
import type { UseOptions } from "./sessions.ts";

/** `timeout` (lib/tasks/timeout.ts's rule) in ms; absent means the pool's default. */
export function readTimeoutMs(s: number | undefined): number | undefined {
  if (s === undefined || !(s > 0)) return undefined;
  return timeoutSeconds(TIMEOUTS.mcp, s) * 1000;
}

export function useOptions(ctx: OperationContext, timeoutMs?: number): UseOptions {
  return {
    cwd: ctx.workspace.root,
    policy: ctx.policy,
    signal: ctx.signal,
    timeoutMs,
    log: ctx.log,
  };
}
