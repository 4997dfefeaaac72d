/**
 * The derived permission set is enough for the real runner: main.ts started
 * with exactly toDenoFlags(derivePermissions(...)) (what the supervisor
 * re-executes it with) connects, reports its host, and serves every kind of
 * task without a single NotCapable. Dependencies read environment names
 * and files the code does not show; this is where a missing grant shows.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { parseConfig } from "../lib/config.ts";
import type { HeartbeatPayload } from "../lib/wire/protocol.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { derivePermissions, toDenoFlags } from "../lib/sandbox/permissions.ts";
import { MAIN, startRunner } from "./support/runner.ts";
import { STDIO_SERVER, stdioServer } from "./fixtures/mcp_context.ts";
import { buildZip } from "./support/zip_builder.ts";
import { serveDirectory } from "./support/static_server.ts";

const EXAMPLE = new URL("../examples/readonly-linux.yaml", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname;
const b64 = (s: string) => btoa(s);

/** readonly-linux plus `sleep` (for the timeout) and the stdio MCP test server. */
async function config(): Promise<string> {
  const base = await Deno.readTextFile(EXAMPLE);
  const mcp = `${Deno.execPath()} run -A ${STDIO_SERVER} *`;
  return `${base}    "sleep *": allow\n    ${JSON.stringify(mcp)}: allow\n`;
}

Deno.test({
  name: "sandboxed runner: the derived flags serve every operation, and nothing hits NotCapable",
  // the runner, its stdio MCP server and commands are real processes, stopped in `finally`
  async fn() {
    const sim = await PlatformSimulator.start();
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_runner_" }));
    const workspace = join(dir, "ws");
    await Deno.mkdir(workspace);
    const configPath = join(dir, "config.yaml");
    const yaml = await config();
    await Deno.writeTextFile(configPath, yaml);
    const web = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<html><body><h1>Hello</h1><p>from the web</p></body></html>", {
          headers: { "content-type": "text/html" },
        }),
    );
    const permissions = derivePermissions({
      config: parseConfig(yaml, configPath),
      workspace,
      configPath,
      platformUrl: sim.url,
      mainModule: new URL(`file://${MAIN}`).href,
    });
    const flags = toDenoFlags(permissions);
    expect(flags).toContain(`--allow-write=${workspace}`);
    const runner = await startRunner({
      url: sim.url,
      token: sim.token,
      workspace,
      denoFlags: flags,
      args: ["--config", configPath],
    });
    try {
      const hb = await sim.waitFor<HeartbeatPayload>((e) => e.type === "heartbeat", 30_000);
      // the sys grants: every host fact is there
      expect(hb.payload.environment).toMatchObject({ workspace_root: workspace });
      expect(hb.payload.environment!.hostname).not.toBe("");
      expect(hb.payload.environment!.os_version).not.toBe("");
      expect(hb.payload.environment!.total_memory_mb).toBeGreaterThan(0);
      expect(hb.payload.environment!.home_dir).not.toBe("");

      const ok = async (op: string, args: unknown) => {
        const r = await sim.request(op, args, { timeoutMs: 60_000 });
        expect({ op, error: r.error }).toEqual({ op, error: undefined });
        return r.result as Record<string, unknown>;
      };
      await ok("write", { path: "logs/app.log", content: b64("start\nerror: disk full\nend\n") });
      expect(await ok("read", { path: "logs/app.log" })).toEqual({
        content: b64("start\nerror: disk full\nend\n"),
        total_size: 27,
      });
      expect((await ok("list", { path: ".", recursive: true })).entries).toHaveLength(2);
      expect(await ok("glob", { pattern: "**/*.log" })).toEqual({ matches: ["logs/app.log"] });
      // grep runs in a Worker: its module must be readable
      expect((await ok("grep", { pattern: "disk" })).content).toBe(
        "logs/app.log:2:error: disk full",
      );
      const piped = await ok("bash", { command: "cat logs/app.log | grep -c e" });
      expect(piped).toMatchObject({ stdout: "2\n", exit_code: 0 }); // "error" and "end"
      // restricted mode's `2>&1` is one pipe under the narrowed grants too (FFI pipe2):
      // each of cat's error lines comes between two copies, where cat wrote it
      const merged = await ok("bash", {
        command: "cat logs/app.log nope logs/app.log nope logs/app.log nope logs/app.log 2>&1",
      });
      const copy = "start\nerror: disk full\nend\n";
      const err = "cat: nope: No such file or directory\n";
      expect(merged.stdout).toBe([copy, copy, copy, copy].join(err));
      const uname = await ok("bash", { command: "uname -s" });
      expect(uname.stdout).toBe(`${Deno.build.os === "linux" ? "Linux" : "Darwin"}\n`);
      // a timed-out command's process group is stopped (Deno.kill cannot under a run list)
      const slept = await ok("bash", { command: "sleep 600", timeout: 1 });
      expect(slept).toMatchObject({
        exit_code: 124,
        stderr: expect.stringContaining("command timed out"),
      });
      // Refused by the first layer (command denied) or, were that layer broken, by the
      // second (rm is not in --allow-run: the spawn fails, exit 126). Either way, no rm.
      const rm = await sim.request("bash", { command: "rm -rf logs" });
      const refusedBy = rm.success === false && /^command denied/.test(rm.error ?? "")
        ? "first layer"
        : /Requires run access to "[^"]*\/rm"/.test(
            String((rm.result as { stderr?: string } | undefined)?.stderr),
          )
        ? "second layer"
        : JSON.stringify(rm);
      expect(["first layer", "second layer"]).toContain(refusedBy);
      expect(Deno.statSync(join(workspace, "logs/app.log")).isFile).toBe(true);
      const page = await ok("webfetch", { url: `http://127.0.0.1:${web.addr.port}/` });
      expect(page.content).toMatch(/# Hello/);
      const tools = await ok("mcp_list_tools", { server: stdioServer("sandboxed") });
      expect((tools.tools as { name: string }[]).map((t) => t.name)).toContain("echo");
      const echoed = await ok("mcp_call", {
        server: stdioServer("sandboxed"),
        tool_name: "echo",
        args: { text: "through the sandbox" },
      });
      expect(echoed.content).toBe("through the sandbox");
      const zip = buildZip({ entries: [{ name: "SKILL.md", content: "# demo\n" }] });
      const synced = await ok("sync_skill", {
        skill_name: "demo",
        skill_dir: "skills/demo",
        zip_data: btoa(String.fromCharCode(...zip)),
        checksum: "c1",
      });
      expect(synced).toMatchObject({ success: true });
      expect(await Deno.readTextFile(join(workspace, "skills/demo/SKILL.md"))).toBe("# demo\n");
    } finally {
      const code = await runner.stop();
      await web.shutdown();
      await sim.close();
      await Deno.remove(dir, { recursive: true });
      const logs = runner.logs();
      expect({ code, notCapable: logs.match(/.*(NotCapable|second sandbox layer).*/g) }).toEqual({
        code: 0,
        notCapable: null,
      });
    }
  },
});

Deno.test("sandboxed runner from a URL: --allow-import of its host is enough to load it and its worker", async () => {
  const server = serveDirectory(REPO);
  const sim = await PlatformSimulator.start();
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_remote_" }));
  const workspace = join(dir, "ws");
  await Deno.mkdir(workspace);
  const mainUrl = `${server.url}/main.ts`;
  const configPath = join(dir, "config.yaml");
  const yaml = 'permission:\n  bash:\n    "wc *": allow\n';
  await Deno.writeTextFile(configPath, yaml);
  const permissions = derivePermissions({
    config: parseConfig(yaml, configPath),
    workspace,
    configPath,
    platformUrl: sim.url,
    mainModule: mainUrl,
  });
  expect(permissions.import).toEqual([new URL(server.url).host]);
  expect(permissions.read).not.toContain(REPO.replace(/\/$/, "")); // no local source to read
  const runner = await startRunner({
    url: sim.url,
    token: sim.token,
    workspace,
    // as parentDenoFlags() passes on a `deno run --no-config -A <url>` launch
    denoFlags: ["--no-config", ...toDenoFlags(permissions)],
    mainUrl,
    args: ["--config", configPath],
  });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 60_000);
    const wrote = await sim.request("write", { path: "a.txt", content: b64("one\ntwo\n") });
    expect(wrote.success).toBe(true);
    const grep = await sim.request("grep", { pattern: "two" }, { timeoutMs: 60_000 });
    if (!grep.result) console.error(grep, runner.logs().slice(-3000));
    expect(grep.result).toMatchObject({ content: "a.txt:2:two" });
    const wc = await sim.request("bash", { command: "wc -l a.txt" });
    expect(wc).toMatchObject({ result: { stdout: "2 a.txt\n", exit_code: 0 } });
  } finally {
    const code = await runner.stop();
    await sim.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
    expect({ code, notCapable: runner.logs().match(/.*NotCapable.*/g) }).toEqual({
      code: 0,
      notCapable: null,
    });
  }
});
