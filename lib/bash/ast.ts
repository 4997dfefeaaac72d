/**
 * The parsed script the restricted interpreter walks (lib/bash/interp.ts).
 * Words stay unexpanded here: they are expanded when their statement runs,
 * in the directory and with the variables of that moment.
 */

/** Literal text; `q` when quoting made it literal (no globbing, splitting or braces). */
export interface LitPart {
  k: "lit";
  s: string;
  q: boolean;
}

/** `$NAME`, `${NAME}`, `${NAME op arg}`, `${#NAME}`, `$?`. */
export interface ParamPart {
  k: "param";
  name: string;
  /** the operator: `:-` `-` `:=` `=` `:+` `+` `:?` `?` `#` `##` `%` `%%` `/` `//` `^^` `,,` `^` `,` `:` `len` */
  op?: string;
  arg?: Word;
  /** for `/`: the replacement; for `:`: the length */
  arg2?: Word;
  q: boolean;
}

/** `$( ... )` or backticks: the inner script runs, its output replaces the part. */
export interface SubPart {
  k: "sub";
  body: Node;
  q: boolean;
}

/** `$(( ... ))`: the text is expanded, then evaluated by lib/bash/arith.ts (which runs nothing). */
export interface ArithPart {
  k: "arith";
  expr: Word;
  q: boolean;
}

export type Part = LitPart | ParamPart | SubPart | ArithPart;
export type Word = Part[];

export interface Assign {
  name: string;
  append: boolean;
  value: Word;
}

export type Redir =
  | { op: "<" | ">" | ">>" | ">|" | "&>" | "&>>" | "<<<"; fd?: number; target: Word }
  | { op: ">&"; fd?: number; target: Word }
  | { op: "<<"; fd?: number; body: Word; strip: boolean };

export interface Simple {
  k: "simple";
  assigns: Assign[];
  words: Word[];
  redirs: Redir[];
}

export interface Pipeline {
  k: "pipeline";
  bang: boolean;
  cmds: Node[];
  /** `|&` after stage k: its stderr goes down the pipe too */
  stderrToPipe: boolean[];
}

export interface AndOr {
  k: "andor";
  first: Node;
  rest: { op: "&&" | "||"; node: Node }[];
}

export interface Seq {
  k: "seq";
  items: Node[];
}

export interface If {
  k: "if";
  clauses: { cond: Node; body: Node }[];
  otherwise?: Node;
  redirs: Redir[];
}

export interface For {
  k: "for";
  name: string;
  /** undefined: `for x; do` (the positional parameters: none here) */
  items?: Word[];
  body: Node;
  redirs: Redir[];
}

export interface While {
  k: "while";
  until: boolean;
  cond: Node;
  body: Node;
  redirs: Redir[];
}

export interface Case {
  k: "case";
  word: Word;
  items: { patterns: Word[]; body?: Node; fall: boolean }[];
  redirs: Redir[];
}

export interface Group {
  k: "group";
  /** `( ... )` runs on a copy of the variables and directory */
  subshell: boolean;
  body: Node;
  redirs: Redir[];
}

/** `[[ ... ]]`: operators and words, evaluated without splitting or globbing. */
export interface Cond {
  k: "cond";
  items: (Word | { op: string })[];
  redirs: Redir[];
}

/** `(( ... ))` */
export interface ArithCmd {
  k: "arithcmd";
  expr: Word;
  redirs: Redir[];
}

export type Node =
  | Simple
  | Pipeline
  | AndOr
  | Seq
  | If
  | For
  | While
  | Case
  | Group
  | Cond
  | ArithCmd;

/** The literal text of a word with no expansions in it, or undefined. */
export function staticText(w: Word): string | undefined {
  let s = "";
  for (const p of w) {
    if (p.k !== "lit") return undefined;
    s += p.s;
  }
  return s;
}

/** Every node below (and including) `n`, depth first; substitutions inside words included. */
export function* walk(n: Node): Generator<Node> {
  yield n;
  const words = (ws: Word[]) => ws.flatMap((w) => w);
  const inner = function* (parts: Part[]): Generator<Node> {
    for (const p of parts) {
      if (p.k === "sub") yield* walk(p.body);
      if (p.k === "param") yield* inner([...(p.arg ?? []), ...(p.arg2 ?? [])]);
      if (p.k === "arith") yield* inner(p.expr);
    }
  };
  const redirParts = (rs: Redir[]) => rs.flatMap((r) => "target" in r ? r.target : r.body);
  switch (n.k) {
    case "simple":
      yield* inner([
        ...n.assigns.flatMap((a) => a.value),
        ...words(n.words),
        ...redirParts(n.redirs),
      ]);
      break;
    case "pipeline":
      for (const c of n.cmds) yield* walk(c);
      break;
    case "andor":
      yield* walk(n.first);
      for (const r of n.rest) yield* walk(r.node);
      break;
    case "seq":
      for (const c of n.items) yield* walk(c);
      break;
    case "if":
      for (const c of n.clauses) {
        yield* walk(c.cond);
        yield* walk(c.body);
      }
      if (n.otherwise) yield* walk(n.otherwise);
      yield* inner(redirParts(n.redirs));
      break;
    case "for":
      yield* inner(words(n.items ?? []));
      yield* walk(n.body);
      break;
    case "while":
      yield* walk(n.cond);
      yield* walk(n.body);
      yield* inner(redirParts(n.redirs));
      break;
    case "case":
      yield* inner([...n.word, ...words(n.items.flatMap((i) => i.patterns))]);
      for (const i of n.items) if (i.body) yield* walk(i.body);
      break;
    case "group":
      yield* walk(n.body);
      yield* inner(redirParts(n.redirs));
      break;
    case "cond":
      yield* inner(n.items.flatMap((i) => Array.isArray(i) ? i : []));
      break;
    case "arithcmd":
      yield* inner(n.expr);
      break;
  }
}
