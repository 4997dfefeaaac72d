/**
 * One glob matcher for every place the runner matches a pattern against
 * text: permission rules (lib/policy/rules.ts, command_policy.ts,
 * url_policy.ts) and bash pathname expansion (lib/bash/expand.ts).
 *
 * Never a backtracking RegExp: a pattern such as `*a*a*a*a*a*a*b` against a
 * 60-character name took a RegExp seconds (issue 12). This matcher runs the
 * classic "remember the last star" algorithm: when a match fails after a
 * `*`, only the most recent `*` is ever extended, so the work is at most
 * (pattern length) x (text length) steps, whatever the pattern.
 *
 * Syntax (bash's, as `[[ $x == $p ]]` reads it): `*` any run, `?` one
 * character, `[abc]`, `[a-z]`, `[!a-z]` / `[^a-z]`, `[[:alpha:]]` classes,
 * a leading `]` in a bracket is a member, `\x` is a literal `x`, a `[`
 * without a closing `]` is literal. With `starOnly` (the permission rules'
 * syntax) only `*` is special and every other character is literal.
 */

/** How a pattern is read and matched. */
export interface GlobOptions {
  /**
   * `"any"` (default): `*` matches any run, `/` and spaces included (rules).
   * `"path"`: pathname expansion: `*`, `?` and brackets never match `/`, and
   * a `.` at the start of the text or after a `/` only matches a literal `.`.
   */
  mode?: "any" | "path";
  /** only `*` is special; `?`, `[` and `\` are literal (the permission rules' syntax) */
  starOnly?: boolean;
  /** match ignoring case (deny rules: they must not be dodged by `RM` or `Secrets`) */
  ignoreCase?: boolean;
}

/** A pattern the bash syntax cannot read, e.g. an unknown `[[:name:]]` class. */
export class GlobSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GlobSyntaxError";
  }
}

/** A compiled pattern; compile once, match many times. */
export interface GlobMatcher {
  readonly pattern: string;
  /** true when the whole of `text` matches */
  match(text: string): boolean;
}

/** Whether `text` matches `pattern` (compiles it each time: prefer compileGlob for reuse). */
export function globMatch(pattern: string, text: string, opts: GlobOptions = {}): boolean {
  return compileGlob(pattern, opts).match(text);
}

/** Compiles `pattern`; throws GlobSyntaxError for an unknown character class. */
export function compileGlob(pattern: string, opts: GlobOptions = {}): GlobMatcher {
  if (opts.starOnly && opts.mode !== "path") return starOnly(pattern, opts.ignoreCase ?? false);
  const tokens = tokenize(pattern, opts);
  const path = opts.mode === "path";
  const fold = opts.ignoreCase ?? false;
  return { pattern, match: (text) => run(tokens, Array.from(text), path, fold) };
}

/** Whether the pattern has any character the bash syntax treats as special (unescaped). */
export function hasGlobSyntax(pattern: string): boolean {
  return tokenize(pattern, {}).some((t) => t.k !== "lit");
}

/** Escapes `text` so the bash syntax matches it literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

// ---- the permission rules' syntax: literals separated by `*` ----

function starOnly(pattern: string, ignoreCase: boolean): GlobMatcher {
  const fold = (s: string) => ignoreCase ? s.toLowerCase() : s;
  const parts = fold(pattern).split("*");
  if (parts.length === 1) return { pattern, match: (text) => fold(text) === parts[0] };
  const head = parts[0];
  const tail = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p !== "");
  return {
    pattern,
    match(raw) {
      const text = fold(raw);
      if (text.length < head.length + tail.length) return false;
      if (!text.startsWith(head) || !text.endsWith(tail)) return false;
      // Leftmost placement of each middle literal is always best: it leaves the most room.
      let at = head.length;
      const end = text.length - tail.length;
      for (const lit of middle) {
        const found = text.indexOf(lit, at);
        if (found < 0 || found + lit.length > end) return false;
        at = found + lit.length;
      }
      return true;
    },
  };
}

// ---- the bash syntax ----

type Item = { from: string; to: string } | { cls: RegExp };
type Token =
  | { k: "lit"; c: string }
  | { k: "one" }
  | { k: "set"; negate: boolean; items: Item[] }
  | { k: "star" };

const CLASSES: Record<string, RegExp> = {
  alpha: /^\p{L}$/u,
  alnum: /^[\p{L}\p{N}]$/u,
  digit: /^[0-9]$/,
  lower: /^\p{Ll}$/u,
  upper: /^\p{Lu}$/u,
  space: /^\s$/u,
  blank: /^[ \t]$/,
  punct: /^[\p{P}\p{S}]$/u,
  xdigit: /^[0-9A-Fa-f]$/,
  word: /^[\p{L}\p{N}_]$/u,
  cntrl: /^\p{Cc}$/u,
  graph: /^[^\p{Cc}\s]$/u,
  print: /^[^\p{Cc}]$/u,
};

function tokenize(pattern: string, opts: GlobOptions): Token[] {
  const p = Array.from(pattern);
  const fold = opts.ignoreCase ?? false;
  const out: Token[] = [];
  for (let k = 0; k < p.length; k++) {
    const c = p[k];
    if (opts.starOnly) {
      out.push(c === "*" ? { k: "star" } : { k: "lit", c: fold ? c.toLowerCase() : c });
      continue;
    }
    if (c === "\\" && k + 1 < p.length) {
      k++;
      out.push({ k: "lit", c: fold ? p[k].toLowerCase() : p[k] });
    } else if (c === "*") {
      if (out.at(-1)?.k !== "star") out.push({ k: "star" }); // `**` is `*`
    } else if (c === "?") out.push({ k: "one" });
    else if (c === "[") {
      const set = bracket(p, k, opts.mode === "path");
      if (set) {
        out.push(set.token);
        k = set.end;
      } else out.push({ k: "lit", c: "[" });
    } else out.push({ k: "lit", c: fold ? c.toLowerCase() : c });
  }
  return out;
}

/** The bracket expression opening at `k`, or undefined when this `[` is literal. */
function bracket(p: string[], k: number, path: boolean): { token: Token; end: number } | undefined {
  let j = k + 1;
  let negate = false;
  if (p[j] === "!" || p[j] === "^") {
    negate = true;
    j++;
  }
  const items: Item[] = [];
  let first = true;
  for (; j < p.length; j++) {
    let c = p[j];
    if (path && c === "/") return undefined;
    if (c === "]" && !first) return { token: { k: "set", negate, items }, end: j };
    first = false;
    if (c === "[" && p[j + 1] === ":") {
      const close = findClassEnd(p, j + 2);
      if (close > 0) {
        const name = p.slice(j + 2, close).join("");
        const cls = CLASSES[name];
        if (!cls) throw new GlobSyntaxError(`unknown character class [:${name}:]`);
        items.push({ cls });
        j = close + 1;
        continue;
      }
    }
    if (c === "\\" && j + 1 < p.length) c = p[++j];
    if (p[j + 1] === "-" && j + 2 < p.length && p[j + 2] !== "]") {
      let to = p[j + 2];
      let skip = 2;
      if (to === "\\" && j + 3 < p.length) {
        to = p[j + 3];
        skip = 3;
      }
      items.push({ from: c, to });
      j += skip;
      continue;
    }
    items.push({ from: c, to: c });
  }
  return undefined;
}

function findClassEnd(p: string[], from: number): number {
  for (let x = from; x + 1 < p.length; x++) {
    if (p[x] === ":" && p[x + 1] === "]") return x;
    if (!/^[a-z]$/.test(p[x])) return -1;
  }
  return -1;
}

function inSet(tok: Extract<Token, { k: "set" }>, c: string, fold: boolean): boolean {
  const hit = (ch: string) =>
    tok.items.some((it) => "cls" in it ? it.cls.test(ch) : it.from <= ch && ch <= it.to);
  let found = hit(c);
  if (!found && fold) {
    const lo = c.toLowerCase();
    const up = c.toUpperCase();
    found = (lo !== c && hit(lo)) || (up !== c && hit(up));
  }
  return found !== tok.negate;
}

/**
 * The matching loop. Invariant: only the last `*` seen is ever extended;
 * earlier ones never need to be, because anything an earlier star could
 * absorb the later one can absorb too (classic glob matching, as in Russ
 * Cox's "Glob Matching Can Be Simple And Fast Too").
 */
function run(tokens: Token[], text: string[], path: boolean, fold: boolean): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = -1;
  // In path mode a dot that starts a name must be matched by a literal dot.
  const hiddenDot = (at: number) => path && text[at] === "." && (at === 0 || text[at - 1] === "/");
  while (p < tokens.length || t < text.length) {
    if (p < tokens.length) {
      const tok = tokens[p];
      if (tok.k === "star") {
        starP = p;
        starT = t;
        p++;
        continue;
      }
      if (t < text.length && one(tok, text[t], path, fold) && !(tok.k !== "lit" && hiddenDot(t))) {
        p++;
        t++;
        continue;
      }
    }
    // Mismatch: let the last star absorb one more character, if it may.
    if (starP >= 0 && starT < text.length && !(path && text[starT] === "/") && !hiddenDot(starT)) {
      starT++;
      p = starP + 1;
      t = starT;
      continue;
    }
    return false;
  }
  return true;
}

function one(tok: Token, c: string, path: boolean, fold: boolean): boolean {
  switch (tok.k) {
    case "lit":
      return tok.c === c || (fold && tok.c === c.toLowerCase());
    case "one":
      return !(path && c === "/");
    case "set":
      return !(path && c === "/") && inSet(tok, c, fold);
    default:
      return false;
  }
}
