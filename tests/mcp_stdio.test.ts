/**
 * mcp_call / mcp_list_tools against a real stdio MCP server (an SDK McpServer
 * in tests/fixtures/mcp_stdio_server.ts) that the runner launches itself.
 */
import { expect } from "./deps.ts";
import { mcp_call } from "../lib/operations/mcp_call.ts";
import { mcp_list_tools } from "../lib/operations/mcp_list_tools.ts";
import type { McpCallResult, McpListToolsResult } from "../lib/wire/protocol.ts";
import { PAGE_SIZE, TOOL_COUNT } from "./fixtures/mcp_tools.ts";
import {
  allowServerRules,
  eventually,
  mcpFixture,
  running,
  STDIO_SERVER,
  stdioServer,
} from "./fixtures/mcp_context.ts";

type Ctx = Parameters<typeof mcp_call>[1];

async function call(ctx: Ctx, args: Record<string, unknown>): Promise<McpCallResult> {
  return await mcp_call(args, ctx) as McpCallResult;
}

async function whoami(ctx: Ctx, server: unknown) {
  const r = await call(ctx, { server, tool_name: "whoami" });
  return JSON.parse(r.content) as {
    pid: number;
    label: string;
    initializes: number;
    calls: number;
  };
}

Deno.test("stdio: lists every tool across pages, with input schemas", async () => {
  await using f = await mcpFixture();
  const result = await mcp_list_tools(
    { server: stdioServer("lister") },
    f.ctx,
  ) as McpListToolsResult;
  // More tools than one page holds: only following nextCursor finds them all.
  expect(TOOL_COUNT).toBeGreaterThan(PAGE_SIZE * 2);
  expect(result.tools.map((t) => t.name)).toEqual([
    "echo",
    "fail",
    "image",
    "mixed",
    "whoami",
    "env",
    "cwd",
    "header",
    "big",
    "hang",
    "spawn_child",
    "noisy",
  ]);
  const echo = result.tools.find((t) => t.name === "echo")!;
  expect(echo.description).toBe("Returns its text");
  expect(echo.input_schema).toMatchObject({
    type: "object",
    properties: { text: { type: "string" } },
    required: ["text"],
  });
});

Deno.test("stdio: calls reuse one session (one process, one initialize)", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("reuse");
  const r = await call(f.ctx, { server, tool_name: "echo", args: { text: "hello" } });
  expect(r).toEqual({ content: "hello" });
  for (let i = 0; i < 3; i++) {
    await call(f.ctx, { server, tool_name: "echo", args: { text: `${i}` } });
  }
  const me = await whoami(f.ctx, server);
  expect(me).toMatchObject({ label: "reuse", initializes: 1, calls: 4 });
  expect(f.pool.sessions()).toEqual([{ name: "reuse", kind: "stdio", pid: me.pid }]);
});

Deno.test("stdio: concurrent first calls share one launch", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("together");
  const results = await Promise.all(
    Array.from(
      { length: 5 },
      (_, i) => call(f.ctx, { server, tool_name: "echo", args: { text: `${i}` } }),
    ),
  );
  expect(results.map((r) => r.content)).toEqual(["0", "1", "2", "3", "4"]);
  expect((await whoami(f.ctx, server)).initializes).toBe(1);
  expect(f.pool.sessions()).toHaveLength(1);
});

Deno.test("stdio: results render text, images and other parts; tool errors set is_error", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("render");
  expect(await call(f.ctx, { server, tool_name: "image" })).toEqual({
    content: "a picture:\n[Image: image/png]",
  });
  expect((await call(f.ctx, { server, tool_name: "mixed" })).content).toBe(
    "[Audio: audio/wav]\n[Resource link: file:///x.txt (x)]\n[Resource: file:///y.txt, text/plain]\nwhy",
  );
  expect(await call(f.ctx, { server, tool_name: "fail", args: { message: "disk full" } })).toEqual({
    content: "disk full",
    is_error: true,
  });
  // A tool error is an answer, not a broken session.
  expect((await whoami(f.ctx, server)).initializes).toBe(1);
});

Deno.test("stdio: unknown tool and invalid arguments fail naming server and tool", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("strict");
  await expect(call(f.ctx, { server, tool_name: "nope" })).rejects.toThrow(
    /^MCP server "strict", tool "nope": the server has no such tool \(it has: echo, fail/,
  );
  await expect(call(f.ctx, { server, tool_name: "echo", args: { text: 5 } })).rejects.toThrow(
    /^MCP server "strict", tool "echo": invalid arguments: .*text.*string/,
  );
});

Deno.test("stdio: a launch permission.bash does not allow is refused and nothing starts", async () => {
  const marker = await Deno.makeTempFile();
  await Deno.remove(marker);
  await using f = await mcpFixture({ bash: [{ pattern: "ls *", action: "allow" }] });
  const server = { name: "evil", transport: "stdio", command: "touch", args: [marker] };
  await expect(call(f.ctx, { server, tool_name: "x" })).rejects.toThrow(
    /^command denied: "touch .*" \(no rule allowed it\).*\[MCP server "evil", tool "x"\]$/,
  );
  await expect(mcp_list_tools({ server }, f.ctx)).rejects.toThrow(/^command denied: /);
  await expect(Deno.stat(marker)).rejects.toThrow(Deno.errors.NotFound);
  expect(f.pool.sessions()).toEqual([]);

  // A deny rule after an allow wins (last match), for the test server itself.
  await using g = await mcpFixture({
    bash: [...allowServerRules(), { pattern: `* ${STDIO_SERVER} denied`, action: "deny" }],
  });
  await expect(call(g.ctx, { server: stdioServer("x", "denied"), tool_name: "echo" })).rejects
    .toThrow(/^command denied: .*deny/);
});

Deno.test("stdio: env reaches the server; loader-changing env needs a catch-all allow", async () => {
  Deno.env.set("FLASHDUTY_RUNNER_API_KEY", "wnt_secret_of_the_runner");
  try {
    await using f = await mcpFixture();
    const server = stdioServer("env", "env", { MCP_TEST_VALUE: "from platform" });
    const get = async (name: string) =>
      (await call(f.ctx, { server, tool_name: "env", args: { name } })).content;
    expect(await get("MCP_TEST_VALUE")).toBe("from platform");
    // The runner's own environment is inherited, but never its token.
    expect(await get("FLASHDUTY_RUNNER_API_KEY")).toBe("<unset>");
    expect(await get("PATH")).toBe(Deno.env.get("PATH"));
    // The server runs in the workspace.
    expect((await call(f.ctx, { server, tool_name: "cwd" })).content).toBe(f.workspace.root);

    const preload = stdioServer("preload", "preload", { LD_PRELOAD: "/tmp/evil.so" });
    await expect(call(f.ctx, { server: preload, tool_name: "echo" })).rejects.toThrow(
      /^command denied: env LD_PRELOAD .*refused/,
    );
  } finally {
    Deno.env.delete("FLASHDUTY_RUNNER_API_KEY");
  }
  await using trusted = await mcpFixture({ bash: [{ pattern: "*", action: "allow" }] });
  const server = stdioServer("trusted", "trusted", { NODE_OPTIONS: "--no-warnings" });
  expect(
    (await call(trusted.ctx, { server, tool_name: "env", args: { name: "NODE_OPTIONS" } }))
      .content,
  ).toBe("--no-warnings");
});

Deno.test("stdio: bad server configs are clear errors", async () => {
  await using f = await mcpFixture();
  const bad = async (server: unknown, re: RegExp) =>
    await expect(call(f.ctx, { server, tool_name: "t" })).rejects.toThrow(re);
  await bad(undefined, /`server` must be an object/);
  await bad({ transport: "stdio", command: "x" }, /`server.name` must be a non-empty string/);
  await bad(
    { name: "w", transport: "websocket" },
    /^MCP server "w": unsupported transport "websocket"/,
  );
  await bad({ name: "n", transport: "stdio" }, /needs a non-empty `command`/);
  await bad({ name: "e", transport: "stdio", command: "x", env: { "A=B": "1" } }, /env name "A=B"/);
  await bad({ name: "z", transport: "stdio", command: "x", env: { "A\0": "1" } }, /env name/);
  await bad({ name: "a", transport: "stdio", command: "x", args: "-v" }, /`args` must be an array/);
  await expect(mcp_call({ server: stdioServer("t"), tool_name: "" }, f.ctx)).rejects.toThrow(
    /`tool_name` must be a non-empty string/,
  );
  await expect(mcp_call({ server: stdioServer("t"), tool_name: "echo", args: [1] }, f.ctx)).rejects
    .toThrow(/`args` must be an object/);
});

Deno.test("stdio: a missing program or a server that dies at start says why", async () => {
  await using f = await mcpFixture({ bash: [{ pattern: "*", action: "allow" }] });
  const missing = { name: "ghost", transport: "stdio", command: "no-such-mcp-server-xyz" };
  await expect(call(f.ctx, { server: missing, tool_name: "t" })).rejects.toThrow(
    /^MCP server "ghost", tool "t": cannot start: command not found: "no-such-mcp-server-xyz"/,
  );
  const crash = stdioServer("crash");
  crash.args.push("--crash");
  await expect(call(f.ctx, { server: crash, tool_name: "t" })).rejects.toThrow(
    /^MCP server "crash", tool "t": .*stderr ended with: .*fatal: cannot open the database/,
  );
  expect(f.pool.sessions()).toEqual([]);
});

Deno.test("stdio: a timeout fails the call and the next call gets a fresh server", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("slow");
  const before = await whoami(f.ctx, server);
  await expect(call(f.ctx, { server, tool_name: "hang", timeout: 0.5 })).rejects.toThrow(
    /^MCP server "slow", tool "hang": timed out after 0.5 s$/,
  );
  const after = await whoami(f.ctx, server);
  expect(after.pid).not.toBe(before.pid);
  await eventually(async () => !(await running(before.pid)));
});

Deno.test("stdio: task.cancel aborts a running call; the session stays", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("cancel");
  const before = await whoami(f.ctx, server);
  const abort = new AbortController();
  const pending = call(f.withSignal(abort.signal), { server, tool_name: "hang" });
  setTimeout(() => abort.abort(), 300);
  await expect(pending).rejects.toThrow(/^MCP server "cancel", tool "hang": cancelled$/);
  const after = await whoami(f.ctx, server);
  expect(after.pid).toBe(before.pid);
  expect(after.initializes).toBe(1);
});

Deno.test("stdio: a server that died is replaced on the next call", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("mortal");
  const first = await whoami(f.ctx, server);
  Deno.kill(first.pid, "SIGKILL");
  await eventually(() => f.pool.sessions().length === 0);
  const second = await whoami(f.ctx, server);
  expect(second.pid).not.toBe(first.pid);
  expect(second.initializes).toBe(1);
});

Deno.test("stdio: a changed config under the same name gets a new server, the old one stops", async () => {
  await using f = await mcpFixture();
  const first = await whoami(f.ctx, stdioServer("same", "one"));
  const second = await whoami(f.ctx, stdioServer("same", "two"));
  expect(second.label).toBe("two");
  expect(second.pid).not.toBe(first.pid);
  await eventually(async () => !(await running(first.pid)));
  expect(f.pool.sessions()).toEqual([{ name: "same", kind: "stdio", pid: second.pid }]);
});

Deno.test("stdio: an idle session is closed and its server stops", async () => {
  await using f = await mcpFixture({}, { idleMs: 300 });
  const me = await whoami(f.ctx, stdioServer("idle"));
  await eventually(() => f.pool.sessions().length === 0);
  await eventually(async () => !(await running(me.pid)));
});

Deno.test("stdio: closeAll stops every server and the processes they started", async () => {
  await using f = await mcpFixture();
  const a = await whoami(f.ctx, stdioServer("a"));
  const b = await whoami(f.ctx, stdioServer("b"));
  const grandchild = Number(
    (await call(f.ctx, { server: stdioServer("a"), tool_name: "spawn_child" })).content,
  );
  expect(await running(grandchild)).toBe(true);
  await f.pool.closeAll();
  for (const pid of [a.pid, b.pid, grandchild]) expect(await running(pid)).toBe(false);
  expect(f.pool.sessions()).toEqual([]);
  await expect(call(f.ctx, { server: stdioServer("a"), tool_name: "echo" })).rejects.toThrow(
    /shutting down/,
  );
});

Deno.test("stdio: a large result is truncated and saved in the workspace", async () => {
  await using f = await mcpFixture();
  const r = await call(f.ctx, {
    server: stdioServer("big"),
    tool_name: "big",
    args: { lines: 1000 },
  });
  expect(r.truncated).toBe(true);
  expect(r.file_path).toMatch(/^\.work\/outputs\/mcp_[A-Za-z0-9]{8}_\d+\.txt$/);
  expect(r.content).toContain("<output_truncated>");
  const saved = await Deno.readTextFile(`${f.workspace.root}/${r.file_path}`);
  expect(saved.length).toBe(r.total_size);
  expect(saved.split("\n")).toHaveLength(1000);
});

Deno.test("stdio: a server flooding stderr keeps working", async () => {
  await using f = await mcpFixture();
  const server = stdioServer("noisy");
  // 2,000 lines of 2 kB: far more than a pipe buffer, so an undrained stderr would stall it.
  expect((await call(f.ctx, { server, tool_name: "noisy", args: { lines: 2000 } })).content).toBe(
    "done",
  );
  expect((await call(f.ctx, { server, tool_name: "echo", args: { text: "still" } })).content).toBe(
    "still",
  );
});
