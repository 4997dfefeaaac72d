/**
 * The decision for a whole command: parse it, then check every sub-command
 * against `permission.bash`. Shared by the `bash` operation and the
 * `check` tool, so what `check` prints is what the runner does.
 */
import { describeDecision } from "../policy/rules.ts";
import type { ExpandContext } from "./expand.ts";
import { UnsupportedSyntax } from "./lex.ts";
import { parseScript, type Script, visibleCommands } from "./parse.ts";
import type { CommandPolicy, Decision } from "../policy/command_policy.ts";
import { refusedEnvName } from "../proc/child_env.ts";

export interface SubCheck {
  /** the words the rules saw (assignments, then program and arguments) */
  words: string[];
  decision: Decision;
  /** set when something other than a rule refused it (a forbidden NAME=value) */
  refused?: string;
}

export interface Plan {
  /** trusted: bash runs the string; deny rules guard mistakes only */
  trusted: boolean;
  /** restricted mode: what the runner will execute */
  script?: Script;
  checks: SubCheck[];
  allowed: boolean;
}

/**
 * Throws UnsupportedSyntax / ShellSyntaxError (both `command denied: ...`)
 * when a restricted command cannot be run as written.
 */
export function planCommand(
  policy: CommandPolicy,
  command: string,
  ctx: Omit<ExpandContext, "lenient">,
): Plan {
  if (policy.trusted) {
    const checks = visibleCommands(command, ctx).map((words) => ({
      words,
      decision: policy.check(words),
    }));
    return { trusted: true, checks, allowed: checks.every((c) => c.decision.action === "allow") };
  }
  const script = parseScript(command, ctx);
  const checks: SubCheck[] = [];
  for (const { pipeline } of script.steps) {
    for (const cmd of pipeline.commands) {
      if (cmd.argv[0] === "cd" && (pipeline.commands.length > 1 || cmd.redirects.length > 0)) {
        throw new UnsupportedSyntax(
          "`cd` in a pipeline or with redirects",
          "use cd on its own: cd dir && ...",
        );
      }
      const why = cmd.env.map(([name]) => refusedEnvName(name)).find((r) => r !== undefined);
      if (why) {
        const name = cmd.env.find(([n]) => refusedEnvName(n))![0];
        checks.push({
          words: cmd.words,
          decision: { action: "deny" },
          refused: `assigning ${name} is refused in restricted mode: ${why}`,
        });
        continue;
      }
      checks.push({ words: cmd.words, decision: policy.check(cmd.words) });
    }
  }
  return {
    trusted: false,
    script,
    checks,
    allowed: checks.every((c) => c.decision.action === "allow"),
  };
}

/** Why one sub-command was (not) allowed: the rule, or the refusal. */
export function reason(c: SubCheck): string {
  return c.refused ?? describeDecision(c.decision);
}

/** `command denied: "rm -rf x" (rule "rm *": deny)`, naming every denied sub-command. */
export function denialMessage(plan: Plan): string {
  const denied = plan.checks.filter((c) => c.decision.action === "deny");
  const parts = denied.map((c) => `${JSON.stringify(c.words.join(" "))} (${reason(c)})`);
  return `command denied: ${parts.join("; ")}`;
}
