import { refusedEnvName } from "../lib/proc/child_env.ts";
import { expect } from "./deps.ts";
import type { Rule } from "../lib/config.ts";
import { decideArgv, deniedMessage, isTrusted } from "../lib/policy/command_policy.ts";

const r = (pattern: string, action: "allow" | "deny"): Rule => ({ pattern, action });
const allowed = (rules: Rule[], argv: string[]) => decideArgv(rules, argv).action === "allow";

Deno.test("decideArgv: no rules, or no matching rule, denies", () => {
  expect(allowed([], ["ls"])).toBe(false);
  expect(allowed([r("cat *", "allow")], ["ls"])).toBe(false);
  expect(decideArgv([r("cat *", "allow")], ["ls"]).rule).toBeUndefined();
});

Deno.test("decideArgv: last match wins, `cmd *` matches bare cmd, exact patterns are exact", () => {
  const rules = [r("*", "deny"), r("kubectl get *", "allow"), r("kubectl get secret*", "deny")];
  expect(allowed(rules, ["kubectl", "get", "pods", "-A"])).toBe(true);
  expect(allowed(rules, ["kubectl", "get"])).toBe(true);
  expect(allowed(rules, ["kubectl", "get", "secrets"])).toBe(false);
  expect(decideArgv(rules, ["kubectl", "get", "secrets"]).rule?.pattern).toBe(
    "kubectl get secret*",
  );
  expect(allowed([r("uptime", "allow")], ["uptime"])).toBe(true);
  expect(allowed([r("uptime", "allow")], ["uptime", "-p"])).toBe(false);
  // `*` crosses spaces and slashes
  expect(allowed([r("cat /var/log/*", "allow")], ["cat", "/var/log/a/b", "/var/log/c"])).toBe(true);
});

Deno.test("decideArgv: a rule's program word matches only argv[0] itself", () => {
  const rules = [r("*", "deny"), r("ls *", "allow")];
  expect(allowed(rules, ["ls", "-la"])).toBe(true);
  expect(allowed(rules, ["/bin/ls", "-la"])).toBe(false);
  expect(allowed(rules, ["./ls"])).toBe(false);
  expect(allowed(rules, ["lsblk"])).toBe(false);
  // one word holding a space is not two words: `"ls x"` is a program named "ls x"
  expect(allowed(rules, ["ls x"])).toBe(false);
  expect(allowed(rules, ["ls -la; touch /tmp/x"])).toBe(false);
});

Deno.test("decideArgv: a space in a pattern is a word boundary (word-strict reading)", () => {
  const rules = [r("kubectl get pods", "allow")];
  expect(allowed(rules, ["kubectl", "get", "pods"])).toBe(true);
  expect(allowed(rules, ["kubectl", "get pods"])).toBe(false);
  // but a deny rule still catches a word holding spaces: either reading denying denies
  const deny = [r("*", "allow"), r("rm -rf *", "deny")];
  expect(allowed(deny, ["rm", "-rf /"])).toBe(false);
  expect(allowed(deny, ["rm", "-rf", "/"])).toBe(false);
});

Deno.test("decideArgv: assignments are part of the checked words", () => {
  const rules = [r("*", "deny"), r("ls *", "allow")];
  expect(allowed(rules, ["X=1", "ls"])).toBe(false);
  expect(allowed([r("LANG=C ls *", "allow")], ["LANG=C", "ls", "-l"])).toBe(true);
});

Deno.test("decideArgv: empty argv, empty program, NUL bytes are denied", () => {
  const all = [r("*", "allow")];
  expect(allowed(all, [])).toBe(false);
  expect(allowed(all, [""])).toBe(false);
  expect(allowed(all, ["echo", "a\0b"])).toBe(false);
});

Deno.test("isTrusted: the last `*` rule decides", () => {
  expect(isTrusted([])).toBe(false);
  expect(isTrusted([r("*", "deny"), r("ls *", "allow")])).toBe(false);
  expect(isTrusted([r("*", "allow"), r("rm *", "deny")])).toBe(true);
  expect(isTrusted([r("*", "allow"), r("*", "deny")])).toBe(false);
  expect(isTrusted([r("ls *", "allow")])).toBe(false);
});

Deno.test("deniedMessage names the sub-command and the rule", () => {
  const rules = [r("*", "allow"), r("rm *", "deny")];
  const msg = deniedMessage(["rm", "-rf", "x"], decideArgv(rules, ["rm", "-rf", "x"]));
  expect(msg).toBe('command denied: "rm -rf x" (rule "rm *": deny)');
  expect(deniedMessage(["ls"], decideArgv([], ["ls"]))).toBe(
    'command denied: "ls" (no rule allowed it)',
  );
});

Deno.test("refusedEnvName: loader, interpreter and pager variables", () => {
  for (
    const name of [
      "LD_PRELOAD",
      "LD_LIBRARY_PATH",
      "DYLD_INSERT_LIBRARIES",
      "PATH",
      "IFS",
      "BASH_ENV",
      "ENV",
    ]
  ) expect(refusedEnvName(name)).toBeDefined();
  for (
    const name of ["NODE_OPTIONS", "PYTHONPATH", "PYTHONSTARTUP", "PERL5OPT", "GIT_SSH_COMMAND"]
  ) {
    expect(refusedEnvName(name)).toBeDefined();
  }
  for (const name of ["PAGER", "GIT_PAGER", "SYSTEMD_PAGER", "EDITOR", "VISUAL", "ld_preload"]) {
    expect(refusedEnvName(name)).toBeDefined();
  }
  for (const name of ["LANG", "LC_ALL", "TZ", "COLUMNS", "FOO"]) {
    expect(refusedEnvName(name)).toBeUndefined();
  }
});
