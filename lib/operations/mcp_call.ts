import { Args } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { McpCallArgs, McpCallResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";
import { limitOutput } from "../tasks/output.ts";
import { renderContent } from "../mcp/content.ts";
import { parseServer } from "../mcp/server_config.ts";
import { readTimeoutMs, useOptions } from "../mcp/operation_args.ts";

/** `mcp_call {server, tool_name, args, timeout?}` (also serves the `mcp.call` message). */
export const mcp_call: OperationHandler = async (raw, ctx): Promise<McpCallResult> => {
  const args = mcpCallArgs(raw);
  const server = parseServer("mcp_call", args.server);
  const tool = args.tool_name;
  const timeoutMs = readTimeoutMs(args.timeout);
  ctx.log.info("mcp_call {server} {tool}", { server: server.name, tool });
  const result = await ctx.services.mcp.callTool(
    server,
    tool,
    args.args ?? {},
    useOptions(ctx, timeoutMs),
  );
  const limited = await limitOutput(ctx.workspace, "mcp", renderContent(result));
  return { ...limited, ...(result.isError ? { is_error: true } : {}) };
};

export function mcpCallArgs(raw: unknown): McpCallArgs {
  const args = Args.of("mcp_call", raw);
  return {
    server: args.object("server"),
    tool_name: args.nonEmptyString("tool_name", FIELD_LIMITS.name),
    args: args.optionalObject("args"),
    timeout: args.optionalNumber("timeout"),
  };
}
