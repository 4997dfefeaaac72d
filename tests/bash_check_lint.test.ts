/** `check` (what the runner would decide) and `check --lint` (allow rules that admit an escape hatch). */
import { expect } from "./deps.ts";
import { loadConfig, parseConfig, type Rule, type RunnerConfig } from "../lib/config.ts";
import { checkCommand } from "../lib/bash/check.ts";
import { lintConfig } from "../lib/policy/lint.ts";

const config = (rules: Rule[]): RunnerConfig => ({ permission: { bash: rules } });
const allow = (...patterns: string[]): Rule[] => [
  { pattern: "*", action: "deny" },
  ...patterns.map((pattern) => ({ pattern, action: "allow" as const })),
];
const EXAMPLES = new URL("../examples/", import.meta.url).pathname;

Deno.test("check: each sub-command with its decision and rule; ok only if all are allowed", () => {
  const c = config([...allow("df *", "tail *", "ls *"), { pattern: "rm *", action: "deny" }]);
  const denied = checkCommand(c, "df -h | tail -n 5 && rm -rf /x; ls", { env: {}, cwd: "/" });
  expect(denied.ok).toBe(false);
  expect(denied.text).toBe(
    "restricted mode: the runner runs each checked sub-command itself, without a shell\n" +
      'allow  "df -h"  rule "df *": allow\n' +
      'allow  "tail -n 5"  rule "tail *": allow\n' +
      'deny   "rm -rf /x"  rule "rm *": deny\n' +
      'allow  "ls"  rule "ls *": allow\n' +
      "result: denied\n",
  );
  const ok = checkCommand(c, "df -h | tail -n 5", { env: {}, cwd: "/" });
  expect(ok.ok).toBe(true);
  expect(ok.text.endsWith("result: allowed\n")).toBe(true);
});

Deno.test("check: unsupported syntax, refused assignments, no rules, trusted mode", () => {
  const c = config(allow("echo *", "ls *"));
  const sub = checkCommand(c, "echo $(id)", { env: {}, cwd: "/" });
  expect(sub.ok).toBe(false);
  expect(sub.text).toContain('deny   "id"  rule "*": deny'); // the substitution's program is checked too
  const unsupported = checkCommand(c, "echo a & ls", { env: {}, cwd: "/" });
  expect(unsupported.text).toContain("deny   command denied: unsupported shell syntax: background");
  const ld = checkCommand(c, "LD_PRELOAD=x.so ls", { env: {}, cwd: "/" });
  expect(ld.ok).toBe(false);
  expect(ld.text).toContain(
    'deny   "LD_PRELOAD=x.so ls"  assigning LD_PRELOAD is refused in restricted mode',
  );
  expect(checkCommand(config([]), "ls", { env: {}, cwd: "/" }).text)
    .toContain("no permission.bash rules: every command is denied");
  const trusted = checkCommand(
    config([{ pattern: "*", action: "allow" }, { pattern: "rm *", action: "deny" }]),
    "for f in a; do echo $(rm -rf /x); done",
    { env: {}, cwd: "/" },
  );
  expect(trusted.ok).toBe(false);
  expect(trusted.text).toContain("not a security boundary");
  expect(trusted.text).toContain('deny   "rm -rf /x"  rule "rm *": deny');
});

Deno.test("check: words known only at run time are decided then; literal words now", () => {
  const r = checkCommand(
    config(allow("cat *")),
    "cat $D/*.log; cat x; for f in *; do wc $f; done",
    {
      env: { D: "/tmp" },
      cwd: "/",
    },
  );
  expect(r.text).toContain('allow  "cat x"');
  expect(r.text).toContain("later  cat $D/*.log: decided at run time");
  expect(r.text).toContain("later  wc $f: decided at run time");
  expect(r.ok).toBe(true); // nothing statically denied; the gate decides `wc` when it starts
  const x = checkCommand(config(allow("ls *")), "ls | xargs rm", { env: {}, cwd: "/" });
  expect(x.text).toContain("later  xargs rm: xargs builds each command from its input");
});

/** Every escape hatch the issue lists, as an allow rule; each must draw a warning. */
const HATCH_RULES: [string, string][] = [
  ["awk *", "awk"],
  ["gawk *", "gawk"],
  ["find *", "find"],
  ["find /var/log -name *", "find"],
  ["xargs *", "xargs"],
  ["env *", "env"],
  ["nice *", "nice"],
  ["timeout *", "timeout"],
  ["sudo *", "sudo"],
  ["su *", "su"],
  ["sh *", "sh"],
  ["bash *", "bash"],
  ["bash -c *", "bash"],
  ["less *", "less"],
  ["more *", "more"],
  ["man *", "man"],
  ["vim *", "vim"],
  ["tar *", "tar"],
  ["git *", "git"],
  ["git log *", "git"],
  ["kubectl *", "kubectl"],
  ["kubectl exec *", "kubectl"],
  ["docker *", "docker"],
  ["docker run *", "docker"],
  ["python3 *", "python3"],
  ["python -c *", "python"],
  ["perl *", "perl"],
  ["curl *", "curl"],
  ["wget *", "wget"],
  ["sed *", "sed"],
  ["sort *", "sort"],
  ["tee *", "tee"],
  ["/usr/bin/find *", "find"],
];

Deno.test("lint: every listed escape hatch is caught, with its rule and a suggested deny rule", () => {
  for (const [pattern, program] of HATCH_RULES) {
    const { warnings, text } = lintConfig(config(allow(pattern)));
    expect({ pattern, n: warnings.length > 0 }).toEqual({ pattern, n: true });
    const w = warnings.find((x) => x.rule === pattern)!;
    expect(w.program).toBe(program);
    expect(w.why.length).toBeGreaterThan(10);
    expect(w.suggest).toMatch(/: deny/);
    expect(text).toContain(`warning: rule ${JSON.stringify(pattern)}`);
  }
});

Deno.test("lint: a deny rule that covers the hatch silences the warning; safe rules draw none", () => {
  const covered = [
    ...allow("find *"),
    ...["find *-exec*", "find *-ok*", "find *-delete*", "find *-fprint*", "find *-fls*"]
      .map((pattern) => ({ pattern, action: "deny" as const })),
  ];
  expect(lintConfig(config(covered)).warnings).toEqual([]);
  // one missing carve-out is enough to warn
  expect(lintConfig(config(covered.slice(0, -1))).warnings.map((w) => w.why).join())
    .toContain('admits "find . -fls /etc/x"');
  expect(lintConfig(config(allow("ls *", "cat *", "grep *", "kubectl get pods", "env"))).warnings)
    .toEqual([]);
  // a hatch the rule's own words cannot reach is no warning: `kubectl get *` never execs
  expect(lintConfig(config(allow("kubectl get *"))).warnings.map((w) => w.why).join())
    .not.toContain("exec pod");
});

Deno.test("lint: the suggested deny rules, once added, silence the warning", () => {
  for (const [pattern] of HATCH_RULES) {
    const first = lintConfig(config(allow(pattern))).warnings.filter((w) => w.rule === pattern);
    const denies = first.flatMap((w) =>
      w.suggest.split(", ").map((s) => JSON.parse(s.replace(/: deny$/, "")))
    );
    const fixed = [
      ...allow(pattern),
      ...denies.map((p: string) => ({ pattern: p, action: "deny" as const })),
    ];
    expect({ pattern, left: lintConfig(config(fixed)).warnings.filter((w) => w.rule === pattern) })
      .toEqual({ pattern, left: [] });
  }
});

Deno.test("lint: trusted mode and deny rules overridden by a later allow are flagged", () => {
  const trusted = lintConfig(
    config([{ pattern: "*", action: "allow" }, { pattern: "rm *", action: "deny" }]),
  );
  expect(trusted.warnings.map((w) => w.rule)).toEqual(["*"]);
  expect(trusted.warnings[0].why).toContain("not a security boundary");
  const shadowed = lintConfig(
    config([{ pattern: "rm *", action: "deny" }, { pattern: "*", action: "allow" }]),
  );
  expect(shadowed.warnings.map((w) => w.rule)).toEqual(["*", "rm *"]);
  expect(shadowed.warnings[1].why).toContain('overridden by the later rule "*"');
});

Deno.test("lint: the read-only example configs lint clean; the trusted one says what it is", async () => {
  for (const f of ["readonly-linux.yaml", "readonly-kubernetes.yaml"]) {
    const r = lintConfig(await loadConfig(EXAMPLES + f));
    expect({ f, warnings: r.warnings }).toEqual({ f, warnings: [] });
    expect(r.text).toBe("lint: no warnings\n");
  }
  const t = lintConfig(await loadConfig(EXAMPLES + "trusted.yaml"));
  expect(t.warnings.map((w) => w.rule)).toEqual(["*"]);
});

Deno.test("the example configs do what they say", async () => {
  const linux = await loadConfig(EXAMPLES + "readonly-linux.yaml");
  const k8s = await loadConfig(EXAMPLES + "readonly-kubernetes.yaml");
  const trusted = await loadConfig(EXAMPLES + "trusted.yaml");
  const ok = (c: RunnerConfig, cmd: string) => checkCommand(c, cmd, { env: {}, cwd: "/" }).ok;
  expect(ok(linux, "df -h | tail -n 5")).toBe(true);
  expect(ok(linux, "journalctl -u nginx --since today | grep -i error | head -n 50")).toBe(true);
  expect(ok(linux, "ps aux | grep nginx")).toBe(true);
  expect(ok(linux, "rm -rf /tmp/x")).toBe(false);
  expect(ok(linux, "find / -name x -exec rm {} +")).toBe(false);
  expect(ok(linux, "journalctl --vacuum-size=1")).toBe(false);
  expect(ok(k8s, "kubectl get pods -A | grep -v Running")).toBe(true);
  expect(ok(k8s, "kubectl logs deploy/api --tail=100")).toBe(true);
  expect(ok(k8s, "kubectl get secrets -o yaml")).toBe(false);
  expect(ok(k8s, "kubectl exec -it pod -- sh")).toBe(false);
  expect(ok(k8s, "kubectl get pods --kubeconfig=./k.yaml")).toBe(false);
  expect(ok(trusted, "for i in 1 2; do echo $i; done")).toBe(true);
  expect(ok(trusted, "echo $(mkfs.ext4 /dev/sda)")).toBe(false);
  expect(trusted.permission.bash[0]).toEqual({ pattern: "*", action: "allow" });
  // every example parses as a config (unknown keys would be an error)
  expect(() => parseConfig(Deno.readTextFileSync(EXAMPLES + "trusted.yaml"))).not.toThrow();
});
