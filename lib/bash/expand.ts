/**
 * Word expansion, done by the runner before the check so the rules see the
 * real words: `$NAME`/`${NAME}` from the environment the program will get,
 * `~` from its HOME, globs against the working directory. Quote removal
 * already happened in the lexer (each character knows whether it was quoted).
 *
 * Where bash would go on to split or re-glob an expanded value, the runner
 * refuses instead of guessing (an unquoted `$X` holding spaces or `*`), and
 * so does it for bash's own variables (`$RANDOM`, `$IFS`, ...) that no
 * environment holds.
 */
import { join } from "node:path";
import { type Part, UnsupportedSyntax, type WordToken } from "./lex.ts";
import {
  compileGlob,
  escapeGlob,
  type GlobMatcher,
  GlobSyntaxError,
} from "../policy/glob_match.ts";

export interface ExpandContext {
  /** the environment the programs will run with */
  env: Readonly<Record<string, string>>;
  /** the working directory: globs and `$PWD` */
  cwd: string;
  /** trusted mode: never refuse, expand what can be expanded */
  lenient: boolean;
}

export type WordRole = "arg" | "assignment" | "redirect";

export interface Expanded {
  /** the resulting words: none for an unquoted empty expansion, several for a glob */
  words: string[];
  /** the word as shell-quote should read it (vars expanded; no `~`, no glob) */
  sqText: string;
}

/** A character after quote removal and variable expansion. */
export interface Ch {
  c: string;
  /** quoted, or produced by an expansion: never a glob or brace character */
  q: boolean;
}

/** Variables bash sets itself: a program's environment would not give the value bash would. */
export const BASH_OWN = new Set([
  "BASH",
  "BASHOPTS",
  "BASHPID",
  "BASH_ALIASES",
  "BASH_ARGC",
  "BASH_ARGV",
  "BASH_ARGV0",
  "BASH_CMDS",
  "BASH_COMMAND",
  "BASH_LINENO",
  "BASH_SOURCE",
  "BASH_SUBSHELL",
  "BASH_VERSINFO",
  "BASH_VERSION",
  "DIRSTACK",
  "EPOCHREALTIME",
  "EPOCHSECONDS",
  "EUID",
  "FUNCNAME",
  "GROUPS",
  "HISTCMD",
  "HOSTNAME",
  "HOSTTYPE",
  "IFS",
  "LINENO",
  "MACHTYPE",
  "OLDPWD",
  "OPTARG",
  "OPTIND",
  "OSTYPE",
  "PIPESTATUS",
  "PPID",
  "RANDOM",
  "REPLY",
  "SECONDS",
  "SHELLOPTS",
  "SHLVL",
  "SRANDOM",
  "UID",
]);

const MAX_GLOB_MATCHES = 10_000;
const MAX_GLOB_DIRS = 2_000;

export function expandWord(tok: WordToken, ctx: ExpandContext, role: WordRole): Expanded {
  const chars: Ch[] = [];
  let sqText = "";
  let sawQuote = false;
  let sawVar = false;
  for (const part of tok.parts) {
    if (part.kind === "lit") {
      chars.push({ c: part.c, q: part.quoted });
      sqText += part.c;
      if (part.quoted) sawQuote = true;
      continue;
    }
    sawVar = true;
    if (part.quoted) sawQuote = true;
    const value = variable(part, ctx, role);
    sqText += value;
    for (const c of value) chars.push({ c, q: true });
  }
  // `"$EMPTY"` and `''` are empty words; an unquoted expansion to nothing is no word at all.
  if (chars.length === 0) return { words: sawQuote || !sawVar ? [""] : [], sqText };

  tilde(chars, ctx, role, tok.raw);
  if (role === "assignment") return { words: [text(chars)], sqText };
  if (!ctx.lenient) refuseBraces(chars, tok.raw);
  if (!hasGlob(chars)) return { words: [text(chars)], sqText };
  if (role === "redirect") {
    if (ctx.lenient) return { words: [text(chars)], sqText };
    throw new UnsupportedSyntax(`a glob in a redirect target (${tok.raw})`, "name the file");
  }
  let matches: string[];
  try {
    matches = glob(chars, ctx.cwd);
  } catch (err) {
    if (ctx.lenient) return { words: [text(chars)], sqText };
    throw err;
  }
  // No match leaves the word as written (bash without nullglob).
  return { words: matches.length > 0 ? matches : [text(chars)], sqText };
}

function variable(ref: Part & { kind: "var" }, ctx: ExpandContext, role: WordRole): string {
  const name = ref.name;
  if (name === "PWD") return ctx.cwd;
  if (!/^[A-Za-z_]/.test(name) || BASH_OWN.has(name)) {
    if (ctx.lenient) return ctx.env[name] ?? "";
    throw new UnsupportedSyntax(
      `bash's own variable \`$${name}\``,
      "no shell runs, so only environment variables are expanded",
    );
  }
  const value = ctx.env[name] ?? "";
  // Unquoted, bash would split the value at blanks and glob it: refuse rather than differ.
  if (!ref.quoted && role !== "assignment" && !ctx.lenient && /[\s*?[]/.test(value)) {
    throw new UnsupportedSyntax(
      `unquoted \`$${name}\` whose value has blanks or glob characters`,
      `bash would split or glob it; write "$${name}" to pass it as one word`,
    );
  }
  return value;
}

/** `~` and `~/x` at a word's start (and after `=` or `:` in an assignment) are $HOME. */
function tilde(chars: Ch[], ctx: ExpandContext, role: WordRole, raw: string): void {
  const starts: number[] = [];
  if (role === "assignment") {
    const eq = chars.findIndex((ch) => ch.c === "=");
    starts.push(eq + 1);
    for (let k = eq + 1; k < chars.length; k++) {
      if (chars[k].c === ":" && !chars[k].q) starts.push(k + 1);
    }
  } else starts.push(0);
  // Right to left, so earlier indexes stay valid as the text changes length.
  for (const s of starts.reverse()) {
    if (chars[s]?.c !== "~" || chars[s].q) continue;
    let e = s + 1;
    const stop = (ch: Ch) => ch.c === "/" || (role === "assignment" && ch.c === ":");
    while (e < chars.length && !stop(chars[e])) e++;
    const prefix = chars.slice(s, e);
    if (prefix.some((ch) => ch.q)) continue; // a quoted tilde-prefix is literal
    if (prefix.length > 1) {
      if (ctx.lenient) continue;
      throw new UnsupportedSyntax(
        `tilde expansion \`${text(prefix)}\` in ${raw}`,
        "only ~ and ~/path (your HOME) are expanded",
      );
    }
    const home = ctx.env.HOME;
    if (home === undefined) {
      if (ctx.lenient) continue;
      throw new UnsupportedSyntax("`~` with no HOME in the environment");
    }
    chars.splice(s, 1, ...Array.from(home, (c) => ({ c, q: true })));
  }
}

/** Brace expansion (`{a,b}`, `{1..3}`) is not performed, so a word that would use it is refused. */
function refuseBraces(chars: Ch[], raw: string): void {
  let open = -1;
  for (let k = 0; k < chars.length; k++) {
    const { c, q } = chars[k];
    if (q) continue;
    if (c === "{") open = open < 0 ? k : open;
    else if (c === "}" && open >= 0) {
      const inner = chars.slice(open + 1, k);
      const comma = inner.some((ch) => ch.c === "," && !ch.q);
      const dots = inner.some((ch, j) =>
        ch.c === "." && !ch.q && inner[j + 1]?.c === "." && !inner[j + 1].q
      );
      if (comma || dots) {
        throw new UnsupportedSyntax(
          `brace expansion in ${raw}`,
          "write the words out, or quote the braces",
        );
      }
    }
  }
}

function text(chars: readonly Ch[]): string {
  return chars.map((ch) => ch.c).join("");
}

export function hasGlob(chars: readonly Ch[]): boolean {
  return chars.some((ch, k) =>
    !ch.q && (ch.c === "*" || ch.c === "?" || (ch.c === "[" && bracketEnd(chars, k) > 0))
  );
}

/** Where the bracket expression opening at `k` closes, or -1 when `[` is literal. */
function bracketEnd(chars: readonly Ch[], k: number): number {
  let j = k + 1;
  if (chars[j] && !chars[j].q && (chars[j].c === "!" || chars[j].c === "^")) j++;
  if (chars[j]?.c === "]") j++; // a leading `]` is a member
  for (; j < chars.length; j++) {
    if (chars[j].c === "/") return -1;
    if (chars[j].c === "[" && chars[j + 1]?.c === ":") {
      const close = chars.findIndex((ch, x) =>
        x > j + 1 && ch.c === ":" && chars[x + 1]?.c === "]"
      );
      if (close > 0) {
        j = close + 1;
        continue;
      }
    }
    if (chars[j].c === "]" && !chars[j].q) return j;
  }
  return -1;
}

/**
 * One path segment's pattern, compiled by the linear-time matcher
 * (lib/policy/glob_match.ts): a backtracking RegExp took seconds on
 * `*a*a*a*a*a*a*b` against a 60-character name (issue 12).
 */
function segmentMatcher(seg: readonly Ch[]): GlobMatcher {
  const pattern = seg.map(({ c, q }) => q ? escapeGlob(c) : c).join("");
  try {
    return compileGlob(pattern, { mode: "path" });
  } catch (err) {
    if (err instanceof GlobSyntaxError) throw new UnsupportedSyntax(err.message);
    throw err;
  }
}

/** Pathname expansion, relative to `cwd`; sorted; refused when it would be huge. */
export function glob(chars: readonly Ch[], cwd: string): string[] {
  const segs: Ch[][] = [[]];
  for (const ch of chars) {
    if (ch.c === "/") segs.push([]);
    else segs.at(-1)!.push(ch);
  }
  const absolute = segs[0].length === 0 && segs.length > 1;
  let cands = [{ fs: absolute ? "/" : cwd, text: absolute ? "/" : "" }];
  const join1 = (t: string, name: string) =>
    t === "" || t.endsWith("/") ? t + name : `${t}/${name}`;
  let dirsRead = 0;
  for (let k = absolute ? 1 : 0; k < segs.length; k++) {
    const seg = segs[k];
    if (seg.length === 0) {
      const last = k === segs.length - 1;
      cands = cands.filter((c) => !last || isDir(c.fs)).map((c) => ({ ...c, text: c.text + "/" }));
      continue;
    }
    if (!hasGlob(seg)) {
      const name = text(seg);
      cands = cands.map((c) => ({ fs: join(c.fs, name), text: join1(c.text, name) }));
      continue;
    }
    const re = segmentMatcher(seg);
    const dotOk = seg[0].c === ".";
    const next: typeof cands = [];
    for (const c of cands) {
      if (++dirsRead > MAX_GLOB_DIRS) throw tooBroad(chars);
      let names: string[];
      try {
        names = Array.from(Deno.readDirSync(c.fs), (e) => e.name).sort();
      } catch {
        continue; // unreadable or not a directory: no matches there, as in bash
      }
      for (const name of names) {
        if (!dotOk && name.startsWith(".")) continue;
        if (!re.match(name)) continue;
        next.push({ fs: join(c.fs, name), text: join1(c.text, name) });
        if (next.length > MAX_GLOB_MATCHES) throw tooBroad(chars);
      }
    }
    cands = next;
  }
  return cands.filter((c) => exists(c.fs)).map((c) => c.text).sort();
}

function tooBroad(chars: readonly Ch[]): UnsupportedSyntax {
  return new UnsupportedSyntax(
    `a glob that matches too much (${text(chars)})`,
    `more than ${MAX_GLOB_MATCHES} paths or ${MAX_GLOB_DIRS} directories`,
  );
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
