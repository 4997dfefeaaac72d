/**
 * Reading the `server` object of mcp_call / mcp_list_tools / mcp.call
 * (docs/protocol.md "MCP server config") into a checked, typed description.
 * Anything malformed is a TaskError naming the server; nothing is coerced.
 */
import { TaskError } from "../tasks/errors.ts";
import { isObject } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

export interface StdioServer {
  name: string;
  transport: "stdio";
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface HttpServer {
  name: string;
  /** `sse` on the wire: Streamable HTTP first, legacy SSE as a fallback */
  transport: "sse";
  url: URL;
  headers: Record<string, string>;
  /** sent on every request like `headers`; may change from call to call without a new session */
  dynamicHeaders: Record<string, string>;
}

export type McpServer = StdioServer | HttpServer;

/** Validates the wire form. `op` names the operation for messages. */
export function parseServer(op: string, raw: unknown): McpServer {
  if (!isObject(raw)) throw new TaskError(`invalid args for ${op}: \`server\` must be an object`);
  const name = raw.name;
  if (typeof name !== "string" || name === "" || name.length > FIELD_LIMITS.name) {
    throw new TaskError(
      `invalid args for ${op}: \`server.name\` must be a non-empty string of at most ${FIELD_LIMITS.name} characters`,
    );
  }
  const bad = (what: string): never => {
    throw new TaskError(`MCP server ${JSON.stringify(name)}: ${what}`);
  };
  switch (raw.transport) {
    case "stdio": {
      if (typeof raw.command !== "string" || raw.command === "") {
        bad("transport stdio needs a non-empty `command`");
      }
      const args = optionalStrings(raw.args) ?? bad("`args` must be an array of strings");
      const env = stringMap(raw.env) ?? bad("`env` must be an object of strings");
      for (const [k, v] of Object.entries(env)) {
        if (k === "" || k.includes("=") || k.includes("\0")) {
          bad(`env name ${JSON.stringify(k)} is invalid (empty, or contains "=" or NUL)`);
        }
        if (v.includes("\0")) bad(`env ${k} has a NUL in its value`);
      }
      if ([raw.command as string, ...args].some((w) => w.includes("\0"))) {
        bad("`command` and `args` may not contain NUL");
      }
      return { name, transport: "stdio", command: raw.command as string, args, env };
    }
    case "sse": {
      if (typeof raw.url !== "string" || raw.url === "") {
        bad("transport sse needs a non-empty `url`");
      }
      let url: URL;
      try {
        url = new URL(raw.url as string);
      } catch {
        return bad(`\`url\` ${JSON.stringify(raw.url)} is not a valid URL`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        bad(`\`url\` must be http or https, not ${url.protocol.slice(0, -1)}`);
      }
      const headers = stringMap(raw.headers) ?? bad("`headers` must be an object of strings");
      const dynamicHeaders = stringMap(raw.dynamic_headers) ??
        bad("`dynamic_headers` must be an object of strings");
      for (const [k, v] of [...Object.entries(headers), ...Object.entries(dynamicHeaders)]) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) {
          bad(`header name ${JSON.stringify(k)} is invalid`);
        }
        if (/[\r\n\0]/.test(v)) bad(`header ${k} has a line break or NUL in its value`);
      }
      return { name, transport: "sse", url, headers, dynamicHeaders };
    }
    default:
      return bad(
        `unsupported transport ${JSON.stringify(raw.transport)} (use "stdio" or "sse")`,
      );
  }
}

/**
 * What makes two configs the same session: everything but the dynamic
 * headers, which are meant to change between calls (a fresh token, say).
 */
export function sessionKey(server: McpServer, cwd: string): string {
  if (server.transport === "stdio") {
    return JSON.stringify([
      "stdio",
      server.command,
      server.args,
      sortedEntries(server.env),
      cwd,
    ]);
  }
  return JSON.stringify(["sse", server.url.href, sortedEntries(lowerKeys(server.headers))]);
}

/** What the session sends: static headers, then dynamic ones over them (as the reference does). */
export function requestHeaders(
  headers: Record<string, string>,
  dynamic: Record<string, string>,
): Headers {
  const h = new Headers(headers);
  for (const [k, v] of Object.entries(dynamic)) h.set(k, v);
  return h;
}

/** For logs: the server without secrets (header and env values are left out). */
export function describeServer(server: McpServer): Record<string, unknown> {
  if (server.transport === "stdio") {
    return {
      server: server.name,
      transport: "stdio",
      command: server.command,
      args: server.args,
      env_names: Object.keys(server.env),
    };
  }
  const url = new URL(server.url.href);
  url.username = "";
  url.password = "";
  url.search = url.search ? "?…" : "";
  return {
    server: server.name,
    transport: "sse",
    url: url.href,
    header_names: Object.keys(server.headers),
    dynamic_header_names: Object.keys(server.dynamicHeaders),
  };
}

function optionalStrings(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) return undefined;
  return [...v];
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return {};
  if (!isObject(v) || Object.values(v).some((s) => typeof s !== "string")) return undefined;
  return { ...(v as Record<string, string>) };
}

function sortedEntries(m: Record<string, string>): [string, string][] {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function lowerKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
}
