// Test-only external imports, fully qualified (see lib/deps.ts for the runner's).
export { expect } from "npm:expect@30.5.2";
// MCP servers for the lib/mcp tests: the SDK's server side and the zod it takes schemas in.
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/mcp"
export { McpServer } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/stdio"
export { StdioServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/stdio.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp"
export { WebStandardStreamableHTTPServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/sse"
export { SSEServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/sse.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export {
  ListToolsRequestSchema,
  type ListToolsResult,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
export { z } from "npm:zod@4.6.7";
