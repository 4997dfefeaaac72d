/** Building and disposing the Services (lib/tasks/context.ts): one place that knows every member. */
import type { Logger } from "../deps.ts";
import type { McpSessionsOptions } from "../mcp/sessions.ts";
import { LazyMcpSessions } from "../mcp/lazy_sessions.ts";
import { GrepWorkers } from "../fs/grep_search.ts";
import type { Services } from "./context.ts";

export interface ServicesOptions {
  log: Logger;
  /** MCP pool tuning (tests shorten the idle time) */
  mcp?: Omit<McpSessionsOptions, "log">;
  /** a grep pool to use instead of a new one (tests share one) */
  grep?: GrepWorkers;
}

/** Every service, new. Nothing starts until used: building them costs no process or worker. */
export function openServices(opts: ServicesOptions): Services {
  const mcp = new LazyMcpSessions({ log: opts.log, ...opts.mcp });
  const grep = opts.grep ?? new GrepWorkers();
  return {
    mcp,
    grep,
    async [Symbol.asyncDispose]() {
      // Each member is closed even when another fails to close.
      await Promise.allSettled([mcp[Symbol.asyncDispose](), grep[Symbol.asyncDispose]()]);
    },
  };
}
