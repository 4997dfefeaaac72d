import { Args } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { McpListToolsResult } from "../wire/protocol.ts";
import { readServer, readTimeoutMs, useOptions } from "../mcp/operation_args.ts";

/** `mcp_list_tools {server}`: every tool, all pages, with its input schema. */
export const mcp_list_tools: OperationHandler = async (raw, ctx): Promise<McpListToolsResult> => {
  const args = Args.of("mcp_list_tools", raw);
  const server = readServer("mcp_list_tools", args);
  const timeoutMs = readTimeoutMs("mcp_list_tools", args);
  const tools = await ctx.services.mcp.listTools(server, useOptions(ctx, timeoutMs));
  return {
    tools: tools.map((t) => ({
      name: t.name,
      description: t.description ?? "",
      input_schema: t.inputSchema,
    })),
  };
};
