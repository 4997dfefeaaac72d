/**
 * `permission.bash` decisions for one simple command's words.
 *
 * Two readings of the rules must both allow a command:
 *  - the documented one (lib/policy/rules.ts): words joined by single spaces,
 *    last matching glob wins, unmatched is denied;
 *  - a word-strict one: a space written in a pattern matches only a word
 *    boundary, so `kubectl "get pods"` (one argument containing a space) is
 *    not `kubectl get pods`, and a pattern's program word matches argv[0]
 *    only (`ls *` admits neither `/bin/ls` nor `./ls` nor `"ls x"`).
 * Either reading denying is a denial: a difference between them can only
 * make the runner stricter, never looser.
 */
import type { Rule } from "../config.ts";
import { type Decision, describeDecision, RuleSet } from "./rules.ts";

export type { Decision };

// A word boundary in the word-strict subject. NUL cannot occur inside an argv word.
const SEP = "\0";

/** Whether launching `argv` (program + args, unquoted words) is allowed by `permission.bash`. */
export function decideArgv(rules: readonly Rule[], argv: readonly string[]): Decision {
  if (argv.length === 0 || argv[0] === "") return { action: "deny" };
  if (argv.some((w) => w.includes(SEP))) return { action: "deny" };
  const joined = ruleSet(rules).decide(argv.join(" "));
  if (joined.action === "deny") return joined;
  const strict = strictDecide(rules, argv);
  if (strict.action === "deny") return strict;
  return joined;
}

/** The catch-all (the last `"*"` rule) is allow: full bash, deny rules only guard mistakes. */
export function isTrusted(rules: readonly Rule[]): boolean {
  return ruleSet(rules).catchAll() === "allow";
}

// Compiling the patterns is most of a decision's cost, so each rule list is
// compiled once; a list changed in place since then is compiled again.
const ruleSets = new WeakMap<readonly Rule[], { set: RuleSet; seen: Rule[] }>();

function ruleSet(rules: readonly Rule[]): RuleSet {
  const hit = ruleSets.get(rules);
  const same = hit && hit.seen.length === rules.length &&
    hit.seen.every((r, k) => r.pattern === rules[k].pattern && r.action === rules[k].action);
  if (hit && same) return hit.set;
  // compiled over the caller's own rules, so a decision names the caller's rule object
  const set = new RuleSet(rules);
  ruleSets.set(rules, { set, seen: rules.map((r) => ({ ...r })) });
  return set;
}

/** `command denied: "rm -rf x" (rule "rm *": deny)` — the platform-facing message. */
export function deniedMessage(words: readonly string[], d: Decision): string {
  return `command denied: ${JSON.stringify(words.join(" "))} (${describeDecision(d)})`;
}

/**
 * Environment names a restricted command may not assign (`NAME=value cmd`):
 * they change which code a program loads or which program it runs, so the
 * checked words would no longer describe what executes. Returns why, or
 * undefined when the name is fine.
 */
export function refusedAssignment(name: string): string | undefined {
  const n = name.toUpperCase();
  if (EXACT_REFUSED.has(n)) return `${name} changes which program or code runs`;
  for (const p of PREFIX_REFUSED) {
    if (n.startsWith(p)) return `${p}* variables change how programs load or what they run`;
  }
  if (n.endsWith("PAGER")) return `${name} names a program to run`;
  return undefined;
}

const EXACT_REFUSED = new Set([
  "PATH",
  "IFS",
  "BASH_ENV",
  "ENV",
  "SHELL",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "PROMPT_COMMAND",
  "CDPATH",
  "GLOBIGNORE",
  "NODE_OPTIONS",
  "NODE_PATH",
  "EDITOR",
  "VISUAL",
  "BROWSER",
  "TERMINAL",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "KUBECONFIG",
  "KUBECTL_EXTERNAL_DIFF",
  "DOCKER_HOST",
  "SSH_ASKPASS",
  "SUDO_ASKPASS",
  "GCONV_PATH",
  "HOSTALIASES",
  "MALLOC_CHECK_",
  "HOME",
  "XDG_CONFIG_HOME",
  "LESSOPEN",
  "LESSCLOSE",
  "LESSKEY",
  "MANOPT",
  "TAR_OPTIONS",
  "GREP_OPTIONS",
  "ZDOTDIR",
  "OPENSSL_CONF",
  "SYSTEMD_EDITOR",
]);

const PREFIX_REFUSED = [
  "LD_",
  "DYLD_",
  "PYTHON",
  "PERL5",
  "PERL_",
  "GIT_",
  "BASH_FUNC_",
  "NPM_CONFIG_",
  "DENO_",
  "LUA_",
  "GEM_",
];

/** The word-strict reading: literal spaces in a pattern are word boundaries. */
function strictDecide(rules: readonly Rule[], argv: readonly string[]): Decision {
  const subject = argv.join(SEP);
  let decision: Decision = { action: "deny" };
  for (const rule of rules) {
    if (strictPattern(rule.pattern).test(subject)) decision = { action: rule.action, rule };
  }
  return decision;
}

const compiled = new Map<string, RegExp>();

function strictPattern(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (re) return re;
  const body = (p: string) =>
    p.split("*").map((lit) => escapeRegExp(lit).replaceAll(" ", SEP)).join("[\\s\\S]*");
  // `"cmd *"` also matches the bare `cmd`, as in the documented reading.
  const alt = pattern.endsWith(" *") ? `|${body(pattern.slice(0, -2))}` : "";
  re = new RegExp(`^(?:${body(pattern)}${alt})$`);
  compiled.set(pattern, re);
  return re;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
