import type { Rule } from "../config.ts";
import { compileGlob, type GlobMatcher } from "./glob_match.ts";

/** What a rule set said about one subject, and which rule said it. */
export interface Decision {
  action: "allow" | "deny";
  /** the rule that decided; undefined when no rule matched (which denies) */
  rule?: Rule;
}

/** How the rules of a set match their subject. */
export interface RuleSetOptions {
  /**
   * Deny rules match ignoring case (fail closed: `RM -rf x` or `get SECRETS`
   * must not slip past a deny written in lower case). Allow rules stay exact.
   */
  denyIgnoresCase?: boolean;
  /**
   * The bare `cmd` of a `"cmd *"` pattern is itself a glob (the word-strict
   * reading of command_policy.ts) rather than literal text (the documented one).
   */
  bareIsGlob?: boolean;
  /** what separates words in patterns and subjects (default a space): `"cmd<sep>*"` matches bare `cmd` */
  separator?: string;
}

/**
 * Ordered glob rules over one text subject: `permission.bash` (subject: a
 * command's words joined by single spaces; command_policy.ts).
 * `permission.webfetch` keeps the same order semantics over URL components
 * (url_policy.ts). Semantics, as the reference documents them: rules are tried in the order written, the last
 * match wins, `*` matches any run of characters (spaces and slashes too),
 * every other character is literal, `"cmd *"` also matches the bare `cmd`,
 * and a subject no rule matches is denied. Compiled once; matching is
 * linear-time (glob_match.ts).
 */
export class RuleSet {
  private readonly compiled: { rule: Rule; glob: GlobMatcher; bare?: (s: string) => boolean }[];

  constructor(readonly rules: readonly Rule[], opts: RuleSetOptions = {}) {
    this.compiled = rules.map((rule) => {
      const ignoreCase = opts.denyIgnoresCase === true && rule.action === "deny";
      const fold = (s: string) => ignoreCase ? s.toLowerCase() : s;
      const glob = compileGlob(rule.pattern, { starOnly: true, ignoreCase });
      if (!rule.pattern.endsWith(`${opts.separator ?? " "}*`)) return { rule, glob };
      // `"cmd *"` also matches the bare `cmd`
      const text = rule.pattern.slice(0, -2);
      if (opts.bareIsGlob) {
        const g = compileGlob(text, { starOnly: true, ignoreCase });
        return { rule, glob, bare: (s: string) => g.match(s) };
      }
      const bare = fold(text);
      return { rule, glob, bare: (s: string) => fold(s) === bare };
    });
  }

  /**
   * The decision for `subject`. A deny rule is also tried on each of
   * `denyAlso` (other spellings of the same subject, e.g. with the program's
   * path reduced to its base name): any of them matching makes it match.
   */
  decide(subject: string, denyAlso: readonly string[] = []): Decision {
    let decision: Decision = { action: "deny" };
    for (const { rule, glob, bare } of this.compiled) {
      const hit = (s: string) => glob.match(s) || (bare?.(s) ?? false);
      const matched = hit(subject) || (rule.action === "deny" && denyAlso.some(hit));
      if (matched) decision = { action: rule.action, rule };
    }
    return decision;
  }

  /** The action of the last `"*"` rule, if any: what an unmatched subject gets in practice. */
  catchAll(): "allow" | "deny" | undefined {
    let action: "allow" | "deny" | undefined;
    for (const r of this.rules) if (r.pattern === "*") action = r.action;
    return action;
  }
}

/** "the rule `kubectl get *`: allow" / "no rule allowed it", for messages and logs. */
export function describeDecision(d: Decision): string {
  return d.rule ? `rule ${JSON.stringify(d.rule.pattern)}: ${d.rule.action}` : "no rule allowed it";
}
