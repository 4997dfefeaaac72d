import type { Rule } from "../config.ts";

/** What a rule set said about one subject, and which rule said it. */
export interface Decision {
  action: "allow" | "deny";
  /** the rule that decided; undefined when no rule matched (which denies) */
  rule?: Rule;
}

/**
 * Ordered glob rules, shared by `permission.bash` (subject: a command's
 * words joined by single spaces) and `permission.webfetch` (subject: a URL).
 * Semantics, as the reference documents them: rules are tried in the order
 * written, the last match wins, `*` matches any run of characters (spaces
 * and slashes too), every other character is literal, `"cmd *"` also
 * matches the bare `cmd`, and a subject no rule matches is denied.
 */
export class RuleSet {
  private readonly compiled: { rule: Rule; re: RegExp; bare?: string }[];

  constructor(readonly rules: readonly Rule[]) {
    this.compiled = rules.map((rule) => ({
      rule,
      re: new RegExp("^" + rule.pattern.split("*").map(escapeRegExp).join("[\\s\\S]*") + "$"),
      bare: rule.pattern.endsWith(" *") ? rule.pattern.slice(0, -2) : undefined,
    }));
  }

  decide(subject: string): Decision {
    let decision: Decision = { action: "deny" };
    for (const { rule, re, bare } of this.compiled) {
      if (subject === bare || re.test(subject)) decision = { action: rule.action, rule };
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
