import { Args } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { McpCallResult } from "../wire/protocol.ts";
import { limitOutput } from "../tasks/output.ts";
import { renderContent } from "../mcp/content.ts";
import { readServer, readTimeoutMs, useOptions } from "../mcp/operation_args.ts";

/** `mcp_call {server, tool_name, args, timeout?}` (also serves the `mcp.call` message). */
export const mcp_call: OperationHandler = async (raw, ctx): Promise<McpCallResult> => {
  const args = Args.of("mcp_call", raw);
  const server = readServer("mcp_call", args);
  const tool = args.nonEmptyString("tool_name");
  const toolArgs = args.optionalObject("args") ?? {};
  const timeoutMs = readTimeoutMs("mcp_call", args);
  ctx.log.info("mcp_call {server} {tool}", { server: server.name, tool });
  const result = await ctx.services.mcp.callTool(
    server,
    tool,
    toolArgs,
    useOptions(ctx, timeoutMs),
  );
  const limited = await limitOutput(ctx.workspace, "mcp", renderContent(result));
  return { ...limited, ...(result.isError ? { is_error: true } : {}) };
};
