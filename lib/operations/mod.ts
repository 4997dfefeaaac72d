/**
 * Every task operation the runner serves, by its wire name
 * (`task.request.operation`). One module each, named for the operation.
 *
 * The file operations every platform sends load at start. The rest load on
 * their first task: each brings packages a runner may never need (shell
 * parsing, glob and regex engines, the MCP SDK, an HTML DOM and Markdown
 * converter, inflate), together ~130 MB of a process that loaded them all.
 * The specifiers stay string literals, so `deno compile` still embeds them.
 */
import type { OperationHandler } from "../tasks/context.ts";
import { read } from "./read.ts";
import { write } from "./write.ts";
import { list } from "./list.ts";

/** A handler whose module is imported on its first call (a failed import is retried). */
function lazy(load: () => Promise<OperationHandler>): OperationHandler {
  let handler: Promise<OperationHandler> | undefined;
  return async (args, ctx) => {
    handler ??= load().catch((err) => {
      handler = undefined;
      throw err;
    });
    return (await handler)(args, ctx);
  };
}

export const OPERATIONS: Readonly<Record<string, OperationHandler>> = Object.freeze({
  read,
  write,
  list,
  glob: lazy(async () => (await import("./glob.ts")).glob),
  grep: lazy(async () => (await import("./grep.ts")).grep),
  bash: lazy(async () => (await import("./bash.ts")).bash),
  webfetch: lazy(async () => (await import("./webfetch.ts")).webfetch),
  mcp_call: lazy(async () => (await import("./mcp_call.ts")).mcp_call),
  mcp_list_tools: lazy(async () => (await import("./mcp_list_tools.ts")).mcp_list_tools),
  sync_skill: lazy(async () => (await import("./sync_skill.ts")).sync_skill),
});
