/**
 * Programs the rules allow that start other programs from their own
 * arguments. The interpreter does the job of the pure wrappers itself
 * (lib/bash/wrappers.ts: env, xargs, timeout, ...); `find` runs its
 * `-exec`/`-execdir`/`-ok`/`-okdir` commands itself, so those commands are
 * checked against the same rules before find starts: `find . -exec rm {} ;`
 * meets the `rm` rule, and `find / -name 'ld-*' -exec {} PROG ;` (run
 * whatever was found, e.g. the dynamic loader) meets no rule at all.
 *
 * @module
 */
import { baseName, type CommandPolicy, type Decision } from "./command_policy.ts";
import { namesDynamicLoader } from "./dynamic_loader.ts";
import { describeDecision } from "./rules.ts";

/** One thing an allowed program would start, and whether it may. */
export interface StartCheck {
  /** the words checked */
  words: string[];
  decision: Decision;
  /** why it was refused, when it was */
  refused?: string;
}

/**
 * What the allowed `argv` would start by itself, each decided: a word
 * naming the dynamic loader is refused, and find's -exec commands must be
 * allowed by the rules. The gate (lib/bash/interp.ts) and the pre-check
 * (lib/bash/plan.ts) both ask this, so `check` shows what the run does.
 */
export function checkWhatItStarts(
  policy: CommandPolicy,
  argv: readonly string[],
  cwd: string,
): StartCheck[] {
  const out: StartCheck[] = [];
  const loader = namesDynamicLoader(argv, cwd);
  if (loader !== undefined) {
    out.push({
      words: [...argv],
      decision: { action: "deny" },
      refused: `${JSON.stringify(loader)} names the dynamic loader, which starts any ` +
        "program it is given: refused in restricted mode",
    });
  }
  for (const inner of innerCommands(argv)) {
    const decision = inner.length > 0 ? policy.check(inner) : { action: "deny" as const };
    out.push({
      words: inner,
      decision,
      ...(decision.action === "allow"
        ? {}
        : { refused: `run by ${argv[0]}: ${describeDecision(decision)}` }),
    });
  }
  return out;
}

/** find's primaries that run a command, up to `;` (or `{} +`). */
const FIND_EXEC = new Set(["-exec", "-execdir", "-ok", "-okdir"]);

/**
 * The commands `argv` will start by itself, each as the argv its program
 * gets (`{}` left as written: the rules see what the caller wrote). Only
 * find is known; other programs give none.
 */
export function innerCommands(argv: readonly string[]): string[][] {
  if (baseName(argv[0] ?? "") !== "find") return [];
  const out: string[][] = [];
  for (let i = 1; i < argv.length; i++) {
    if (!FIND_EXEC.has(argv[i])) continue;
    const cmd: string[] = [];
    let j = i + 1;
    for (; j < argv.length; j++) {
      if (argv[j] === ";") break;
      if (argv[j] === "+" && argv[j - 1] === "{}" && cmd.length > 1) break;
      cmd.push(argv[j]);
    }
    // `{} +` ends the command: `{}` stands for the files found, not a word of it
    if (argv[j] === "+") cmd.pop();
    out.push(cmd);
    i = j;
  }
  return out;
}
