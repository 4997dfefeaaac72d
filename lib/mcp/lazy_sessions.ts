/**
 * The MCP pool a runner starts with. The pool (lib/mcp/sessions.ts) needs the
 * MCP SDK, about 36 MB once loaded; most runners never make an MCP call, so
 * the SDK loads on the first call instead of at start (`deno task bench`
 * measures what that first call pays).
 */
import type { McpPool } from "../tasks/context.ts";
import type { McpSessions, McpSessionsOptions } from "./sessions.ts";

export class LazyMcpSessions implements McpPool {
  private pool?: Promise<McpSessions>;
  private loaded?: McpSessions;

  constructor(private readonly opts: McpSessionsOptions) {}

  async callTool(
    ...args: Parameters<McpSessions["callTool"]>
  ): ReturnType<McpSessions["callTool"]> {
    return (await this.load()).callTool(...args);
  }

  async listTools(
    ...args: Parameters<McpSessions["listTools"]>
  ): ReturnType<McpSessions["listTools"]> {
    return (await this.load()).listTools(...args);
  }

  /** No pool loaded yet: no session. */
  sessions(): ReturnType<McpSessions["sessions"]> {
    return this.loaded?.sessions() ?? [];
  }

  async closeAll(): Promise<void> {
    if (this.pool) await (await this.pool).closeAll();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.pool) await (await this.pool)[Symbol.asyncDispose]();
  }

  private load(): Promise<McpSessions> {
    return this.pool ??= import("./sessions.ts").then((m) =>
      this.loaded = new m.McpSessions(this.opts)
    );
  }
}
