/**
 * mcp_call / mcp_list_tools against real HTTP MCP servers on 127.0.0.1:
 * Streamable HTTP (transport "sse" on the wire) and the legacy SSE fallback.
 */
import { expect } from "./deps.ts";
import { mcp_call } from "../lib/operations/mcp_call.ts";
import { mcp_list_tools } from "../lib/operations/mcp_list_tools.ts";
import type { McpCallResult, McpListToolsResult } from "../lib/wire/protocol.ts";
import { TOOL_COUNT } from "./fixtures/mcp_tools.ts";
import { mcpFixture } from "./fixtures/mcp_context.ts";
import { closedPort, LegacySseServer, StreamableServer } from "./fixtures/mcp_http_server.ts";

type Ctx = Parameters<typeof mcp_call>[1];

async function call(ctx: Ctx, args: Record<string, unknown>): Promise<McpCallResult> {
  return await mcp_call(args, ctx) as McpCallResult;
}

function httpServer(name: string, url: string, extra: Record<string, unknown> = {}) {
  return { name, transport: "sse", url, ...extra };
}

Deno.test("http: list and calls over Streamable HTTP share one session", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  const server = httpServer("web", srv.url());
  const list = await mcp_list_tools({ server }, f.ctx) as McpListToolsResult;
  expect(list.tools).toHaveLength(TOOL_COUNT);
  expect(list.tools[0]).toMatchObject({ name: "echo", input_schema: { type: "object" } });
  for (const text of ["a", "b", "c"]) {
    expect(await call(f.ctx, { server, tool_name: "echo", args: { text } })).toEqual({
      content: text,
    });
  }
  expect(await call(f.ctx, { server, tool_name: "image" })).toEqual({
    content: "a picture:\n[Image: image/png]",
  });
  expect(await call(f.ctx, { server, tool_name: "fail", args: { message: "no" } })).toEqual({
    content: "no",
    is_error: true,
  });
  expect(srv.stats).toEqual({ initializes: 1, calls: 3 });
  expect(f.pool.sessions()).toEqual([{ name: "web", kind: "streamable-http", pid: undefined }]);
});

Deno.test("http: static and dynamic headers go on every request", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  const server = (trace: string) =>
    httpServer("hdr", srv.url(), {
      headers: { Authorization: "Bearer static-token", "X-Static": "s" },
      dynamic_headers: { "X-Trace": trace },
    });
  await call(f.ctx, { server: server("t1"), tool_name: "echo", args: { text: "1" } });
  const firstCall = srv.requests.length;
  await call(f.ctx, { server: server("t2"), tool_name: "echo", args: { text: "2" } });

  expect(srv.requests.length).toBeGreaterThan(firstCall);
  for (const r of srv.requests) {
    expect([r.method, r.headers.get("authorization"), r.headers.get("x-static")]).toEqual([
      r.method,
      "Bearer static-token",
      "s",
    ]);
  }
  const posts = (from: number, to: number) =>
    srv.requests.slice(from, to).filter((r) => r.method === "POST");
  expect(posts(0, firstCall).map((r) => r.headers.get("x-trace"))).toContain("t1");
  expect(posts(0, firstCall).every((r) => r.headers.get("x-trace") === "t1")).toBe(true);
  const later = posts(firstCall, srv.requests.length);
  expect(later.length).toBeGreaterThan(0);
  expect(later.every((r) => r.headers.get("x-trace") === "t2")).toBe(true);
  // New dynamic headers do not make a new session.
  expect(srv.stats.initializes).toBe(1);

  // A changed static header is a changed config: a new session.
  await call(f.ctx, {
    server: { ...server("t2"), headers: { Authorization: "Bearer rotated" } },
    tool_name: "echo",
    args: { text: "3" },
  });
  expect(srv.stats.initializes).toBe(2);
  expect(srv.requests.at(-1)!.headers.get("authorization")).toBe("Bearer rotated");
});

Deno.test("http: concurrent calls with different dynamic headers never mix them", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  const server = (user: string) =>
    httpServer("mix", srv.url(), { dynamic_headers: { "X-User": user } });
  await call(f.ctx, { server: server("warmup"), tool_name: "echo", args: { text: "w" } });
  const users = ["alice", "bob", "carol", "alice", "bob", "carol", "dave", "erin"];
  const results = await Promise.all(
    users.map((u) =>
      call(f.ctx, { server: server(u), tool_name: "header", args: { name: "X-User" } })
    ),
  );
  // The server saw, on the request of each call, that call's own header.
  expect(results.map((r) => r.content)).toEqual(users);
  expect(srv.stats.initializes).toBe(1);
});

Deno.test("http: a restarted server gets a new session on the next call", async () => {
  const first = StreamableServer.start();
  const port = first.port;
  await using f = await mcpFixture();
  const server = httpServer("phoenix", first.url());
  await call(f.ctx, { server, tool_name: "echo", args: { text: "before" } });
  await first.close();

  await using second = StreamableServer.start(port, "second");
  const r = await call(f.ctx, { server, tool_name: "whoami" });
  expect(JSON.parse(r.content)).toMatchObject({ label: "second", initializes: 1 });
  expect(second.stats.initializes).toBe(1);
});

Deno.test("http: a server that is not there fails naming server and tool", async () => {
  await using f = await mcpFixture();
  const url = `http://127.0.0.1:${closedPort()}/mcp`;
  await expect(call(f.ctx, { server: httpServer("down", url), tool_name: "echo" })).rejects.toThrow(
    new RegExp(`^MCP server "down", tool "echo": cannot connect to ${url}: connection failed`),
  );
  await expect(mcp_list_tools({ server: httpServer("down", url) }, f.ctx)).rejects.toThrow(
    /^MCP server "down", list tools: cannot connect/,
  );
  expect(f.pool.sessions()).toEqual([]);
  await expect(call(f.ctx, { server: httpServer("nourl", ""), tool_name: "x" })).rejects.toThrow(
    /^MCP server "nourl": transport sse needs a non-empty `url`/,
  );
  await expect(call(f.ctx, { server: httpServer("ftp", "ftp://h/x"), tool_name: "x" })).rejects
    .toThrow(/must be http or https/);
  await expect(
    call(f.ctx, {
      server: httpServer("crlf", url, { headers: { "X-A": "a\r\nInjected: 1" } }),
      tool_name: "x",
    }),
  ).rejects.toThrow(/header X-A has a line break/);
});

Deno.test("http: a server that speaks only legacy SSE is reached through the fallback", async () => {
  await using srv = await LegacySseServer.start();
  await using f = await mcpFixture();
  const server = httpServer("old", srv.url(), {
    headers: { Authorization: "Bearer legacy" },
    dynamic_headers: { "X-Trace": "d1" },
  });
  expect(await call(f.ctx, { server, tool_name: "echo", args: { text: "hi" } })).toEqual({
    content: "hi",
  });
  const list = await mcp_list_tools({ server }, f.ctx) as McpListToolsResult;
  expect(list.tools).toHaveLength(TOOL_COUNT);
  expect(f.pool.sessions()).toEqual([{ name: "old", kind: "sse", pid: undefined }]);
  expect(srv.stats.initializes).toBe(1);
  // The Streamable HTTP attempt was refused first, then GET /sse and POSTs to /messages.
  expect(srv.requests[0]).toMatchObject({ method: "POST", path: "/sse" });
  expect(srv.requests.some((r) => r.method === "GET" && r.path === "/sse")).toBe(true);
  for (const r of srv.requests) {
    expect(r.headers.get("authorization")).toBe("Bearer legacy");
    expect(r.headers.get("x-trace")).toBe("d1");
  }
});

Deno.test("http: the webfetch URL policy applies to MCP servers", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture({ webfetch: [{ pattern: "https://*", action: "allow" }] });
  await expect(call(f.ctx, { server: httpServer("blocked", srv.url()), tool_name: "echo" })).rejects
    .toThrow(
      /^url denied: http:\/\/127\.0\.0\.1:\d+\/mcp .*\[MCP server "blocked", tool "echo"\]$/,
    );
  expect(srv.requests).toEqual([]);
});

Deno.test("http: a redirect to another origin is not followed", async () => {
  await using target = StreamableServer.start();
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  const url = srv.url(`/moved?to=${encodeURIComponent(target.url())}`);
  await expect(call(f.ctx, { server: httpServer("moved", url), tool_name: "echo" })).rejects
    .toThrow(
      /^MCP server "moved", tool "echo": .*(redirect|Redirect)/,
    );
  expect(target.requests).toEqual([]);
});

Deno.test("http: a same-origin redirect is followed only if its target is allowed too", async () => {
  await using srv = StreamableServer.start();
  const moved = srv.url(`/moved?to=${encodeURIComponent(srv.url())}`);
  await using open = await mcpFixture();
  expect(
    (await call(open.ctx, {
      server: httpServer("hop", moved),
      tool_name: "echo",
      args: { text: "via redirect" },
    })).content,
  ).toBe("via redirect");

  const before = srv.requests.length;
  await using strict = await mcpFixture({
    webfetch: [{ pattern: `${srv.url("/moved")}*`, action: "allow" }],
  });
  await expect(call(strict.ctx, { server: httpServer("hop", moved), tool_name: "echo" })).rejects
    .toThrow(/^url denied: http:\/\/127\.0\.0\.1:\d+\/mcp .*\[MCP server "hop", tool "echo"\]$/);
  expect(srv.requests.slice(before).map((r) => r.path)).toEqual(["/moved"]);
});

Deno.test("http: timeout and cancel end the call; cancel keeps the session", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  const server = httpServer("slow", srv.url());
  await call(f.ctx, { server, tool_name: "echo", args: { text: "x" } });

  const abort = new AbortController();
  const pending = call(f.withSignal(abort.signal), { server, tool_name: "hang" });
  setTimeout(() => abort.abort(), 300);
  await expect(pending).rejects.toThrow(/^MCP server "slow", tool "hang": cancelled$/);
  await call(f.ctx, { server, tool_name: "echo", args: { text: "y" } });
  expect(srv.stats.initializes).toBe(1);

  await expect(call(f.ctx, { server, tool_name: "hang", timeout: 0.5 })).rejects.toThrow(
    /^MCP server "slow", tool "hang": timed out after 0.5 s$/,
  );
});

Deno.test("http: closeAll ends the session on the server too", async () => {
  await using srv = StreamableServer.start();
  await using f = await mcpFixture();
  await call(f.ctx, {
    server: httpServer("bye", srv.url()),
    tool_name: "echo",
    args: { text: "x" },
  });
  expect(srv.openSessions).toBe(1);
  await f.pool.closeAll();
  expect(srv.requests.at(-1)!.method).toBe("DELETE");
  expect(srv.openSessions).toBe(0);
});
