/**
 * The pool under narrow Deno permissions, as the sandboxed runner runs it:
 * a stdio server starts, and closing the pool stops it and the process it
 * started, with no /proc access and no unscoped --allow-run.
 */
import { expect } from "./deps.ts";
import { RUNNER_ENV } from "../lib/sandbox/permissions.ts";
import { MCP_HELPER_PROGRAMS, MCP_STDIO_ENV } from "../lib/mcp/sandbox_needs.ts";
import { running, STDIO_SERVER } from "./fixtures/mcp_context.ts";

const POOL_SCRIPT = new URL("./fixtures/mcp_sandboxed_pool.ts", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname;

Deno.test("sandbox: a stdio server and its children stop under narrow permissions", async () => {
  const deno = Deno.execPath();
  const cwd = await Deno.makeTempDir({ prefix: "mcp_sandbox_" });
  const started: number[] = [];
  try {
    const env = [...Object.keys(RUNNER_ENV), ...Object.keys(MCP_STDIO_ENV)];
    const out = await new Deno.Command(deno, {
      args: [
        "run",
        "--no-prompt",
        `--allow-run=${[deno, ...Object.keys(MCP_HELPER_PROGRAMS)].join(",")}`,
        `--allow-env=${env.join(",")}`,
        `--allow-read=${REPO}`,
        POOL_SCRIPT,
        deno,
        STDIO_SERVER,
        cwd,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
    const stderr = new TextDecoder().decode(out.stderr);
    expect({ code: out.code, stderr: out.code === 0 ? "" : stderr }).toEqual({
      code: 0,
      stderr: "",
    });
    expect(stdout).toHaveLength(2);
    expect(stdout[1]).toBe("closed");
    const { server, child } = JSON.parse(stdout[0]) as { server: number; child: number };
    started.push(server, child);
    expect(server).toBeGreaterThan(0);
    expect(child).toBeGreaterThan(0);
    expect(await running(server)).toBe(false);
    expect(await running(child)).toBe(false);
  } finally {
    // Whatever the outcome, leave no test process behind.
    for (const pid of started) if (await running(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(cwd, { recursive: true });
  }
});
