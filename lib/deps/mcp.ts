// MCP client (lib/mcp): the official SDK, its transports and error types, loaded on the
// first MCP task (lib/mcp/lazy_sessions.ts): +36 MB a process that never calls one does
// not pay. The subpath exports map `*.js` to a missing `*.js.d.ts`, so types come via
// @ts-types.
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
export { ErrorCode as McpErrorCode, McpError } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
export { AjvJsonSchemaValidator } from "npm:@modelcontextprotocol/sdk@1.32.2/validation/ajv";
