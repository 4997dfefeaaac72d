/**
 * lib/sandbox/permissions.ts: the flags derived from each example config and
 * from edge cases, against a PATH of stand-in programs made per test so the
 * expected lists do not depend on what this machine has installed.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { loadConfig, parseConfig, type RunnerConfig } from "../lib/config.ts";
import {
  derivePermissions,
  describePermissions,
  METADATA_HOSTS,
  PermissionError,
  RUNNER_ENV,
  RUNNER_SYS,
  toDenoFlags,
} from "../lib/sandbox/permissions.ts";
import { MCP_STDIO_ENV } from "../lib/mcp/sandbox_needs.ts";
import { kernelLayerText, permissionsText } from "../lib/sandbox/supervisor.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";
import { libcPath } from "../lib/sys/libc.ts";

const EXAMPLES = new URL("../examples/", import.meta.url).pathname;
const PLATFORM = "wss://api.flashcat.cloud/safari/worknode/ws";
const SYS = `--allow-sys=${RUNNER_SYS.join(",")}`;
const DENY_NET = `--deny-net=${METADATA_HOSTS.join(",")}`;
/** libc, for prctl(PR_SET_DUMPABLE): the only native library the runner opens */
const FFI = libcPath() ? [`--allow-ffi=${libcPath()}`] : [];

interface Fixture extends AsyncDisposable {
  dir: string;
  workspace: string;
  bin: string;
  /** a stand-in executable in `bin` (or `dir`) */
  program(name: string, dir?: string): Promise<string>;
}

async function fixture(programs: string[] = []): Promise<Fixture> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_perms_" }));
  const workspace = join(dir, "ws");
  const bin = join(dir, "bin");
  await Deno.mkdir(workspace);
  await Deno.mkdir(bin);
  const program = async (name: string, where = bin) => {
    const path = join(where, name);
    await Deno.writeTextFile(path, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.chmod(path, 0o755);
    return path;
  };
  for (const p of programs) await program(p);
  return {
    dir,
    workspace,
    bin,
    program,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The program words of a config's allow rules, in order, as the derivation reads them. */
function programWords(config: RunnerConfig): string[] {
  const words = config.permission.bash.filter((r) => r.action === "allow")
    .map((r) => r.pattern.trim().split(/\s+/)[0])
    .filter((w) => w !== "*" && w !== "cd");
  return [...new Set(words)];
}

/** An example config's derivation, with stand-ins for its programs (and `extra`) on PATH. */
async function example(name: string, extra: string[]) {
  const configPath = join(EXAMPLES, name);
  const config = await loadConfig(configPath);
  const words = programWords(config);
  const f = await fixture([...words, ...extra]);
  const p = derivePermissions({
    config,
    workspace: f.workspace,
    configPath,
    platformUrl: PLATFORM,
    path: f.bin,
  });
  return { f, p, words, configPath };
}

Deno.test("readonly-kubernetes example: kubectl and the output helpers, plus kill and ps", async () => {
  const { f: fx, p, configPath } = await example("readonly-kubernetes.yaml", ["kill", "ps"]);
  await using f = fx;
  const bin = (n: string) => join(f.bin, n);
  expect(toDenoFlags(p)).toEqual([
    `--allow-read=${f.workspace},${configPath},${f.bin}`,
    `--allow-write=${f.workspace}`,
    `--allow-run=${
      [
        "kubectl",
        "grep",
        "head",
        "tail",
        "wc",
        "cut",
        "tr",
        "column",
        "jq",
        "echo",
        "sort",
        "uniq",
        "awk",
        "kill",
        "ps",
      ].map(bin).join(",")
    }`,
    "--allow-net",
    DENY_NET,
    "--allow-env",
    SYS,
    ...FFI,
    "--no-prompt",
  ]);
  expect(p.notes.join("\n")).toMatch(/--allow-net is unscoped: permission.webfetch has no rules/);
  expect(p.notes.join("\n")).toMatch(/--allow-env is unscoped: commands and stdio MCP servers/);
});

Deno.test("readonly-linux example: every named program, `cd` (done by the runner) excluded", async () => {
  const { f: fx, p, words, configPath } = await example("readonly-linux.yaml", ["kill"]);
  await using f = fx;
  expect(words).toContain("journalctl");
  expect(words).toContain("ps");
  // ps is both a rule's program and a helper: listed once, where the rule put it.
  expect(p.run).toEqual([...words, "kill"].map((n) => join(f.bin, n)));
  expect(toDenoFlags(p)).toEqual([
    `--allow-read=${f.workspace},${configPath},${f.bin}`,
    `--allow-write=${f.workspace}`,
    `--allow-run=${(p.run as string[]).join(",")}`,
    "--allow-net",
    DENY_NET,
    "--allow-env",
    SYS,
    ...FFI,
    "--no-prompt",
  ]);
  expect(p.notes.join("\n")).not.toMatch(/"cd/);
});

Deno.test("trusted example: --allow-run is unscoped, and says why", async () => {
  const { f: fx, p, configPath } = await example("trusted.yaml", ["kill", "ps"]);
  await using f = fx;
  expect(toDenoFlags(p)).toEqual([
    `--allow-read=${f.workspace},${configPath},${f.bin}`,
    `--allow-write=${f.workspace}`,
    "--allow-run",
    "--allow-net",
    DENY_NET,
    "--allow-env",
    SYS,
    ...FFI,
    "--no-prompt",
  ]);
  expect(p.notes[0]).toMatch(/--allow-run is unscoped: permission.bash is trusted/);
});

Deno.test("no programs and no webfetch: net is the platform alone, env only the names read", async () => {
  await using f = await fixture(["ls"]);
  const config = parseConfig(
    'permission:\n  bash:\n    "*": deny\n  webfetch:\n    "*": deny\n',
    "c.yaml",
  );
  const p = derivePermissions({
    config,
    workspace: f.workspace,
    platformUrl: "ws://127.0.0.1:8080/ws",
    path: f.bin,
  });
  expect(toDenoFlags(p)).toEqual([
    `--allow-read=${f.workspace}`,
    `--allow-write=${f.workspace}`,
    "--allow-net=127.0.0.1:8080",
    `--allow-env=${[...Object.keys(RUNNER_ENV), ...Object.keys(MCP_STDIO_ENV)].join(",")}`,
    SYS,
    ...FFI,
    "--no-prompt",
  ]);
  expect(p.notes.filter((n) => !n.startsWith("--allow-ffi="))).toEqual([]);
  // the default ports
  const wss = derivePermissions({ config, workspace: f.workspace, platformUrl: PLATFORM });
  expect(wss.net).toEqual(["api.flashcat.cloud:443"]);
});

Deno.test("a webfetch allow rule makes net unscoped; naming a metadata host lifts its deny", async () => {
  await using f = await fixture();
  const config = parseConfig(
    'permission:\n  webfetch:\n    "https://api.github.com/*": allow\n' +
      '    "http://169.254.169.254/latest/*": allow\n    "http://[fd00:ec2::254]/*": allow\n',
    "c.yaml",
  );
  const p = derivePermissions({ config, workspace: f.workspace, platformUrl: PLATFORM });
  expect(p.net).toBe("all");
  expect(p.denyNet).toEqual(
    METADATA_HOSTS.filter((h) => h !== "169.254.169.254" && h !== "[fd00:ec2::254]"),
  );
  expect(p.notes.join("\n")).toMatch(/pinned against DNS rebinding/);
  expect(p.notes.join("\n")).toMatch(/names a cloud metadata host/);
  // A wildcard host names nothing: the deny stays.
  const wild = derivePermissions({
    config: parseConfig('permission:\n  webfetch:\n    "http://*/*": allow\n', "c.yaml"),
    workspace: f.workspace,
    platformUrl: PLATFORM,
  });
  expect(wild.denyNet).toEqual(METADATA_HOSTS);
});

Deno.test("programs: deny-only, wildcard, missing, path and assignment forms", async () => {
  await using f = await fixture(["kubectl", "kill", "ps"]);
  const derive = (yaml: string) =>
    derivePermissions({
      config: parseConfig(yaml, "c.yaml"),
      workspace: f.workspace,
      platformUrl: PLATFORM,
      path: f.bin,
    });
  // a program only a deny rule names is not runnable
  expect(derive('permission:\n  bash:\n    "kubectl *": deny\n').run).toEqual([]);
  // a later deny narrows the rules, not the run list
  expect(derive('permission:\n  bash:\n    "kubectl *": allow\n    "kubectl delete *": deny\n').run)
    .toEqual(["kubectl", "kill", "ps"].map((n) => join(f.bin, n)));
  // a wildcard program word cannot be listed
  const wild = derive('permission:\n  bash:\n    "kube* get *": allow\n');
  expect(wild.run).toBe("all");
  expect(wild.notes[0]).toMatch(/names its program with a wildcard/);
  // a program not on PATH is left out, with a note
  const missing = derive('permission:\n  bash:\n    "nosuchtool *": allow\n');
  expect(missing.run).toEqual([]);
  expect(missing.notes[0]).toMatch(/names "nosuchtool", which is not an executable file on PATH/);
  // an absolute path as written; NAME=value before the program skipped
  const tool = await f.program("tool", f.dir);
  const abs = derive(`permission:\n  bash:\n    "LANG=C ${tool} *": allow\n`);
  expect(abs.run).toEqual([tool, join(f.bin, "kill"), join(f.bin, "ps")]);
  // a shell among the programs is flagged: what it starts is not confined
  await f.program("bash");
  expect(derive('permission:\n  bash:\n    "bash -c *": allow\n').notes.join("\n"))
    .toMatch(/starts a shell or launcher/);
});

Deno.test("PATH: a directory inside the workspace is never searched; a symlinked one by its real path", async () => {
  await using f = await fixture(["ls", "kill", "ps"]);
  const planted = join(f.workspace, "bin");
  await Deno.mkdir(planted);
  await f.program("ls", planted);
  const link = join(f.dir, "linkbin");
  await Deno.symlink(f.bin, link);
  const p = derivePermissions({
    config: parseConfig('permission:\n  bash:\n    "ls *": allow\n', "c.yaml"),
    workspace: f.workspace,
    platformUrl: PLATFORM,
    path: [planted, link].join(":"),
  });
  // One lookup (lib/proc/program_path.ts) for the bash operation and stdio MCP servers
  // alike: real directories, the workspace skipped, so the planted ls is never granted.
  expect(p.run).toEqual([join(f.bin, "ls"), join(f.bin, "kill"), join(f.bin, "ps")]);
  expect((p.run as string[]).some((r) => r.startsWith(f.workspace))).toBe(false);
  expect(p.read).toEqual([f.workspace, f.bin]);
});

Deno.test("main module: a local one's lib/ is readable (not its directory), a remote one importable", async () => {
  await using f = await fixture();
  const config = parseConfig("", "c.yaml");
  const source = join(f.dir, "src");
  await Deno.mkdir(join(source, "lib"), { recursive: true });
  const local = derivePermissions({
    config,
    workspace: f.workspace,
    platformUrl: PLATFORM,
    mainModule: `file://${source}/main.ts`,
  });
  expect(local.read).toEqual([f.workspace, join(source, "lib")]);
  expect(local.import).toEqual([]);
  // a main module with no lib/ beside it gets nothing more
  const bare = derivePermissions({
    config,
    workspace: f.workspace,
    platformUrl: PLATFORM,
    mainModule: `file://${f.dir}/main.ts`,
  });
  expect(bare.read).toEqual([f.workspace]);
  const remote = derivePermissions({
    config,
    workspace: f.workspace,
    platformUrl: PLATFORM,
    mainModule: "https://example.com:8443/flashduty-runner/main.ts",
  });
  expect(remote.read).toEqual([f.workspace]);
  expect(toDenoFlags(remote)).toContain("--allow-import=example.com:8443");
});

Deno.test("a workspace reached through a symlink is granted by both paths", async () => {
  await using f = await fixture();
  const link = join(f.dir, "wslink");
  await Deno.symlink(f.workspace, link);
  const p = derivePermissions({
    config: parseConfig("", "c.yaml"),
    workspace: link,
    platformUrl: PLATFORM,
  });
  expect(p.read).toEqual([link, f.workspace]);
  expect(p.write).toEqual([link, f.workspace]);
});

Deno.test("what Deno's flag syntax cannot say is refused, not mangled", async () => {
  await using f = await fixture();
  const comma = join(f.dir, "a,b");
  await Deno.mkdir(comma);
  expect(() =>
    derivePermissions({
      config: parseConfig("", "c.yaml"),
      workspace: comma,
      platformUrl: PLATFORM,
    })
  ).toThrow(PermissionError);
  expect(() =>
    derivePermissions({
      config: parseConfig("", "c.yaml"),
      workspace: f.workspace,
      platformUrl: "https://not-a-websocket.example/",
    })
  ).toThrow(/must be ws:\/\/ or wss:\/\//);
});

Deno.test("permissions text: the flags one per line, then each note as a comment", async () => {
  await using f = await fixture();
  const configPath = join(EXAMPLES, "trusted.yaml");
  const config = await loadConfig(configPath);
  const text = permissionsText({
    config,
    configPath,
    workspace: f.workspace,
    platformUrl: PLATFORM,
  });
  const lines = text.trimEnd().split("\n");
  const flags = lines.filter((l) => !l.startsWith("# "));
  const derived = derivePermissions({
    config,
    configPath,
    workspace: f.workspace,
    platformUrl: PLATFORM,
    mainModule: Deno.mainModule,
  });
  expect(flags).toEqual(toDenoFlags(derived));
  const kernel = kernelLayerText({ config, workspace: f.workspace });
  expect(lines.filter((l) => l.startsWith("# "))).toEqual([
    ...derived.notes.map((n) => `# ${n}`),
    ...kernel,
  ]);
  expect(describePermissions(derived) + kernel.join("\n") + "\n").toBe(text);
  // what the kernel layer does here: trusted rules leave execution unconfined, not writes
  expect(kernel.join("\n")).toMatch(
    probeLandlock().available
      ? /kernel layer \(Landlock\) writes beneath: \S+ \/dev\/null[^]*execution: not confined/
      : /kernel layer \(Landlock\): unavailable on this host/,
  );
});
