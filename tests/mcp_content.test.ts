/** Result rendering and server-config reading, on their own. */
import { expect } from "./deps.ts";
import { renderContent } from "../lib/mcp/content.ts";
import { parseServer, sessionKey } from "../lib/mcp/server_config.ts";

Deno.test("content: parts render as the reference does, the rest briefly", () => {
  expect(renderContent({
    content: [
      { type: "text", text: "one" },
      { type: "image", data: "AAAA", mimeType: "image/jpeg" },
      { type: "text", text: "two" },
    ],
  })).toBe("one\n[Image: image/jpeg]\ntwo");
  expect(renderContent({
    content: [
      {
        type: "resource",
        resource: { uri: "file:///b.bin", mimeType: "application/zip", blob: "AAAAAAAA" },
      },
      { type: "something_new", x: 1 },
      "not an object",
    ],
  })).toBe(
    "[Resource: file:///b.bin, application/zip, 6 bytes]\n[something_new content]\n[unreadable content part]",
  );
  expect(renderContent({ content: [] })).toBe("");
  expect(renderContent({})).toBe("");
  // Only structured output: it is what the tool said.
  expect(renderContent({ content: [], structuredContent: { ok: true } })).toBe('{"ok":true}');
});

Deno.test("config: the session key ignores dynamic headers and header-name case", () => {
  const http = (extra: Record<string, unknown>) =>
    parseServer("t", { name: "h", transport: "sse", url: "http://127.0.0.1:1/mcp", ...extra });
  const base = sessionKey(
    http({ headers: { Authorization: "a" }, dynamic_headers: { X: "1" } }),
    "/w",
  );
  expect(sessionKey(http({ headers: { authorization: "a" }, dynamic_headers: { X: "2" } }), "/w"))
    .toBe(base);
  expect(sessionKey(http({ headers: { Authorization: "b" } }), "/w")).not.toBe(base);
  expect(sessionKey(http({ url: "http://127.0.0.1:2/mcp", headers: { Authorization: "a" } }), "/w"))
    .not.toBe(base);

  const stdio = (extra: Record<string, unknown>) =>
    parseServer("t", { name: "s", transport: "stdio", command: "srv", ...extra });
  const key = sessionKey(stdio({ env: { A: "1", B: "2" } }), "/w");
  expect(sessionKey(stdio({ env: { B: "2", A: "1" } }), "/w")).toBe(key);
  expect(sessionKey(stdio({ env: { A: "1" } }), "/w")).not.toBe(key);
  expect(sessionKey(stdio({ env: { A: "1", B: "2" }, args: ["-v"] }), "/w")).not.toBe(key);
  expect(sessionKey(stdio({ env: { A: "1", B: "2" } }), "/other")).not.toBe(key);
});

Deno.test("config: malformed servers are refused, never coerced", () => {
  const bad = (raw: unknown, re: RegExp) => expect(() => parseServer("mcp_call", raw)).toThrow(re);
  bad([], /`server` must be an object/);
  bad({ name: "", transport: "stdio" }, /`server.name` must be a non-empty string/);
  bad({ name: "x" }, /^MCP server "x": unsupported transport undefined/);
  bad({ name: "x", transport: "SSE", url: "http://h" }, /unsupported transport "SSE"/);
  bad(
    { name: "x", transport: "stdio", command: "c", args: [1] },
    /`args` must be an array of strings/,
  );
  bad(
    { name: "x", transport: "stdio", command: "c", env: { A: 1 } },
    /`env` must be an object of strings/,
  );
  bad({ name: "x", transport: "stdio", command: "c", env: { A: "a\0b" } }, /env A has a NUL/);
  bad({ name: "x", transport: "stdio", command: "c", args: ["a\0"] }, /may not contain NUL/);
  bad({ name: "x", transport: "sse", url: "not a url" }, /is not a valid URL/);
  bad(
    { name: "x", transport: "sse", url: "http://h", headers: { "Bad Name": "v" } },
    /header name "Bad Name"/,
  );
  bad(
    { name: "x", transport: "sse", url: "http://h", dynamic_headers: { A: "x\ny" } },
    /header A has a line break/,
  );
  bad(
    { name: "x", transport: "sse", url: "http://h", headers: ["a"] },
    /`headers` must be an object/,
  );
});
