/**
 * From a command string to what the restricted executor runs: a list of
 * pipelines of simple commands, each with its expanded words (checked by the
 * rules and then run, the same array) and its redirects.
 *
 * Two parsers read the string: the raw-text lexer (lib/bash/lex.ts), which
 * knows bash's quoting and refuses what is not supported, and shell-quote.
 * The command goes on only if both read the same words and operators; a
 * difference is refused, never resolved in favour of either reading.
 */
import { parseShell } from "../deps/shell.ts";
import { type ExpandContext, type Expanded, expandWord, type WordRole } from "./expand.ts";
import {
  lex,
  type ListOp,
  type RedirToken,
  ShellSyntaxError,
  type Token,
  UnsupportedSyntax,
  type WordToken,
} from "./lex.ts";

export type Redirect =
  | { kind: "read"; path: string }
  | { kind: "write"; fd: 1 | 2; append: boolean; path: string }
  | { kind: "both"; append: boolean; path: string }
  | { kind: "dup"; fd: 1 | 2; to: 1 | 2 };

export interface SimpleCommand {
  /** what the rules check: the NAME=value assignments, then argv */
  words: string[];
  env: [string, string][];
  argv: string[];
  redirects: Redirect[];
}

export interface Pipeline {
  commands: SimpleCommand[];
  /** `|&` after command k: its stderr goes down the pipe too */
  stderrToPipe: boolean[];
}

export interface Step {
  /** how this pipeline hangs on the previous one's status (none for the first) */
  connector?: "&&" | "||" | ";";
  pipeline: Pipeline;
}

export interface Script {
  steps: Step[];
}

/** Reserved words: only a shell could run what they start. */
const RESERVED = new Set([
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "case",
  "esac",
  "for",
  "select",
  "while",
  "until",
  "do",
  "done",
  "function",
  "time",
  "coproc",
  "{",
  "}",
  "[[",
  "]]",
  "!",
]);

/** bash builtins with no program of the same name to run instead (`cd` the runner does itself). */
const BUILTINS = new Set([
  ".",
  ":",
  "alias",
  "bg",
  "bind",
  "break",
  "builtin",
  "caller",
  "command",
  "compgen",
  "complete",
  "compopt",
  "continue",
  "declare",
  "dirs",
  "disown",
  "enable",
  "eval",
  "exec",
  "exit",
  "export",
  "fc",
  "fg",
  "getopts",
  "hash",
  "help",
  "history",
  "jobs",
  "let",
  "local",
  "logout",
  "mapfile",
  "popd",
  "pushd",
  "read",
  "readarray",
  "readonly",
  "return",
  "set",
  "shift",
  "shopt",
  "source",
  "suspend",
  "trap",
  "type",
  "typeset",
  "ulimit",
  "umask",
  "unalias",
  "unset",
  "wait",
]);

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

/** Parses and expands a command for the restricted executor; throws UnsupportedSyntax/ShellSyntaxError. */
export function parseScript(command: string, ctx: Omit<ExpandContext, "lenient">): Script {
  const { tokens, prepared } = lex(command);
  const x: ExpandContext = { ...ctx, lenient: false };
  const sq: SqItem[] = [];
  const steps: Step[] = [];
  let connector: Step["connector"];
  let pipeline: Pipeline = { commands: [], stderrToPipe: [] };
  let cur: Builder = new Builder(x, sq);

  const endCommand = (after: string) => {
    if (cur.empty()) throw new ShellSyntaxError(`\`${after}\` with no command before it`);
    pipeline.commands.push(cur.finish());
    cur = new Builder(x, sq);
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.t === "word") cur.word(t);
    else if (t.t === "redir") {
      const target = tokens[k + 1];
      if (target?.t !== "word") throw new ShellSyntaxError(`\`${t.op}\` with no file after it`);
      cur.redirect(t, target);
      k++;
    } else {
      sq.push({ op: t.op });
      endCommand(t.op);
      if (t.op === "|" || t.op === "|&") {
        pipeline.stderrToPipe.push(t.op === "|&");
        continue;
      }
      steps.push({ ...(connector ? { connector } : {}), pipeline });
      connector = t.op as "&&" | "||" | ";";
      pipeline = { commands: [], stderrToPipe: [] };
    }
  }
  if (!cur.empty()) {
    pipeline.commands.push(cur.finish());
  } else if (pipeline.commands.length > 0 || (connector && connector !== ";")) {
    const last = tokens.at(-1) as { op: ListOp };
    throw new ShellSyntaxError(`the command ends with \`${last.op}\``);
  }
  if (pipeline.commands.length > 0) steps.push({ ...(connector ? { connector } : {}), pipeline });
  if (steps.length === 0) throw new ShellSyntaxError("the command is empty");
  crossCheck(prepared, sq, ctx);
  return { steps };
}

/**
 * Trusted mode: the sub-commands bash will run, as far as a parser can see
 * them (substitutions and groups included), for deny rules only. Never throws
 * on syntax: bash decides what is valid here.
 */
export function visibleCommands(command: string, ctx: Omit<ExpandContext, "lenient">): string[][] {
  const x: ExpandContext = { ...ctx, lenient: true };
  const out: string[][] = [];
  let words: string[] = [];
  let atStart = true;
  const flush = () => {
    if (words.length > 0) out.push(words);
    words = [];
    atStart = true;
  };
  let tokens: Token[];
  try {
    tokens = lex(command, { lenient: true }).tokens;
  } catch {
    return [command.split(/\s+/).filter(Boolean)];
  }
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.t === "op") flush();
    else if (t.t === "redir") k++; // its target is a file, not a word of the command
    else {
      // `if`, `then`, `do`, `!` ... introduce the command after them.
      if (atStart && RESERVED.has(t.raw)) continue;
      let e: Expanded;
      try {
        e = expandWord(t, x, atStart && ASSIGNMENT.test(t.raw) ? "assignment" : "arg");
      } catch {
        e = { words: [t.raw], sqText: t.raw };
      }
      if (!(atStart && ASSIGNMENT.test(t.raw))) atStart = false;
      words.push(...e.words);
    }
  }
  flush();
  return out;
}

type SqItem = string | { op: string };

/** Gathers one simple command's words and redirects, in the order written. */
class Builder {
  private readonly env: [string, string][] = [];
  private readonly argv: string[] = [];
  private readonly redirects: Redirect[] = [];
  private sawWord = false;

  constructor(private readonly x: ExpandContext, private readonly sq: SqItem[]) {}

  empty(): boolean {
    return !this.sawWord && this.redirects.length === 0;
  }

  word(t: WordToken): void {
    const inPrefix = this.argv.length === 0;
    const assignment = inPrefix && isAssignment(t);
    if (inPrefix && !assignment) {
      if (RESERVED.has(t.raw)) {
        throw new UnsupportedSyntax(
          `the reserved word \`${t.raw}\``,
          "shell control flow needs a shell",
        );
      }
      if (/^[A-Za-z_][A-Za-z0-9_]*(\[|\+=)/.test(t.raw) && t.raw.includes("=")) {
        throw new UnsupportedSyntax(`the array or append assignment \`${t.raw.slice(0, 40)}\``);
      }
    }
    const e = this.expand(t, assignment ? "assignment" : "arg");
    this.sawWord = true;
    if (assignment) {
      const value = e.words[0];
      const eq = value.indexOf("=");
      this.env.push([value.slice(0, eq), value.slice(eq + 1)]);
      return;
    }
    if (inPrefix && e.words.length > 0 && BUILTINS.has(e.words[0])) {
      throw new UnsupportedSyntax(
        `the shell builtin \`${e.words[0]}\``,
        "no shell runs, so only programs (and cd) can be used",
      );
    }
    this.argv.push(...e.words);
  }

  redirect(t: RedirToken, target: WordToken): void {
    if (t.fd !== undefined) this.sq.push(String(t.fd));
    this.sq.push({ op: t.op });
    const e = this.expand(target, "redirect");
    if (e.words.length !== 1 || e.words[0] === "") {
      throw new ShellSyntaxError(`\`${t.op}\` needs a file name (got ${target.raw})`);
    }
    const path = e.words[0];
    const fd = t.fd;
    const bad = () => {
      throw new UnsupportedSyntax(
        `the redirect \`${fd ?? ""}${t.op}${path}\``,
        "only fds 0, 1 and 2 are supported",
      );
    };
    switch (t.op) {
      case "<":
        if (fd !== undefined && fd !== 0) bad();
        this.redirects.push({ kind: "read", path });
        break;
      case ">":
      case ">|":
      case ">>":
        if (fd !== undefined && fd !== 1 && fd !== 2) bad();
        this.redirects.push({ kind: "write", fd: (fd ?? 1) as 1 | 2, append: t.op === ">>", path });
        break;
      case "&>":
      case "&>>":
        this.redirects.push({ kind: "both", append: t.op === "&>>", path });
        break;
      case ">&":
        if (fd !== undefined && fd !== 1 && fd !== 2) bad();
        if (path === "1" || path === "2") {
          this.redirects.push({ kind: "dup", fd: (fd ?? 1) as 1 | 2, to: Number(path) as 1 | 2 });
        } else if (fd === undefined && !/^[0-9-]+$/.test(path)) {
          this.redirects.push({ kind: "both", append: false, path }); // `>&file` is `&>file`
        } else bad();
        break;
    }
  }

  finish(): SimpleCommand {
    if (this.argv.length === 0) {
      if (this.env.length > 0) {
        throw new UnsupportedSyntax(
          "a variable assignment without a command",
          "shell variables need a shell; write NAME=value before the program that needs it",
        );
      }
      throw new UnsupportedSyntax("a redirect without a command");
    }
    const words = [...this.env.map(([n, v]) => `${n}=${v}`), ...this.argv];
    return { words, env: this.env, argv: this.argv, redirects: this.redirects };
  }

  private expand(t: WordToken, role: WordRole): Expanded {
    const e = expandWord(t, this.x, role);
    this.sq.push(e.sqText);
    return e;
  }
}

/** `NAME=...` with the name and `=` unquoted, in command-prefix position. */
function isAssignment(t: WordToken): boolean {
  let name = "";
  for (const p of t.parts) {
    if (p.kind !== "lit" || p.quoted) return false;
    if (p.c === "=") return ASSIGNMENT.test(name + "=");
    name += p.c;
  }
  return false;
}

/**
 * shell-quote's reading of the same text must be the lexer's, token for
 * token: any difference means one of them misreads the command.
 */
function crossCheck(prepared: string, mine: SqItem[], ctx: Omit<ExpandContext, "lenient">): void {
  let theirs: SqItem[];
  try {
    const env = (key: string) => key === "PWD" ? ctx.cwd : ctx.env[key] ?? "";
    theirs = parseShell(prepared, env).map((t: unknown): SqItem => {
      if (typeof t === "string") return t;
      const o = t as { op?: string; pattern?: string; comment?: string };
      if (o.op === "glob") return o.pattern ?? "";
      if (o.op !== undefined) return { op: o.op };
      return { op: `#${o.comment ?? ""}` };
    });
  } catch (err) {
    throw new UnsupportedSyntax("a command shell-quote cannot parse", (err as Error).message);
  }
  const show = (t: SqItem | undefined) =>
    t === undefined ? "nothing" : typeof t === "string" ? JSON.stringify(t) : `\`${t.op}\``;
  const n = Math.max(theirs.length, mine.length);
  for (let k = 0; k < n; k++) {
    const a = mine[k];
    const b = theirs[k];
    const same = typeof a === "string" ? a === b : typeof b === "object" && a?.op === b.op;
    if (!same) {
      throw new UnsupportedSyntax(
        "quoting the two parsers read differently",
        `token ${k + 1}: the runner's lexer reads ${show(a)}, shell-quote reads ${show(b)}; ` +
          "simplify the quoting",
      );
    }
  }
}
