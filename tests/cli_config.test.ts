import { expect } from "./deps.ts";
import { parseConfig } from "../lib/config.ts";
import { RuleSet } from "../lib/policy/rules.ts";
import { resolveSettings } from "../lib/settings.ts";
import { MAIN } from "./support/runner.ts";
import { buildCli, parseRunFlags, type RunCliFlags } from "../lib/cli.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    clearEnv: false,
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("config: rules keep file order, even for number-like patterns", () => {
  const c = parseConfig(
    `permission:\n  bash:\n    "*": deny\n    "10": allow\n    "ls *": allow\n`,
  );
  expect(c.permission.bash.map((r) => r.pattern)).toEqual(["*", "10", "ls *"]);
});

Deno.test("config: malformed files name the file, the line and the reason", () => {
  const cases: [string, RegExp][] = [
    [
      'permission:\n  bash:\n    "*": deny\n    "*": allow\n',
      /^config f\.yaml:4: Map keys must be unique/,
    ],
    ['permission:\n  bash:\n    "ls": maybe\n', /^config f\.yaml:3: .*unknown action "maybe"/],
    ["permission:\n  bash:\n    123: allow\n", /^config f\.yaml:3: .*must be a string/],
    ["permission: [\n", /^config f\.yaml:\d+: /],
    ["colour: blue\n", /^config f\.yaml:1: unknown key `colour`/],
    ["permission:\n  shell: {}\n", /^config f\.yaml:2: unknown permission section `shell`/],
    ["- a\n- b\n", /^config f\.yaml:1: the top level must be a map/],
  ];
  for (const [text, want] of cases) {
    expect(() => parseConfig(text, "f.yaml")).toThrow(want);
  }
});

Deno.test("config: the reference's keys are accepted", () => {
  const c = parseConfig(
    `api_key: "wnt_k"\napi_url: "wss://x/ws"\nname: n\nlabels: [a]\nworkspace_root: /w\nlog:\n  level: debug\n`,
  );
  expect([c.token, c.url, c.name, c.labels, c.workspace, c.logLevel]).toEqual([
    "wnt_k",
    "wss://x/ws",
    "n",
    ["a"],
    "/w",
    "debug",
  ]);
});

Deno.test("rules: last match wins, * spans spaces and slashes, `cmd *` matches bare cmd", () => {
  const rules = new RuleSet(
    parseConfig(
      `permission:\n  bash:\n    "*": deny\n    "kubectl get *": allow\n    "kubectl get secret*": deny\n    "uptime": allow\n`,
    ).permission.bash,
  );
  expect(rules.decide("kubectl get pods -n a/b").action).toBe("allow");
  expect(rules.decide("kubectl get").action).toBe("allow");
  expect(rules.decide("kubectl get secrets").action).toBe("deny");
  expect(rules.decide("kubectl get secrets").rule?.pattern).toBe("kubectl get secret*");
  expect(rules.decide("uptime").action).toBe("allow");
  expect(rules.decide("uptime -p").action).toBe("deny");
  expect(rules.decide("kubectl getx").action).toBe("deny");
  expect(new RuleSet([]).decide("ls").rule).toBeUndefined();
  expect(new RuleSet([{ pattern: "a.c", action: "allow" }]).decide("abc").action).toBe("deny");
});

Deno.test("settings: flags win over env, env over the config file", () => {
  const config = parseConfig(`api_key: from-file\napi_url: "wss://file/ws"\n`);
  const env = (n: string) =>
    ({ FLASHDUTY_RUNNER_TOKEN: "from-env", FLASHDUTY_RUNNER_URL: "wss://env/ws" })[n];
  const s = resolveSettings({ url: "ws://flag/ws" }, env, config);
  expect([s.token, s.url, s.logLevel, s.maxConcurrent, s.transport]).toEqual([
    "from-env",
    "ws://flag/ws",
    "info",
    16,
    "tcp",
  ]);
  expect(resolveSettings({}, () => undefined, config).token).toBe("from-file");
  expect(() => resolveSettings({}, () => undefined, parseConfig(""))).toThrow(/missing token/);
  expect(() => resolveSettings({ token: "t", url: "https://x" }, () => undefined, config)).toThrow(
    /wss:/,
  );
  expect(() => resolveSettings({ token: "t", logLevel: "loud" }, () => undefined, config)).toThrow(
    /unknown log level/,
  );
});

Deno.test("cli: a missing token is one line and exit code 2", async () => {
  const r = await cli(["run"], { FLASHDUTY_RUNNER_TOKEN: "" });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toEqual([
    "flashduty-runner: missing token: pass --token or set FLASHDUTY_RUNNER_TOKEN (or --token-file FILE)",
  ]);
});

Deno.test("cli: a malformed config stops start-up with file and line", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, 'permission:\n  bash:\n    "*": nope\n');
  const r = await cli(["run", "--token", "t", "--config", file]);
  await Deno.remove(file);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`config ${file}:3: permission.bash: pattern "*" has unknown action`);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
});

Deno.test("cli: version, and --help on every command", async () => {
  const v = await cli(["version"]);
  expect(v.code).toBe(0);
  expect(v.stdout).toMatch(
    /^flashduty-runner \d+\.\d+\.\d+ \(commit \S+, built \S+, deno \S+ \S+\/\S+\)\n$/,
  );
  expect((await cli(["--version"])).stdout).toBe(v.stdout);
  for (const args of [["--help"], ["run", "--help"], ["version", "--help"]]) {
    const r = await cli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: flashduty-runner");
  }
  const bad = await cli(["run", "--bogus"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("unknown option '--bogus'");
});

Deno.test("cli: check prints each sub-command's decision; exit 0 only if all would run", async () => {
  const example = new URL("../examples/readonly-linux.yaml", import.meta.url).pathname;
  const denied = await cli(["check", "--config", example, "--", "df -h | tail -n 5 && rm -rf /x"]);
  expect(denied.code).toBe(1);
  expect(denied.stdout).toMatch(/^allow +"df -h" +rule "df \*": allow$/m);
  expect(denied.stdout).toMatch(/^deny +"rm -rf \/x" +rule "\*": deny$/m);
  expect(denied.stdout).toMatch(/^result: denied$/m);
  const allowed = await cli(["check", "--config", example, "--", "uptime"]);
  expect(allowed.code).toBe(0);
  expect(allowed.stdout).toMatch(/^result: allowed$/m);
  const noRules = await cli(["check", "--", "ls"]);
  expect(noRules.code).toBe(1);
});

Deno.test("cli: check --lint flags an escape hatch; permissions prints derived flags", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, `permission:\n  bash:\n    "*": deny\n    "find *": allow\n`);
  try {
    const lint = await cli(["check", "--lint", "--config", file]);
    expect(lint.code).toBe(1);
    expect(lint.stdout).toMatch(/rule "find \*"/);
    const perms = await cli(["permissions", "--config", file, "--workspace", "/tmp/fdr-perm-ws"]);
    expect(perms.code).toBe(0);
    expect(perms.stdout).toMatch(/^--allow-write=\/tmp\/fdr-perm-ws$/m);
    expect(perms.stdout).toMatch(/^--allow-run=\S*\/find(,|$)/m);
    expect(perms.stdout).not.toMatch(/^--allow-all$/m);
  } finally {
    await Deno.remove(file);
  }
});

/** What commander hands `run`'s action for `args` (undefined: it did not call it). */
async function commanderRunFlags(args: string[]): Promise<RunCliFlags | undefined> {
  let got: RunCliFlags | undefined;
  const program = await buildCli((flags) => {
    got = { ...flags };
    return Promise.resolve();
  });
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch { /* commander refused it */ }
  return got;
}

Deno.test("cli: run's flags parsed without commander are exactly what commander makes of them", async () => {
  const fast: string[][] = [
    ["run"],
    ["run", "--config", "/etc/flashduty-runner/config.yaml"], // the systemd unit's
    [
      "run",
      "--url",
      "ws://127.0.0.1:1/ws",
      "--token",
      "wnt_x",
      "--workspace",
      "/w",
      "--config",
      "c.yaml",
      "--log-level",
      "debug",
    ], // the benchmarks'
    ["run", "--token=a=b", "--token-file", "f", "--log-format=json", "--max-concurrent-tasks", "4"],
    ["run", "--transport", "native", "--audit-log", "/var/log/a", "--metrics-addr", ":9464"],
    ["run", "--no-sandbox", "--workspace", "w", "--workspace", "last wins"],
    ["run", "--token="],
  ];
  const toCommander: string[][] = [
    ["run", "--help"],
    ["run", "-h"],
    ["run", "--bogus"],
    ["run", "--token"],
    ["run", "--token", "--url", "u"],
    ["run", "--workspace", "-w"],
    ["run", "extra"],
    ["run", "--", "--token", "t"],
    ["run", "--no-sandbox=1"],
    ["run", "--Token", "t"],
    ["check", "--", "ls"],
    ["--version"],
    [],
  ];
  for (const args of fast) {
    const flags = parseRunFlags(args);
    expect({ args, flags }).toEqual({ args, flags: expect.any(Object) });
    expect({ args, flags }).toEqual({ args, flags: await commanderRunFlags(args) });
  }
  for (const args of toCommander) expect({ args, flags: parseRunFlags(args) }).toEqual({ args });
  // and `run --workspace -w`: commander's own reading stands (whatever it is)
  expect(await commanderRunFlags(["run", "--workspace", "-w"])).toBeDefined();
});
