/**
 * Trusted mode's view of a command: bash runs the string, and deny rules are
 * checked on every sub-command a parser can see in it (substitutions, groups
 * and loops included), as a guard against mistakes, not a boundary. The
 * lenient lexer (lib/bash/lex.ts) never refuses; bash decides what is valid.
 */
import { type ExpandContext, type Expanded, expandWord } from "./expand.ts";
import { lex, type Token } from "./lex.ts";

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

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

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
