/**
 * Why a tool call came back as an error, when the cause is ours rather than
 * the tool's: a tool the server does not have, or arguments its input
 * schema rejects. Servers built on the SDK's McpServer report both as an
 * ordinary error result; the platform gets a clear failure instead.
 */
import type { McpTool } from "../deps.ts";
import { AjvJsonSchemaValidator } from "../deps/mcp.ts";

let validator: AjvJsonSchemaValidator | undefined;

/** A reason to fail the call, or undefined when the tool's own error result stands. */
export function callerMistake(
  tools: ReadonlyMap<string, McpTool>,
  name: string,
  args: Record<string, unknown>,
): string | undefined {
  const tool = tools.get(name);
  if (!tool) {
    const names = [...tools.keys()].slice(0, 20).join(", ");
    return `the server has no such tool${
      names ? ` (it has: ${names}${tools.size > 20 ? ", ..." : ""})` : ""
    }`;
  }
  try {
    validator ??= new AjvJsonSchemaValidator();
    const check = validator.getValidator(tool.inputSchema as never)(args);
    return check.valid ? undefined : `invalid arguments: ${check.errorMessage}`;
  } catch {
    return undefined; // a schema we cannot compile: let the server's answer speak
  }
}
