// Every external import of the runner, fully qualified, in one place: this
// file and lib/deps/. `deno run https://.../main.ts` reads no deno.json, so no
// import map may be relied on: bumping a version here is the only place a
// dependency changes.
//
// A module's imports are all evaluated when it is, so a barrel of every
// package would load every package into every process (109 MB idle). This
// file holds only what both the supervisor and the runner use at start (the
// logger); each group in lib/deps/ is loaded by the code that needs it: the
// CLI (cli.ts: commander) and the config file's parser (yaml.ts) in the
// process you start, never in the supervised runner child; the runner's wire
// and task code (ws.ts, shell.ts, glob.ts, re2.ts) and, on the first task
// that needs them, MCP (mcp.ts), webfetch's conversion (html.ts) and zip
// extraction (zip.ts). Types are re-exported here: type imports load nothing.

export {
  configure as configureLogging,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset as resetLogging,
  type Sink,
} from "npm:@logtape/logtape@2.4.2";
// @ts-types="npm:@types/ws@8.18.2"
export type { default as NodeWebSocketType } from "npm:ws@8.23.0";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export type {
  CallToolResult as McpCallToolResult,
  Tool as McpTool,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
export type { Transport as McpTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/shared/transport";
