/**
 * Word expansion at run time, in bash's order: braces, tilde, parameters /
 * command substitutions / arithmetic, field splitting, pathname expansion.
 * Each step is bounded (brace results, word size, glob matches); patterns
 * are matched by the linear-time matcher (lib/policy/glob_match.ts).
 */
import type { Node, ParamPart, Part, Word } from "./ast.ts";
import { ArithError, evaluate } from "./arith.ts";
import { type Ch, glob, hasGlob } from "./expand.ts";
import { UnsupportedSyntax } from "./lex.ts";
import {
  compileGlob,
  escapeGlob,
  type GlobMatcher,
  GlobSyntaxError,
} from "../policy/glob_match.ts";

/** Most words one brace expression may produce (`{1..100000}` is refused, not run). */
export const MAX_BRACE_WORDS = 10_000;
/** Longest expanded word, and all words of one command together. */
export const MAX_WORD_BYTES = 1 << 20;
/** `${x/pat/rep}` with a pattern is quadratic in the value: longer values are refused. */
const MAX_PATTERN_SUBJECT = 4_096;
/** `${x/pat/rep}` with a glob tries every substring: a tighter bound. */
const MAX_REPLACE_SUBJECT = 256;

/** An expansion error bash reports and then abandons the command (status 1). */
export class ExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExpansionError";
  }
}

/** What expansion needs from the interpreter. */
export interface ExpandHost {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  cwd(): string;
  /** runs the body of `$( )`; its output with trailing newlines removed */
  substitute(body: Node): Promise<string>;
}

/** A character and whether it is literal (quoted) or may split / glob. */
interface XCh extends Ch {
  /** came from an unquoted expansion: field splitting applies */
  split?: boolean;
}

type Atom = { c: string; q: boolean } | { part: Part };

/** Expands the words of a command (or a for list) into fields. */
export async function expandFields(words: readonly Word[], h: ExpandHost): Promise<string[]> {
  const out: string[] = [];
  let bytes = 0;
  for (const w of words) {
    for (const atoms of braces(toAtoms(w))) {
      for (const f of await fieldsOf(atoms, h)) {
        bytes += f.length;
        if (bytes > MAX_WORD_BYTES) {
          throw new UnsupportedSyntax(`an expansion larger than ${MAX_WORD_BYTES} bytes`);
        }
        out.push(f);
      }
    }
  }
  return out;
}

/** One word to one string: no splitting, no globbing (assignments, here-strings, `case` words). */
export async function expandString(w: Word, h: ExpandHost, tilde = true): Promise<string> {
  const atoms = toAtoms(w);
  const chars = await charsOf(tildeExpand(atoms, h, tilde), h);
  return chars.map((c) => c.c).join("");
}

/** A word read as a pattern (`case`, `[[ == ]]`, `${x#pat}`): quoted parts match literally. */
export async function expandPattern(w: Word, h: ExpandHost): Promise<GlobMatcher> {
  const chars = await charsOf(tildeExpand(toAtoms(w), h, true), h);
  return compilePattern(chars.map(({ c, q }) => q ? escapeGlob(c) : c).join(""));
}

export function compilePattern(pattern: string): GlobMatcher {
  try {
    return compileGlob(pattern, { mode: "any" });
  } catch (err) {
    if (err instanceof GlobSyntaxError) throw new ExpansionError(err.message);
    throw err;
  }
}

function toAtoms(w: Word): Atom[] {
  const out: Atom[] = [];
  for (const p of w) {
    if (p.k === "lit") {
      if (p.s === "") out.push({ c: "", q: true });
      for (const c of p.s) out.push({ c, q: p.q });
    } else out.push({ part: p });
  }
  return out;
}

const isLit = (a: Atom | undefined, c: string): boolean =>
  a !== undefined && "c" in a && !a.q && a.c === c;

/** Brace expansion over unquoted literal text; bounded. */
function braces(atoms: Atom[]): Atom[][] {
  const done: Atom[][] = [];
  const todo: Atom[][] = [atoms];
  while (todo.length > 0) {
    const w = todo.pop()!;
    const found = findBrace(w);
    if (!found) {
      done.push(w);
      if (done.length > MAX_BRACE_WORDS) throw braceBomb();
      continue;
    }
    const { open, close, alts } = found;
    const before = w.slice(0, open);
    const after = w.slice(close + 1);
    for (let k = alts.length - 1; k >= 0; k--) todo.push([...before, ...alts[k], ...after]);
    if (todo.length + done.length > MAX_BRACE_WORDS) throw braceBomb();
  }
  return done;
}

function braceBomb(): UnsupportedSyntax {
  return new UnsupportedSyntax(
    `brace expansion producing more than ${MAX_BRACE_WORDS} words`,
    "narrow the ranges",
  );
}

function findBrace(w: Atom[]): { open: number; close: number; alts: Atom[][] } | undefined {
  for (let open = 0; open < w.length; open++) {
    if (!isLit(w[open], "{")) continue;
    let depth = 0;
    const commas: number[] = [];
    for (let j = open + 1; j < w.length; j++) {
      if (isLit(w[j], "{")) depth++;
      else if (isLit(w[j], "}")) {
        if (depth > 0) {
          depth--;
          continue;
        }
        const inner = w.slice(open + 1, j);
        if (commas.length > 0) {
          const alts: Atom[][] = [];
          let from = open + 1;
          for (const c of [...commas, j]) {
            alts.push(w.slice(from, c));
            from = c + 1;
          }
          return { open, close: j, alts };
        }
        const seq = sequence(inner);
        if (seq) {
          return {
            open,
            close: j,
            alts: seq.map((s) => Array.from(s, (c) => ({ c, q: true }))),
          };
        }
        break; // `{x}` is literal; look for a later brace
      } else if (depth === 0 && isLit(w[j], ",")) commas.push(j);
    }
  }
  return undefined;
}

/** `{1..5}`, `{a..e}`, `{01..10..2}`. */
function sequence(inner: Atom[]): string[] | undefined {
  if (inner.some((a) => !("c" in a) || a.q)) return undefined;
  const text = inner.map((a) => (a as { c: string }).c).join("");
  const m = /^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$/.exec(text);
  if (!m) return undefined;
  const step = Math.abs(Number(m[3] ?? 1)) || 1;
  const num = /\d/.test(m[1]);
  if (num !== /\d/.test(m[2])) return undefined;
  const a = num ? Number(m[1]) : m[1].charCodeAt(0);
  const b = num ? Number(m[2]) : m[2].charCodeAt(0);
  const count = Math.floor(Math.abs(b - a) / step) + 1;
  if (count > MAX_BRACE_WORDS) throw braceBomb();
  const width = num && (/^-?0\d/.test(m[1]) || /^-?0\d/.test(m[2]))
    ? Math.max(m[1].length, m[2].length)
    : 0;
  const out: string[] = [];
  for (let k = 0, v = a; k < count; k++, v += a <= b ? step : -step) {
    if (!num) out.push(String.fromCharCode(v));
    else {
      const s = String(Math.abs(v)).padStart(width - (v < 0 ? 1 : 0), "0");
      out.push(v < 0 ? `-${s}` : s);
    }
  }
  return out;
}

/** `~` or `~/...` at the start: HOME. */
function tildeExpand(atoms: Atom[], h: ExpandHost, on: boolean): Atom[] {
  if (!on || !isLit(atoms[0], "~")) return atoms;
  const next = atoms[1];
  if (next !== undefined && !isLit(next, "/")) return atoms;
  const home = h.get("HOME");
  if (home === undefined) return atoms;
  return [...Array.from(home, (c) => ({ c, q: true })), ...atoms.slice(1)];
}

async function charsOf(atoms: Atom[], h: ExpandHost): Promise<XCh[]> {
  const out: XCh[] = [];
  for (const a of atoms) {
    if ("c" in a) {
      for (const c of a.c) out.push({ c, q: a.q });
      continue;
    }
    const value = await partValue(a.part, h);
    const q = a.part.q;
    for (const c of value) out.push({ c, q, split: !q });
    if (out.length > MAX_WORD_BYTES) {
      throw new UnsupportedSyntax(`an expansion larger than ${MAX_WORD_BYTES} bytes`);
    }
  }
  return out;
}

async function fieldsOf(atoms: Atom[], h: ExpandHost): Promise<string[]> {
  atoms = tildeExpand(atoms, h, true);
  const quotedSomewhere = atoms.some((a) => ("c" in a ? a.q : a.part.q));
  const chars = await charsOf(atoms, h);
  const ifs = h.get("IFS") ?? " \t\n";
  // Field splitting: unquoted expansion results split at IFS characters.
  const fields: XCh[][] = [];
  let cur: XCh[] = [];
  let curHasQuote = false;
  let pendingNonWs = false;
  for (const ch of chars) {
    if (ch.split && ifs.includes(ch.c)) {
      const ws = " \t\n".includes(ch.c);
      if (cur.length > 0 || curHasQuote || (!ws && pendingNonWs)) {
        fields.push(cur);
        cur = [];
        curHasQuote = false;
      } else if (!ws && !pendingNonWs && fields.length === 0) {
        fields.push([]); // a leading non-blank IFS char delimits an empty field
      }
      pendingNonWs = !ws;
      continue;
    }
    pendingNonWs = false;
    cur.push(ch);
    if (ch.q && !ch.split) curHasQuote = true;
  }
  if (cur.length > 0 || curHasQuote) fields.push(cur);
  if (fields.length === 0) {
    return quotedSomewhere && chars.length === 0 && onlyQuotedEmpty(atoms) ? [""] : [];
  }
  const out: string[] = [];
  for (const f of fields) {
    if (!hasGlob(f)) {
      out.push(f.map((c) => c.c).join(""));
      continue;
    }
    const matches = glob(f, h.cwd());
    out.push(...(matches.length > 0 ? matches : [f.map((c) => c.c).join("")]));
  }
  return out;
}

/** `""`, `"$empty"`: the word had a quoted part, so it is one empty field. */
function onlyQuotedEmpty(atoms: Atom[]): boolean {
  return atoms.some((a) => ("c" in a ? a.q : a.part.q));
}

async function partValue(p: Part, h: ExpandHost): Promise<string> {
  switch (p.k) {
    case "lit":
      return p.s;
    case "sub":
      return await h.substitute(p.body);
    case "arith": {
      const text = await expandString(p.expr, h, false);
      return String(arith(text, h));
    }
    case "param":
      return await param(p, h);
  }
}

export function arith(text: string, h: ExpandHost): bigint {
  try {
    return evaluate(text, { get: (n) => h.get(n), set: (n, v) => h.set(n, v) });
  } catch (err) {
    if (err instanceof ArithError) throw new ExpansionError(`${text.trim()}: ${err.message}`);
    throw err;
  }
}

async function param(p: ParamPart, h: ExpandHost): Promise<string> {
  const v = h.get(p.name);
  const arg = async () => p.arg ? await expandString(p.arg, h) : "";
  switch (p.op) {
    case undefined:
      return v ?? "";
    case "len":
      return String(Array.from(v ?? "").length);
    case ":-":
      return v ? v : await arg();
    case "-":
      return v !== undefined ? v : await arg();
    case ":=":
    case "=": {
      if (p.op === ":=" ? v : v !== undefined) return v!;
      const a = await arg();
      h.set(p.name, a);
      return a;
    }
    case ":+":
      return v ? await arg() : "";
    case "+":
      return v !== undefined ? await arg() : "";
    case ":?":
    case "?": {
      if (p.op === ":?" ? v : v !== undefined) return v!;
      const a = await arg();
      throw new ExpansionError(`${p.name}: ${a || "parameter null or not set"}`);
    }
    case "#":
    case "##":
    case "%":
    case "%%":
      return trim(v ?? "", await patternOf(p.arg, h), p.op);
    case "/":
    case "//":
      return replace(v ?? "", p, h);
    case "^^":
      return (v ?? "").toUpperCase();
    case ",,":
      return (v ?? "").toLowerCase();
    case "^":
      return (v ?? "").slice(0, 1).toUpperCase() + (v ?? "").slice(1);
    case ",":
      return (v ?? "").slice(0, 1).toLowerCase() + (v ?? "").slice(1);
    case ":": {
      const s = Array.from(v ?? "");
      let off = Number(arith(await expandString(p.arg ?? [], h), h));
      if (off < 0) off = Math.max(0, s.length + off);
      if (p.arg2 === undefined) return s.slice(off).join("");
      let len = Number(arith(await expandString(p.arg2, h), h));
      if (len < 0) {
        len = s.length - off + len;
        if (len < 0) throw new ExpansionError(`${p.name}: substring expression < 0`);
      }
      return s.slice(off, off + len).join("");
    }
  }
  throw new UnsupportedSyntax(`the parameter operator \`${p.op}\``);
}

async function patternOf(w: Word | undefined, h: ExpandHost): Promise<GlobMatcher> {
  return await expandPattern(w ?? [], h);
}

function trim(v: string, m: GlobMatcher, op: string): string {
  const s = Array.from(v);
  if (s.length > MAX_PATTERN_SUBJECT) {
    throw new UnsupportedSyntax(`a pattern removal on a value longer than ${MAX_PATTERN_SUBJECT}`);
  }
  const n = s.length;
  if (op === "#" || op === "##") {
    const order = op === "#" ? range(0, n) : range(n, 0);
    for (const k of order) if (m.match(s.slice(0, k).join(""))) return s.slice(k).join("");
  } else {
    const order = op === "%" ? range(n, 0) : range(0, n);
    for (const k of order) if (m.match(s.slice(k).join(""))) return s.slice(0, k).join("");
  }
  return v;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  if (from <= to) { for (let k = from; k <= to; k++) out.push(k); }
  else for (let k = from; k >= to; k--) out.push(k);
  return out;
}

async function replace(v: string, p: ParamPart, h: ExpandHost): Promise<string> {
  const rep = p.arg2 ? await expandString(p.arg2, h) : "";
  const chars = await charsOf(toAtoms(p.arg ?? []), h);
  const all = p.op === "//";
  if (chars.length === 0) return v;
  if (!hasGlob(chars)) {
    const pat = chars.map((c) => c.c).join("");
    return all ? v.split(pat).join(rep) : v.replace(pat, () => rep);
  }
  const m = compilePattern(chars.map(({ c, q }) => q ? escapeGlob(c) : c).join(""));
  const s = Array.from(v);
  if (s.length > MAX_REPLACE_SUBJECT) {
    throw new UnsupportedSyntax(
      `a pattern replacement on a value longer than ${MAX_REPLACE_SUBJECT}`,
    );
  }
  let out = "";
  let i = 0;
  while (i < s.length) {
    let matched = -1;
    for (let j = s.length; j > i; j--) {
      if (m.match(s.slice(i, j).join(""))) {
        matched = j;
        break;
      }
    }
    if (matched < 0) {
      out += s[i++];
      continue;
    }
    out += rep;
    i = matched;
    if (!all) return out + s.slice(i).join("");
  }
  return out;
}
