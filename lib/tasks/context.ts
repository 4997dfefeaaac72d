import type { Logger } from "../deps.ts";
import type { Policy } from "../policy/mod.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { McpSessions } from "../mcp/sessions.ts";
import type { GrepWorkers } from "../fs/grep_search.ts";

/**
 * What an operation gets to do its one job. Operations return their result
 * object (docs/protocol.md "Operations") or throw; they never touch the
 * connection or the dispatcher: data flows connection -> dispatcher ->
 * operation -> result. There is no config here: operations see the
 * compiled rules (`policy`), never the token or the rest of the config.
 */
export interface OperationContext {
  workspace: Workspace;
  /** the compiled rules, as they stood when the task started */
  policy: Policy;
  /** aborted on task.cancel and on shutdown; long operations must honour it */
  signal: AbortSignal;
  /** carries task_id, trace_id and operation on every line */
  log: Logger;
  taskId: string;
  /** streams a chunk of live output as `task.output` (dropped while disconnected) */
  output(stream: "stdout" | "stderr", data: string): void;
  /**
   * Resolves when the connection can take more live output (or `signal`
   * aborts): a producer that awaits it reads its source no faster than the
   * platform takes it. Absent where nothing is sent (tests).
   */
  outputRoom?(signal?: AbortSignal): Promise<void>;
  /** long-lived parts shared across tasks, built once at start-up */
  services: Services;
  /**
   * Tells the task-end observers (the audit log) which rules allowed what
   * the operation started. Data still flows one way: the operation reports,
   * the dispatcher passes it on with the task's end. Absent in tests.
   */
  allowedBy?(rules: readonly string[]): void;
}

/**
 * The long-lived parts operations share: every member required, every
 * member disposable. Built once at start-up (lib/tasks/services.ts) and
 * disposed on shutdown.
 */
export interface Services extends AsyncDisposable {
  /** the MCP session pool: mcp_call / mcp_list_tools (and the `mcp.call` message) */
  readonly mcp: McpPool;
  /** the grep worker pool */
  readonly grep: GrepWorkers;
}

/** What operations use of the MCP pool (lib/mcp/lazy_sessions.ts loads the real one on first use). */
export type McpPool = Pick<
  McpSessions,
  "callTool" | "listTools" | "closeAll" | "sessions" | typeof Symbol.asyncDispose
>;

export type OperationHandler = (args: unknown, ctx: OperationContext) => Promise<unknown>;
