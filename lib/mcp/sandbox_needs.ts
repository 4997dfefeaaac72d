/**
 * What stdio MCP servers need from the Deno permission set (lib/sandbox),
 * each measured by running the pool under narrow flags
 * (tests/mcp_sandbox.test.ts).
 */

/** Environment names read when a stdio server is launched. */
export const MCP_STDIO_ENV: Readonly<Record<string, string>> = {
  TERM: "the MCP SDK's StdioClientTransport copies HOME, LOGNAME, PATH, SHELL, TERM, USER",
  NODE_V8_COVERAGE: "Deno's node:child_process reads it on every spawn",
};

/**
 * Helper programs that stop a stdio server's whole process tree when /proc
 * is out of reach (Deno opens /proc only under --allow-all) and Deno.kill
 * is (it needs an unscoped --allow-run). Without them, a server's own
 * children may outlive it.
 */
export const MCP_HELPER_PROGRAMS: Readonly<Record<string, string>> = {
  ps: "lists processes to find a stdio server's descendants",
  kill: "stops the descendants that outlive the server",
};
