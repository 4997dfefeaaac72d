/** What mcp_call and mcp_list_tools share: their timeout rule, the pool's per-call options. */
import { TaskError } from "../tasks/errors.ts";
import type { OperationContext } from "../tasks/context.ts";
import type { UseOptions } from "./sessions.ts";

/** A request's `timeout` may not exceed this (seconds). */
export const MAX_TIMEOUT_S = 3_600;

/** `timeout` in seconds; absent, null or ≤ 0 means the default. */
export function readTimeoutMs(op: string, s: number | undefined): number | undefined {
  if (s === undefined || s <= 0) return undefined;
  if (s > MAX_TIMEOUT_S) {
    throw new TaskError(`invalid args for ${op}: \`timeout\` may be at most ${MAX_TIMEOUT_S} s`);
  }
  return s * 1000;
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
