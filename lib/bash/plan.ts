/**
 * The decision for a whole command before anything runs: parse it, then
 * check every command word known statically against `permission.bash`. A
 * denied one means nothing runs. Words only known at run time (they hold an
 * expansion, or xargs builds them) are decided by the interpreter's gate
 * when they start (lib/bash/interp.ts); the plan lists them as such. Shared
 * by the `bash` operation and the `check` tool, so what `check` prints is
 * what the runner does.
 */
import { describeDecision } from "../policy/rules.ts";
import { checkWhatItStarts } from "../policy/inner_commands.ts";
import type { ExpandContext } from "./expand.ts";
import { UnsupportedSyntax } from "./lex.ts";
import { visibleCommands } from "./visible.ts";
import type { CommandPolicy, Decision } from "../policy/command_policy.ts";
import { refusedEnvName } from "../proc/child_env.ts";
import { type Node, type Simple, staticText, walk, type Word } from "./ast.ts";
import { parseInterp } from "./syntax.ts";
import { BUILTINS, UNSUPPORTED_BUILTINS } from "./interp.ts";
import { isCommandV, unwrap } from "./wrappers.ts";

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
  /** restricted mode: the script the interpreter walks */
  script?: Node;
  checks: SubCheck[];
  /** restricted mode: commands whose words are only known at run time (the gate decides) */
  deferred: string[];
  allowed: boolean;
}

export const DECIDED_AT_RUN_TIME = "decided at run time";

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
    return {
      trusted: true,
      checks,
      deferred: [],
      allowed: checks.every((c) => c.decision.action === "allow"),
    };
  }
  const script = parseInterp(command);
  const checks: SubCheck[] = [];
  const deferred: string[] = [];
  for (const n of walk(script)) {
    if (n.k === "simple") staticCheck(n, policy, ctx, checks, deferred);
    for (const r of "redirs" in n ? n.redirs : []) {
      if ("target" in r && r.op !== "<<<" && staticText(r.target) === undefined) {
        deferred.push(`the redirect target ${show([r.target])}: ${DECIDED_AT_RUN_TIME}`);
      }
    }
  }
  return {
    trusted: false,
    script,
    checks,
    deferred,
    allowed: checks.every((c) => c.decision.action === "allow"),
  };
}

/** The text of a word with no expansion, glob, brace or tilde in it. */
function literal(w: Word): string | undefined {
  const t = staticText(w);
  if (t === undefined) return undefined;
  const first = w[0];
  if (first?.k === "lit" && !first.q && first.s.startsWith("~")) return undefined;
  // Globs match at run time; braces expand only with a comma or a `..` range inside.
  const unquoted = w.map((p) => p.k === "lit" && !p.q ? p.s : "x").join("");
  if (/[*?[]/.test(unquoted) || /\{[^{}]*(,|\.\.)[^{}]*\}/.test(unquoted)) return undefined;
  return t;
}

function refusal(name: string, words: string[]): SubCheck | undefined {
  const why = refusedEnvName(name);
  if (!why) return undefined;
  return {
    words,
    decision: { action: "deny" },
    refused: `assigning ${name} is refused in restricted mode: ${why}`,
  };
}

function staticCheck(
  n: Simple,
  policy: CommandPolicy,
  { env, cwd }: Omit<ExpandContext, "lenient">,
  checks: SubCheck[],
  deferred: string[],
): void {
  const show = (ws: Word[]) =>
    ws.map((w) =>
      w.map((p) => p.k === "lit" ? p.s : p.k === "param" ? `$${p.name}` : "$(…)").join("")
    )
      .join(" ");
  if (n.words.length === 0) {
    // Shell variables: those that programs will see (already in the environment) pass the env rule.
    for (const a of n.assigns) {
      const r = a.name in env ? refusal(a.name, [`${a.name}=…`]) : undefined;
      if (r) checks.push(r);
    }
    return;
  }
  const argv = n.words.map(literal);
  const values = n.assigns.map((a) => literal(a.value));
  const first = argv[0];
  if (first !== undefined && UNSUPPORTED_BUILTINS.has(first)) {
    throw new UnsupportedSyntax(
      `the shell builtin \`${first}\``,
      "the interpreter does not run it",
    );
  }
  if (first !== undefined && BUILTINS.has(first)) {
    if (first === "export") {
      for (const w of argv.slice(1)) {
        const name = w?.split("=")[0];
        const r = name ? refusal(name, ["export", w!]) : undefined;
        if (r) checks.push(r);
      }
    }
    return;
  }
  if (argv.some((w) => w === undefined) || values.some((v) => v === undefined)) {
    deferred.push(`${show(n.words)}: ${DECIDED_AT_RUN_TIME}`);
    return;
  }
  const words = argv as string[];
  if (isCommandV(words)) return;
  let assigns: [string, string][] = n.assigns.map((a, k) => [a.name, values[k]!]);
  let program = words;
  const w = unwrap(words);
  if (w) {
    if (w.xargs) {
      deferred.push(
        `${words.join(" ")}: xargs builds each command from its input, ${DECIDED_AT_RUN_TIME}`,
      );
      return;
    }
    program = w.run.argv;
    assigns = [...assigns, ...w.run.assigns];
    if (program.length === 0 || BUILTINS.has(program[0]) || isCommandV(program)) return;
  }
  const all = [...assigns.map(([k, v]) => `${k}=${v}`), ...program];
  for (const [name] of assigns) {
    const r = refusal(name, all);
    if (r) {
      checks.push(r);
      return;
    }
  }
  const decision = policy.check(all);
  checks.push({ words: all, decision });
  if (decision.action === "allow") checks.push(...checkWhatItStarts(policy, program, cwd));
}

/** A command's words for a message, expansions abbreviated. */
function show(ws: Word[]): string {
  return ws.map((w) =>
    w.map((p) => p.k === "lit" ? p.s : p.k === "param" ? `$${p.name}` : "$(…)").join("")
  ).join(" ");
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
