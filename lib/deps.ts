// Every external import of the runner, fully qualified, in one place.
// `deno run https://.../main.ts` reads no deno.json, so no import map may be
// relied on: bumping a version here is the only place a dependency changes.

export { Command, CommanderError, Option } from "npm:commander@15.1.0";
export { parse as parseYaml, parseDocument as parseYamlDocument } from "npm:yaml@2.9.1";
export {
  configure as configureLogging,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset as resetLogging,
  type Sink,
} from "npm:@logtape/logtape@2.4.2";
export { Minimatch, minimatch } from "npm:minimatch@11.0.9";
// @ts-types="npm:@types/ws@8.18.2"
export { default as NodeWebSocket } from "npm:ws@8.23.0";
// MCP client (lib/mcp): the official SDK, its transports and error types. The
// subpath exports map `*.js` to a missing `*.js.d.ts`, so types come via @ts-types.
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/index"
export { Client as McpClient } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/stdio"
export { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp"
export {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/sse"
export { SSEClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/sse.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export {
  type CallToolResult as McpCallToolResult,
  ErrorCode as McpErrorCode,
  McpError,
  type Tool as McpTool,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
export type { Transport as McpTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/shared/transport";
export { AjvJsonSchemaValidator } from "npm:@modelcontextprotocol/sdk@1.32.2/validation/ajv";
// webfetch: HTML -> Markdown (turndown) over a DOM built by linkedom (pure JS, no wasm, works in Deno).
// @ts-types="npm:@types/turndown@5.0.6"
export { default as TurndownService } from "npm:turndown@7.2.5";
export { parseHTML } from "npm:linkedom@0.18.15";
// sync_skill: streaming inflate with a running byte count (zip bombs).
export { Inflate as FflateInflate } from "npm:fflate@0.8.3";
// grep (lib/fs/grep_worker.ts): RE2 regexes, linear time whatever the pattern (no ReDoS).
export { RE2JS } from "npm:re2js@2.10.0";
