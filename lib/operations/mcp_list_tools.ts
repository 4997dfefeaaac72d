import { Args } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { McpListToolsArgs, McpListToolsResult } from "../wire/protocol.ts";
import { parseServer } from "../mcp/server_config.ts";
import { readTimeoutMs, useOptions } from "../mcp/operation_args.ts";

/** `mcp_list_tools {server}`: every tool, all pages, with its input schema. */
export const mcp_list_tools: OperationHandler = async (raw, ctx): Promise<McpListToolsResult> => {
  const args = mcpListToolsArgs(raw);
  const server = parseServer("mcp_list_tools", args.server);
  const timeoutMs = readTimeoutMs(args.timeout);
  const tools = await ctx.services.mcp.listTools(server, useOptions(ctx, timeoutMs));
  return {
    tools: tools.map((t) => ({
      name: t.name,
      description: t.description ?? "",
      input_schema: t.inputSchema,
    })),
  };
};

export function mcpListToolsArgs(raw: unknown): McpListToolsArgs {
  const args = Args.of("mcp_list_tools", raw);
  return { server: args.object("server"), timeout: args.optionalNumber("timeout") };
}
