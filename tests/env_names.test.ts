/**
 * The one rule for platform-supplied environment names (lib/proc/child_env.ts),
 * held against tests/redteam/env_names.json through every layer that uses
 * it: the `NAME=value` prefix of a restricted bash command, and a stdio MCP
 * server's `env`. Plus the attack that found the gap (issue 12): an allowed
 * perl / node server made to load code the model wrote into the workspace.
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import type { Rule } from "../lib/config.ts";
import { childEnv, refusedEnvName } from "../lib/proc/child_env.ts";
import { RUNNER_V8_FLAGS } from "../lib/sandbox/v8_flags.ts";
import { runBash } from "../lib/bash/run.ts";
import { mcp_call } from "../lib/operations/mcp_call.ts";
import { context, withWorkspace } from "./bash_support.ts";
import { mcpFixture, stdioServer } from "./fixtures/mcp_context.ts";

const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/env_names.json", import.meta.url)),
) as { refused: Record<string, string[]>; allowed: string[] };
const REFUSED = Object.values(corpus.refused).flat();
/** Names a shell can write as `NAME=value` (the others never parse as assignments). */
const plain = (n: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n);

Deno.test("env names: the corpus covers every family, and the rule refuses each name", () => {
  expect(REFUSED.length).toBeGreaterThanOrEqual(60);
  const missed = REFUSED.filter((n) => refusedEnvName(n) === undefined);
  expect(missed).toEqual([]);
  const wronglyRefused = corpus.allowed.filter((n) => refusedEnvName(n) !== undefined);
  expect(wronglyRefused).toEqual([]);
});

Deno.test("env names: a restricted bash command's NAME=value prefix, through the bash operation", async () => {
  const rules: Rule[] = [
    { pattern: "*", action: "deny" },
    { pattern: "*=* printf *", action: "allow" },
  ];
  await withWorkspace(async (ws) => {
    const ctx = context(ws, rules);
    for (const name of REFUSED.filter(plain)) {
      await expect(runBash({ command: `${name}=x printf ok` }, ctx)).rejects.toThrow(
        new RegExp(`^command denied: .*assigning ${name} is refused`),
      );
    }
    for (const name of corpus.allowed) {
      const r = await runBash({ command: `${name}=x printf ok` }, ctx);
      expect(r.stdout).toBe("ok");
    }
  });
});

Deno.test("env names: a stdio MCP server's env, through the MCP operation", async () => {
  await using f = await mcpFixture();
  for (const name of REFUSED) {
    const server = stdioServer("env-" + name.replace(/\W/g, "_"), "env", { [name]: "x" });
    await expect(mcp_call({ server, tool_name: "echo" }, f.ctx)).rejects.toThrow(
      new RegExp(`^command denied: env ${name.replace(/[^\w]/g, "\\$&")} of the stdio MCP server`),
    );
  }
  expect(f.pool.sessions().every((s) => s.pid === undefined)).toBe(true);
  // Every allowed name reaches the server, in one launch.
  const env = Object.fromEntries(corpus.allowed.map((n) => [n, `v_${n}`]));
  const server = stdioServer("allowed-env", "env", env);
  for (const name of corpus.allowed) {
    const r = await mcp_call({ server, tool_name: "env", args: { name } }, f.ctx);
    expect((r as { content: string }).content).toBe(`v_${name}`);
  }
});

Deno.test("env: the runner's own DENO_V8_FLAGS (set by its supervisor) is kept from programs; an operator's is passed on", () => {
  const before = Deno.env.get("DENO_V8_FLAGS");
  try {
    Deno.env.set("DENO_V8_FLAGS", RUNNER_V8_FLAGS);
    expect(childEnv()).not.toHaveProperty("DENO_V8_FLAGS");
    Deno.env.set("DENO_V8_FLAGS", "--max-old-space-size=512");
    expect(childEnv().DENO_V8_FLAGS).toBe("--max-old-space-size=512");
  } finally {
    if (before === undefined) Deno.env.delete("DENO_V8_FLAGS");
    else Deno.env.set("DENO_V8_FLAGS", before);
  }
});

Deno.test("env: every inherited FLASHDUTY_* name is kept from commands and MCP servers, any case", async () => {
  const names = ["FLASHDUTY_RUNNER_TOKEN", "FLASHDUTY_PLATFORM_SECRET", "flashduty_lower"];
  for (const n of names) Deno.env.set(n, "secret_" + n);
  try {
    const env = childEnv({ EXTRA: "1" });
    expect(Object.keys(env).filter((k) => /^flashduty_/i.test(k))).toEqual([]);
    expect(env.EXTRA).toBe("1");
    await withWorkspace(async (ws) => {
      const r = await runBash(
        { command: "env" },
        context(ws, [{ pattern: "*", action: "deny" }, { pattern: "env", action: "allow" }]),
      );
      // the one FLASHDUTY_ name a command sees is its task's own marker (lib/proc/task_marker.ts)
      expect(r.stdout).toMatch(/^FLASHDUTY_TASK_MARKER=[0-9a-f-]{36}$/m);
      expect(r.stdout.replace(/^FLASHDUTY_TASK_MARKER=.*$/m, "")).not.toMatch(/flashduty/i);
    });
    // The drift this module removed: MCP servers used to get FLASHDUTY_PLATFORM_SECRET.
    await using f = await mcpFixture();
    const server = stdioServer("private", "env");
    for (const name of names) {
      const r = await mcp_call({ server, tool_name: "env", args: { name } }, f.ctx);
      expect((r as { content: string }).content).toBe("<unset>");
    }
  } finally {
    for (const n of names) Deno.env.delete(n);
  }
});

/** Where an interpreter is, or undefined (the attack test is skipped without it). */
function which(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(join(dir, program)).isFile) return join(dir, program);
    } catch {
      // not here
    }
  }
  return undefined;
}

const PERL = which("perl");
const NODE = which("node");

/**
 * Launches `server` as a stdio MCP server under `rules`; the "server" is a
 * plain interpreter run that does not speak MCP, so the launch itself fails
 * either way: what matters is whether the planted code ran (the marker).
 */
async function launch(rules: Rule[], server: ReturnType<typeof stdioServer>) {
  await using f = await mcpFixture({ bash: rules });
  const err = await mcp_call({ server, tool_name: "x" }, f.ctx).then(() => undefined, (e) => e);
  return { err: err as Error | undefined, root: f.workspace.root };
}

Deno.test({
  name:
    "attack: PERLLIB / PERL5LIB make an allowed perl MCP server load a workspace module: refused",
  ignore: PERL === undefined,
  fn: async () => {
    for (const variable of ["PERLLIB", "PERL5LIB"]) {
      const dir = await Deno.makeTempDir();
      try {
        const marker = join(dir, "PWNED");
        // what the model would have written with `write`: a module shadowing a standard one
        await Deno.mkdir(join(dir, "Data"));
        await Deno.writeTextFile(
          join(dir, "Data", "Dumper.pm"),
          `open(my $f, ">", "${marker}"); print $f "ran"; close $f; 1;\n`,
        );
        const server = {
          name: "perl-" + variable,
          transport: "stdio",
          command: PERL!,
          args: ["-MData::Dumper", "-e", "1"],
          env: { [variable]: dir },
        };
        const allowPerl: Rule[] = [{ pattern: `${PERL} -MData::Dumper *`, action: "allow" }];
        const refused = await launch(allowPerl, server);
        expect(refused.err?.message).toMatch(
          new RegExp(`^command denied: env ${variable} of the stdio MCP server is refused`),
        );
        expect(await exists(marker)).toBe(false);
        // The same launch under trusted rules (where env is not checked) shows the attack is real.
        await launch([{ pattern: "*", action: "allow" }], server);
        expect(await exists(marker)).toBe(true);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "attack: NODE_OPTIONS / NODE_V8_COVERAGE on an allowed node MCP server: refused",
  ignore: NODE === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const marker = join(dir, "PWNED");
      const coverage = join(dir, "coverage");
      await Deno.writeTextFile(
        join(dir, "evil.js"),
        `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`,
      );
      const allowNode: Rule[] = [{ pattern: `${NODE} -e *`, action: "allow" }];
      const options = {
        name: "node-options",
        transport: "stdio",
        command: NODE!,
        args: ["-e", "0"],
        env: { NODE_OPTIONS: `--require ${join(dir, "evil.js")}` },
      };
      expect((await launch(allowNode, options)).err?.message).toMatch(
        /^command denied: env NODE_OPTIONS of the stdio MCP server is refused/,
      );
      const v8 = { ...options, name: "node-coverage", env: { NODE_V8_COVERAGE: coverage } };
      expect((await launch(allowNode, v8)).err?.message).toMatch(
        /^command denied: env NODE_V8_COVERAGE of the stdio MCP server is refused/,
      );
      expect(await exists(marker)).toBe(false);
      expect(await exists(coverage)).toBe(false);
      // With the env check off (trusted rules), both take effect.
      const trusted: Rule[] = [{ pattern: "*", action: "allow" }];
      await launch(trusted, options);
      await launch(trusted, v8);
      expect(await exists(marker)).toBe(true);
      expect(await exists(coverage)).toBe(true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("env: once frozen (the runner at start), programs get that environment, filtered as before", async () => {
  const script = `
    import { childEnv, freezeChildEnv } from ${
    JSON.stringify(new URL("../lib/proc/child_env.ts", import.meta.url).href)
  };
    Deno.env.set("BEFORE_FREEZE", "1");
    Deno.env.set("FLASHDUTY_RUNNER_TOKEN", "secret");
    freezeChildEnv();
    Deno.env.set("AFTER_FREEZE", "1");
    Deno.env.delete("BEFORE_FREEZE");
    const env = childEnv({ EXTRA: "x", PATH: "/override" });
    console.log(JSON.stringify({
      before: env.BEFORE_FREEZE, after: env.AFTER_FREEZE ?? null, extra: env.EXTRA, path: env.PATH,
      flashduty: Object.keys(env).filter((k) => /^flashduty_/i.test(k)),
    }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    env: { PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  expect(new TextDecoder().decode(out.stderr)).toBe("");
  expect(JSON.parse(new TextDecoder().decode(out.stdout))).toEqual({
    before: "1",
    after: null,
    extra: "x",
    path: "/override",
    flashduty: [],
  });
});
