/**
 * `permission.bash` decisions for one simple command's words, compiled once.
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
 *
 * Deny rules fail closed (issue 11): they match ignoring case (`RM -rf x`),
 * and also when argv[0] is a path whose base name they name (`/bin/rm -rf x`,
 * `./rm`, `../../bin/rm` are all denied by `rm *`). Allow rules stay exact.
 */
import type { Rule } from "../config.ts";
import { type Decision, describeDecision, RuleSet } from "./rules.ts";

export type { Decision };

/** The compiled `permission.bash`: build once with compileCommandPolicy, ask many times. */
export interface CommandPolicy {
  readonly rules: readonly Rule[];
  /** the catch-all (the last `"*"` rule) is allow: full bash, deny rules only guard mistakes */
  readonly trusted: boolean;
  /** whether launching `argv` (program + args, unquoted words) is allowed, and by which rule */
  check(argv: readonly string[]): Decision;
}

// A word boundary in the word-strict subject. NUL cannot occur inside an argv word.
const SEP = "\0";

/** Compiles the rules once (every pattern in both readings). */
export function compileCommandPolicy(rules: readonly Rule[]): CommandPolicy {
  const joined = new RuleSet(rules, { denyIgnoresCase: true });
  // The word-strict reading: the same rules with their spaces as word boundaries.
  // Decisions name the caller's own rule objects, so map back by position.
  const strictRules = rules.map((r) => ({ ...r, pattern: r.pattern.replaceAll(" ", SEP) }));
  const strict = new RuleSet(strictRules, {
    denyIgnoresCase: true,
    bareIsGlob: true,
    separator: SEP,
  });
  const original = new Map(strictRules.map((r, k) => [r, rules[k]]));
  const trusted = joined.catchAll() === "allow";
  return {
    rules,
    trusted,
    check(argv) {
      if (argv.length === 0 || argv[0] === "") return { action: "deny" };
      if (argv.some((w) => w.includes(SEP))) return { action: "deny" };
      const base = baseName(argv[0]);
      const asBase = base === argv[0] ? undefined : [base, ...argv.slice(1)];
      const j = joined.decide(argv.join(" "), asBase ? [asBase.join(" ")] : []);
      if (j.action === "deny") return j;
      const s = strict.decide(argv.join(SEP), asBase ? [asBase.join(SEP)] : []);
      if (s.action === "deny") return { action: "deny", rule: s.rule && original.get(s.rule) };
      return j;
    },
  };
}

/**
 * Whether launching `argv` is allowed by `rules`. Compiles the rules on every
 * call: for one-off questions (tests); the runner holds a CommandPolicy.
 */
export function decideArgv(rules: readonly Rule[], argv: readonly string[]): Decision {
  return compileCommandPolicy(rules).check(argv);
}

/** The catch-all (the last `"*"` rule) is allow: full bash, deny rules only guard mistakes. */
export function isTrusted(rules: readonly Rule[]): boolean {
  return new RuleSet(rules).catchAll() === "allow";
}

/** `command denied: "rm -rf x" (rule "rm *": deny)` — the platform-facing message. */
export function deniedMessage(words: readonly string[], d: Decision): string {
  return `command denied: ${JSON.stringify(words.join(" "))} (${describeDecision(d)})`;
}

/** `/bin/rm` -> `rm`; a word without `/` is its own base name. */
export function baseName(word: string): string {
  const trimmed = word.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || word;
}
