/** What mcp_call and mcp_list_tools share: reading their args, finding the pool. */
import type { Args } from "../tasks/args.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationContext } from "../tasks/context.ts";
import { type McpServer, parseServer } from "./server_config.ts";
import type { McpSessions, UseOptions } from "./sessions.ts";

/** A request's `timeout` may not exceed this (seconds). */
export const MAX_TIMEOUT_S = 3_600;

export function readServer(op: string, args: Args): McpServer {
  return parseServer(op, args.object("server"));
}

/** `timeout` in seconds; absent, null or ≤ 0 means the default. */
export function readTimeoutMs(op: string, args: Args): number | undefined {
  const s = args.optionalNumber("timeout");
  if (s === undefined || s <= 0) return undefined;
  if (s > MAX_TIMEOUT_S) {
    throw new TaskError(`invalid args for ${op}: \`timeout\` may be at most ${MAX_TIMEOUT_S} s`);
  }
  return s * 1000;
}

export function pool(op: string, ctx: OperationContext): McpSessions {
  const mcp = ctx.services.mcp;
  if (!mcp) throw new TaskError(`${op}: MCP support is not running in this runner`);
  return mcp;
}

export function useOptions(ctx: OperationContext, timeoutMs?: number): UseOptions {
  return { cwd: ctx.workspace.root, signal: ctx.signal, timeoutMs, log: ctx.log };
}
