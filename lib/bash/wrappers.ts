/**
 * Programs that only start another program (`timeout 5 grep ...`,
 * `env LC_ALL=C sort`, `nice`, `nohup`, `command`, `exec`, `xargs`): the
 * interpreter does their job itself and the inner program passes the gate
 * with its own argv, so a rule for `grep *` is what decides, and `xargs rm`
 * meets the `rm` rule. Options these wrappers have that could start
 * something else (`env -S`, `xargs -a`, ...) are refused, not guessed at.
 */
import { UnsupportedSyntax } from "./lex.ts";

export interface Unwrapped {
  /** the program that really runs, with its arguments */
  argv: string[];
  /** NAME=value set by `env` */
  assigns: [string, string][];
  /** `env -i`: the program starts with only the assigned variables */
  clearEnv: boolean;
  /** `env -u NAME` */
  unset: string[];
  /** `timeout`: seconds, signal, and whether to keep the program's own status */
  timeout?: { seconds: number; signal: Deno.Signal; killAfter?: number; preserve: boolean };
  /** `exec`: the script ends with the program */
  exec: boolean;
  /** `command`: builtins are still builtins, but the name is not looked up as a wrapper of ours */
  viaCommand: boolean;
}

export interface XargsPlan {
  /** the command and its first arguments (default: echo) */
  argv: string[];
  delimiter: "blank" | "nul" | string;
  maxArgs?: number;
  replace?: string;
  noRunIfEmpty: boolean;
  maxLines?: number;
}

export const WRAPPERS = new Set(["timeout", "nice", "nohup", "env", "command", "exec", "xargs"]);

function refuse(what: string): never {
  throw new UnsupportedSyntax(what, "the runner interprets this wrapper itself");
}

const SIGNALS: Record<string, Deno.Signal> = {
  TERM: "SIGTERM",
  KILL: "SIGKILL",
  INT: "SIGINT",
  HUP: "SIGHUP",
  QUIT: "SIGQUIT",
  USR1: "SIGUSR1",
  USR2: "SIGUSR2",
  "9": "SIGKILL",
  "15": "SIGTERM",
  "2": "SIGINT",
  "1": "SIGHUP",
};

function signalOf(s: string): Deno.Signal {
  const sig = SIGNALS[s.toUpperCase().replace(/^SIG/, "")];
  if (!sig) refuse(`timeout signal ${s}`);
  return sig;
}

/** `5`, `2.5s`, `1m`, `1h`, `1d` in seconds. */
export function duration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(s);
  if (!m) return undefined;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]]!;
  return Number(m[1]) * unit;
}

/**
 * Peels wrappers off `argv` (any depth: `timeout 5 nice env X=1 grep`). Returns
 * undefined when argv[0] is no wrapper, the XargsPlan when xargs is reached.
 */
export function unwrap(argv: string[]): { run: Unwrapped; xargs?: XargsPlan } | undefined {
  if (!WRAPPERS.has(argv[0])) return undefined;
  const run: Unwrapped = {
    argv,
    assigns: [],
    clearEnv: false,
    unset: [],
    exec: false,
    viaCommand: false,
  };
  for (let guard = 0; guard < 32 && WRAPPERS.has(run.argv[0]); guard++) {
    if (isCommandV(run.argv)) break;
    const [name, ...rest] = run.argv;
    if (name === "xargs") return { run, xargs: xargsPlan(rest) };
    run.argv = peel(name, rest, run);
    if (run.argv.length === 0) return { run };
  }
  return { run };
}

/** `command -v NAME`: answered by the interpreter, nothing starts. */
export function isCommandV(argv: readonly string[]): boolean {
  return argv[0] === "command" && (argv[1] === "-v" || argv[1] === "-V");
}

function peel(name: string, a: string[], run: Unwrapped): string[] {
  let k = 0;
  switch (name) {
    case "nohup":
      if (a[0] === "--") k++;
      return a.slice(k);
    case "nice":
      for (; k < a.length; k++) {
        if (a[k] === "--") {
          k++;
          break;
        }
        if (a[k] === "-n" || a[k] === "--adjustment") k++;
        else if (/^(-n|--adjustment=)-?\d+$/.test(a[k]) || /^-\d+$/.test(a[k])) continue;
        else if (a[k].startsWith("-")) refuse(`nice option ${a[k]}`);
        else break;
      }
      return a.slice(k);
    case "command":
      if (a[0] === "-p") k++;
      if (a[k] === "--") k++;
      run.viaCommand = true;
      return a.slice(k);
    case "exec":
      if (a[0]?.startsWith("-") && a[0] !== "--") refuse(`exec option ${a[0]}`);
      if (a[0] === "--") k++;
      if (a.length === k) refuse("exec without a program");
      run.exec = true;
      return a.slice(k);
    case "timeout": {
      let signal: Deno.Signal = "SIGTERM";
      let killAfter: number | undefined;
      let preserve = false;
      for (; k < a.length && a[k].startsWith("-"); k++) {
        const o = a[k];
        if (o === "--") {
          k++;
          break;
        }
        if (o === "-s" || o === "--signal") signal = signalOf(a[++k] ?? "");
        else if (o.startsWith("--signal=")) signal = signalOf(o.slice(9));
        else if (/^-s./.test(o)) signal = signalOf(o.slice(2));
        else if (o === "-k" || o === "--kill-after") killAfter = duration(a[++k] ?? "");
        else if (o.startsWith("--kill-after=")) killAfter = duration(o.slice(13));
        else if (o === "--preserve-status") preserve = true;
        else if (o === "--foreground" || o === "-v" || o === "--verbose") continue;
        else refuse(`timeout option ${o}`);
      }
      const seconds = duration(a[k] ?? "");
      if (seconds === undefined) refuse(`timeout duration ${JSON.stringify(a[k] ?? "")}`);
      run.timeout = { seconds, signal, killAfter, preserve };
      return a.slice(k + 1);
    }
    case "env": {
      for (; k < a.length; k++) {
        const o = a[k];
        if (o === "-i" || o === "-" || o === "--ignore-environment") run.clearEnv = true;
        else if (o === "-u" || o === "--unset") run.unset.push(a[++k] ?? "");
        else if (o.startsWith("--unset=")) run.unset.push(o.slice(8));
        else if (o === "--") {
          k++;
          break;
        } else if (o.startsWith("-")) refuse(`env option ${o}`);
        else break;
      }
      for (; k < a.length && /^[^=]+=/.test(a[k]); k++) {
        const eq = a[k].indexOf("=");
        run.assigns.push([a[k].slice(0, eq), a[k].slice(eq + 1)]);
      }
      if (k === a.length) return ["env"]; // prints the environment: the env program itself
      return a.slice(k);
    }
  }
  return a;
}

function xargsPlan(a: string[]): XargsPlan {
  const plan: XargsPlan = { argv: [], delimiter: "blank", noRunIfEmpty: false };
  let k = 0;
  const num = (s: string | undefined, what: string) => {
    if (s === undefined || !/^\d+$/.test(s) || Number(s) < 1) refuse(`xargs ${what} ${s ?? ""}`);
    return Number(s);
  };
  for (; k < a.length && a[k].startsWith("-") && a[k] !== "-"; k++) {
    const o = a[k];
    if (o === "--") {
      k++;
      break;
    }
    if (o === "-0" || o === "--null") plan.delimiter = "nul";
    else if (o === "-r" || o === "--no-run-if-empty") plan.noRunIfEmpty = true;
    else if (o === "-n") plan.maxArgs = num(a[++k], "-n");
    else if (/^-n\d+$/.test(o)) plan.maxArgs = num(o.slice(2), "-n");
    else if (o.startsWith("--max-args=")) plan.maxArgs = num(o.slice(11), "--max-args");
    else if (o === "-L") plan.maxLines = num(a[++k], "-L");
    else if (/^-L\d+$/.test(o)) plan.maxLines = num(o.slice(2), "-L");
    else if (o === "-I") plan.replace = a[++k] ?? refuse("xargs -I without a string");
    else if (/^-I./.test(o)) plan.replace = o.slice(2);
    else if (o === "-i") plan.replace = "{}";
    else if (o === "-d") plan.delimiter = delim(a[++k]);
    else if (/^-d./.test(o)) plan.delimiter = delim(o.slice(2));
    else if (o === "-t" || o === "--verbose") refuse("xargs -t");
    else refuse(`xargs option ${o}`);
  }
  plan.argv = a.slice(k);
  if (plan.argv.length === 0) plan.argv = ["echo"];
  if (plan.replace !== undefined) plan.maxLines = 1;
  return plan;
}

function delim(s: string | undefined): string {
  if (s === undefined) refuse("xargs -d without a delimiter");
  const esc: Record<string, string> = { "\\n": "\n", "\\t": "\t", "\\0": "\0" };
  const d = esc[s] ?? s;
  if (d.length !== 1) refuse(`xargs -d ${s}`);
  return d;
}

/** xargs's reading of its input into items (blank mode honours quotes and backslashes). */
export function xargsItems(text: string, plan: XargsPlan): string[][] {
  if (plan.delimiter !== "blank") {
    const d = plan.delimiter === "nul" ? "\0" : plan.delimiter;
    const items = text.split(d);
    if (items.at(-1) === "") items.pop();
    return items.map((i) => [i]);
  }
  if (plan.replace !== undefined) {
    // -I: each line is one item, leading blanks removed
    return text.split("\n").map((l) => l.replace(/^[ \t]+/, "")).filter((l) => l !== "").map((
      l,
    ) => [l]);
  }
  // Group by line for -L; otherwise one group.
  const lines: string[][] = [];
  let cur: string[] = [];
  let word = "";
  let inWord = false;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\n") throw new UnsupportedSyntax("xargs input with an unmatched quote");
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
      continue;
    }
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) cur.push(word);
      word = "";
      inWord = false;
      if (c === "\n" && cur.length > 0) {
        lines.push(cur);
        cur = [];
      }
      continue;
    }
    word += c;
    inWord = true;
  }
  if (quote) throw new UnsupportedSyntax("xargs input with an unmatched quote");
  if (inWord) cur.push(word);
  if (cur.length > 0) lines.push(cur);
  return lines;
}

/** The argv of each invocation xargs makes. */
export function xargsCommands(items: string[][], plan: XargsPlan, maxArgv = 4096): string[][] {
  const out: string[][] = [];
  if (plan.replace !== undefined) {
    for (const [item] of items) out.push(plan.argv.map((w) => w.replaceAll(plan.replace!, item)));
    return out;
  }
  let groups: string[][];
  if (plan.maxLines !== undefined) {
    groups = [];
    for (let k = 0; k < items.length; k += plan.maxLines) {
      groups.push(items.slice(k, k + plan.maxLines).flat());
    }
  } else groups = [items.flat()];
  const per = plan.maxArgs ?? maxArgv;
  for (const g of groups) {
    for (let k = 0; k < g.length; k += per) out.push([...plan.argv, ...g.slice(k, k + per)]);
  }
  if (out.length === 0 && !plan.noRunIfEmpty) out.push([...plan.argv]);
  return out;
}
