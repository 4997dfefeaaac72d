/**
 * The one program lookup (lib/proc/program_path.ts) and the three layers
 * that use it: a program planted in a workspace directory on PATH is never
 * chosen by the bash operation, the sandbox's --allow-run derivation, or a
 * stdio MCP launch (which used to do its own, unfiltered lookup).
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import { findProgram, searchPath } from "../lib/proc/program_path.ts";
import { runBash } from "../lib/bash/run.ts";
import { derivePermissions } from "../lib/sandbox/permissions.ts";
import { parseConfig, type Rule } from "../lib/config.ts";
import { mcp_call } from "../lib/operations/mcp_call.ts";
import { context } from "./bash_support.ts";
import { mcpFixture } from "./fixtures/mcp_context.ts";

async function plant(dir: string, name: string, marker: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  return path;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("searchPath: absolute, real, outside the workspace, no duplicates", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  try {
    const ws = join(root, "ws");
    await Deno.mkdir(join(ws, "bin"), { recursive: true });
    const link = join(root, "to-ws-bin");
    await Deno.symlink(join(ws, "bin"), link);
    const dirs = searchPath(`${ws}/bin:${link}:.:bin::/usr/bin:/usr/bin:/no/such/dir`, ws);
    expect(dirs).toEqual([await Deno.realPath("/usr/bin")]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("findProgram: a file reached through a symlink into the workspace is not chosen", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  try {
    const ws = join(root, "ws");
    const outside = join(root, "bin");
    await Deno.mkdir(ws);
    await Deno.mkdir(outside);
    const planted = await plant(ws, "tool", join(root, "ran"));
    await Deno.symlink(planted, join(outside, "tool"));
    expect(findProgram("tool", [outside], { workspaceRoot: ws })).toBeUndefined();
    const real = await plant(outside, "other", join(root, "ran"));
    expect(findProgram("other", [outside], { workspaceRoot: ws })).toBe(real);
    // a non-executable file and a directory are not programs
    await Deno.writeTextFile(join(outside, "plain"), "x", { mode: 0o644 });
    await Deno.mkdir(join(outside, "dir"));
    expect(findProgram("plain", [outside])).toBeUndefined();
    expect(findProgram("dir", [outside])).toBeUndefined();
    // a name with a slash is a path, resolved against cwd
    expect(findProgram("./x/y", [outside], { cwd: "/a" })).toBe("/a/x/y");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a program planted in a workspace directory on PATH is chosen by no layer", async () => {
  const rules: Rule[] = [
    { pattern: "*", action: "deny" },
    { pattern: "ls *", action: "allow" },
    { pattern: "planted-mcp *", action: "allow" },
  ];
  await using f = await mcpFixture({ bash: rules });
  const ws = f.workspace;
  const bin = join(ws.root, "bin");
  await Deno.mkdir(bin);
  const marker = join(ws.root, "PLANTED_RAN");
  await plant(bin, "ls", marker);
  await plant(bin, "planted-mcp", marker);
  const path = `${bin}:${Deno.env.get("PATH")}`;

  // 1. bash: `ls` runs the system's ls, not the planted one.
  const spawned: string[] = [];
  await runBash({ command: "ls" }, context(ws, rules), {
    env: { ...Deno.env.toObject(), PATH: path },
    onSpawn: (_argv, program) => spawned.push(program),
  });
  expect(spawned.length).toBe(1);
  expect(spawned[0].startsWith(ws.root)).toBe(false);

  // 2. sandbox: the --allow-run list never names a workspace file.
  const perms = derivePermissions({
    config: parseConfig(
      'permission:\n  bash:\n    "ls *": allow\n    "planted-mcp *": allow\n',
      "c.yaml",
    ),
    workspace: ws.root,
    platformUrl: "wss://platform.example/ws",
    path,
  });
  expect(Array.isArray(perms.run)).toBe(true);
  expect((perms.run as string[]).some((p) => p.startsWith(ws.root))).toBe(false);
  expect((perms.run as string[]).some((p) => p.endsWith("/ls"))).toBe(true);

  // 3. MCP: a stdio server named only by a workspace file is not found, so nothing starts.
  const saved = Deno.env.get("PATH");
  Deno.env.set("PATH", path);
  try {
    const server = { name: "planted", transport: "stdio", command: "planted-mcp", args: [] };
    await expect(mcp_call({ server, tool_name: "x" }, f.ctx)).rejects.toThrow(
      /command not found: "planted-mcp"/,
    );
  } finally {
    Deno.env.set("PATH", saved ?? "");
  }
  expect(await exists(marker)).toBe(false);
});

Deno.test("findProgram: the directories are found only for a bare name (a path needs no PATH)", () => {
  let asked = 0;
  const dirs = () => {
    asked++;
    return ["/usr/bin", "/bin"];
  };
  expect(findProgram("/usr/bin/env", dirs)).toBe("/usr/bin/env");
  expect(findProgram("./x", dirs, { cwd: "/tmp" })).toBe("/tmp/x");
  expect(asked).toBe(0);
  expect(findProgram("env", dirs)).toMatch(/\/env$/);
  expect(asked).toBe(1);
});
