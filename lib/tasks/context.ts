import type { Logger } from "../deps.ts";
import type { RunnerConfig } from "../config.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { McpSessions } from "../mcp/sessions.ts";

/**
 * What an operation gets to do its one job. Operations return their result
 * object (PROTOCOL.md "Operations") or throw; they never touch the
 * connection or the dispatcher: data flows connection -> dispatcher ->
 * operation -> result.
 */
export interface OperationContext {
  workspace: Workspace;
  config: RunnerConfig;
  /** aborted on task.cancel and on shutdown; long operations must honour it */
  signal: AbortSignal;
  /** carries task_id, trace_id and operation on every line */
  log: Logger;
  taskId: string;
  /** streams a chunk of live output as `task.output` (dropped while disconnected) */
  output(stream: "stdout" | "stderr", data: string): void;
  /** long-lived parts shared across tasks (sessions, policies), built once at start-up */
  services: Services;
}

/** Built once from the config at start-up; closed on shutdown. */
export interface Services {
  /** the MCP session pool (lib/mcp/sessions.ts); mcp_call / mcp_list_tools need it */
  mcp?: McpSessions;
  /** other pools built in lib/runner.ts (e.g. grep workers); each may have closeAll() */
  [name: string]: unknown;
}

export type OperationHandler = (args: unknown, ctx: OperationContext) => Promise<unknown>;
