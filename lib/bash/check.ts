/**
 * `flashduty-runner check [--config FILE] -- '<command>'`: what the runner
 * would decide for a command, sub-command by sub-command, without running it.
 * Commands whose words are only known at run time are listed as `later`: the
 * gate decides them when they start.
 */
import type { RunnerConfig } from "../config.ts";
import { TaskError } from "../tasks/errors.ts";
import { type Plan, planCommand, reason } from "./plan.ts";
import { childEnv } from "../proc/child_env.ts";
import { compileCommandPolicy } from "../policy/command_policy.ts";

export interface CheckOptions {
  /** where globs expand and `$PWD` points; default: the current directory */
  cwd?: string;
  /** the environment `$VAR` reads; default: the runner's, as commands would get it */
  env?: Record<string, string>;
}

export interface CheckResult {
  /** the whole command would run */
  ok: boolean;
  text: string;
}

export const TRUSTED_NOTE =
  'trusted mode (the catch-all "*" is allow): bash runs the command; deny rules are checked on ' +
  "every sub-command the parser can see, as a guard against mistakes, not a security boundary";
export const RESTRICTED_NOTE =
  "restricted mode: the runner runs each checked sub-command itself, without a shell";

export function checkCommand(
  config: RunnerConfig,
  command: string,
  opts: CheckOptions = {},
): CheckResult {
  const rules = config.permission.bash;
  let plan: Plan;
  try {
    plan = planCommand(compileCommandPolicy(rules), command, {
      env: opts.env ?? childEnv(),
      cwd: opts.cwd ?? Deno.cwd(),
    });
  } catch (err) {
    if (!(err instanceof TaskError)) throw err;
    return { ok: false, text: `${RESTRICTED_NOTE}\ndeny   ${err.message}\nresult: denied\n` };
  }
  const lines = [plan.trusted ? TRUSTED_NOTE : RESTRICTED_NOTE];
  if (rules.length === 0) lines.push("no permission.bash rules: every command is denied");
  for (const c of plan.checks) {
    lines.push(`${c.decision.action.padEnd(6)} ${JSON.stringify(c.words.join(" "))}  ${reason(c)}`);
  }
  for (const d of plan.deferred) lines.push(`later  ${d}`);
  lines.push(`result: ${plan.allowed ? "allowed" : "denied"}`);
  return { ok: plan.allowed, text: lines.join("\n") + "\n" };
}
