/**
 * Shell arithmetic (`$(( ))`, `(( ))`, the operands of `[[ a -eq b ]]`),
 * evaluated on text that is already expanded. It only computes: the grammar
 * has numbers, variable names, operators and parentheses, nothing else. A
 * variable's value is read as arithmetic too (as bash does), by this same
 * grammar, so a value like `a[$(touch M)]` is a syntax error here, never a
 * command (bash evaluates the subscript and runs it: the Go runner's
 * published bypass).
 */

export class ArithError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArithError";
  }
}

export interface ArithVars {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/** How deep a variable's value may refer to another variable's value. */
const MAX_VAR_DEPTH = 16;
const MAX_TEXT = 10_000;
/** Parenthesis depth (the evaluator recurses per level). */
const MAX_PARENS = 100;

const wrap = (x: bigint) => BigInt.asIntN(64, x);

type Tok = { t: "num"; v: bigint } | { t: "name"; v: string } | { t: "op"; v: string };

const OPS = [
  "<<=",
  ">>=",
  "**",
  "++",
  "--",
  "<<",
  ">>",
  "<=",
  ">=",
  "==",
  "!=",
  "&&",
  "||",
  "*=",
  "/=",
  "%=",
  "+=",
  "-=",
  "&=",
  "^=",
  "|=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "<",
  ">",
  "!",
  "~",
  "&",
  "^",
  "|",
  "?",
  ":",
  "=",
  "(",
  ")",
  ",",
];

function tokenize(src: string): Tok[] {
  if (src.length > MAX_TEXT) throw new ArithError("expression too long");
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n") {
      i++;
      continue;
    }
    const num = /^(0[xX][0-9A-Fa-f]+|[0-9]+#[0-9A-Za-z@_]+|[0-9]+)/.exec(src.slice(i, i + 80));
    if (num) {
      out.push({ t: "num", v: parseNumber(num[0]) });
      i += num[0].length;
      if (/[A-Za-z0-9_]/.test(src[i] ?? "")) {
        throw new ArithError(`value too great for base (error token is "${num[0]}${src[i]}")`);
      }
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 256));
    if (name) {
      out.push({ t: "name", v: name[0] });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) {
      throw new ArithError(`syntax error: operand expected (error token is "${src.slice(i)}")`);
    }
    out.push({ t: "op", v: op });
    i += op.length;
  }
  return out;
}

function parseNumber(text: string): bigint {
  if (/^0[xX]/.test(text)) return wrap(BigInt(text));
  const hash = text.indexOf("#");
  let base = 10;
  let digits = text;
  if (hash > 0) {
    base = Number(text.slice(0, hash));
    digits = text.slice(hash + 1);
  } else if (text.length > 1 && text[0] === "0") {
    base = 8;
    digits = text.slice(1);
  }
  if (base < 2 || base > 64) {
    throw new ArithError(`invalid arithmetic base (error token is "${text}")`);
  }
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_";
  let v = 0n;
  for (const ch of digits) {
    let d = alphabet.indexOf(ch);
    if (base <= 36 && d >= 36 && d < 62) d -= 26; // upper case is lower case below base 37
    if (d < 0 || d >= base) {
      throw new ArithError(`value too great for base (error token is "${text}")`);
    }
    v = wrap(v * BigInt(base) + BigInt(d));
  }
  return v;
}

/** Evaluates `src`; `vars` gives (and takes, for `=`, `++`) variable values. */
export function evaluate(src: string, vars: ArithVars, depth = 0): bigint {
  if (depth > MAX_VAR_DEPTH) throw new ArithError("expression recursion level exceeded");
  const toks = tokenize(src);
  if (toks.length === 0) return 0n;
  const ev = new Evaluator(toks, vars, depth);
  const v = ev.comma();
  if (ev.k < toks.length) {
    const rest = toks.slice(ev.k).map((t) => String(t.v)).join(" ");
    throw new ArithError(`syntax error in expression (error token is "${rest}")`);
  }
  return v;
}

/** A value assigned back into a variable, or undefined for a plain operand. */
type LValue = { name: string } | undefined;

class Evaluator {
  k = 0;
  /** inside the unevaluated branch of `&&`, `||`, `?:`: no assignments happen */
  private skip = 0;
  private parens = 0;

  constructor(
    private readonly toks: Tok[],
    private readonly vars: ArithVars,
    private readonly depth: number,
  ) {}

  private peek(v: string): boolean {
    const t = this.toks[this.k];
    return t?.t === "op" && t.v === v;
  }

  private eat(v: string): boolean {
    if (!this.peek(v)) return false;
    this.k++;
    return true;
  }

  private expect(v: string): void {
    if (!this.eat(v)) throw new ArithError(`syntax error: \`${v}' expected`);
  }

  comma(): bigint {
    let v = this.assign();
    while (this.eat(",")) v = this.assign();
    return v;
  }

  private read(name: string): bigint {
    const raw = this.vars.get(name);
    if (raw === undefined || raw.trim() === "") return 0n;
    return evaluate(raw, this.vars, this.depth + 1);
  }

  private write(name: string, v: bigint): bigint {
    if (this.skip === 0) this.vars.set(name, String(v));
    return v;
  }

  private assign(): bigint {
    const t = this.toks[this.k];
    const next = this.toks[this.k + 1];
    const ASSIGN = ["=", "*=", "/=", "%=", "+=", "-=", "<<=", ">>=", "&=", "^=", "|="];
    if (t?.t === "name" && next?.t === "op" && ASSIGN.includes(next.v)) {
      this.k += 2;
      const rhs = this.assign();
      if (next.v === "=") return this.write(t.v, rhs);
      const cur = this.read(t.v);
      return this.write(t.v, binary(next.v.slice(0, -1), cur, rhs));
    }
    return this.ternary();
  }

  private ternary(): bigint {
    const c = this.binaryLevel(0);
    if (!this.eat("?")) return c;
    if (c === 0n) this.skip++;
    const a = this.assign();
    if (c === 0n) this.skip--;
    this.expect(":");
    if (c !== 0n) this.skip++;
    const b = this.assign();
    if (c !== 0n) this.skip--;
    return c !== 0n ? a : b;
  }

  private static readonly LEVELS: string[][] = [
    ["||"],
    ["&&"],
    ["|"],
    ["^"],
    ["&"],
    ["==", "!="],
    ["<", ">", "<=", ">="],
    ["<<", ">>"],
    ["+", "-"],
    ["*", "/", "%"],
  ];

  private binaryLevel(level: number): bigint {
    if (level === Evaluator.LEVELS.length) return this.power();
    let v = this.binaryLevel(level + 1);
    for (;;) {
      const op = Evaluator.LEVELS[level].find((o) => this.peek(o));
      if (!op) return v;
      this.k++;
      if (op === "&&" || op === "||") {
        const short = op === "&&" ? v === 0n : v !== 0n;
        if (short) this.skip++;
        const r = this.binaryLevel(level + 1);
        if (short) this.skip--;
        v = short ? (op === "||" ? 1n : 0n) : (r !== 0n ? 1n : 0n);
        continue;
      }
      v = binary(op, v, this.binaryLevel(level + 1), this.skip > 0);
    }
  }

  private power(): bigint {
    const base = this.unary();
    if (!this.eat("**")) return base;
    const exp = this.power();
    if (exp < 0n) throw new ArithError("exponent less than 0");
    let r = 1n;
    for (let e = 0n, b = base; e < exp && e < 64n; e++) r = wrap(r * b);
    if (exp >= 64n && base !== 0n && base !== 1n && base !== -1n) return 0n;
    if (exp >= 64n && base === -1n) return exp % 2n === 0n ? 1n : -1n;
    return r;
  }

  private unary(): bigint {
    if (this.eat("!")) return this.unary() === 0n ? 1n : 0n;
    if (this.eat("~")) return wrap(~this.unary());
    if (this.eat("-")) return wrap(-this.unary());
    if (this.eat("+")) return this.unary();
    for (const op of ["++", "--"]) {
      if (this.peek(op)) {
        this.k++;
        const t = this.toks[this.k++];
        if (t?.t !== "name") throw new ArithError(`syntax error: \`${op}' needs a variable`);
        const v = wrap(this.read(t.v) + (op === "++" ? 1n : -1n));
        return this.write(t.v, v);
      }
    }
    return this.postfix();
  }

  private postfix(): bigint {
    const t = this.toks[this.k];
    if (t === undefined) throw new ArithError("syntax error: operand expected");
    this.k++;
    if (t.t === "num") return t.v;
    if (t.t === "name") {
      const v = this.read(t.v);
      const lv: LValue = { name: t.v };
      for (const op of ["++", "--"]) {
        if (this.eat(op)) {
          this.write(lv.name, wrap(v + (op === "++" ? 1n : -1n)));
          return v;
        }
      }
      return v;
    }
    if (t.v === "(") {
      if (++this.parens > MAX_PARENS) throw new ArithError("parentheses nested too deeply");
      const v = this.comma();
      this.parens--;
      this.expect(")");
      return v;
    }
    throw new ArithError(`syntax error: operand expected (error token is "${t.v}")`);
  }
}

function binary(op: string, a: bigint, b: bigint, skipping = false): bigint {
  switch (op) {
    case "|":
      return a | b;
    case "^":
      return a ^ b;
    case "&":
      return a & b;
    case "==":
      return a === b ? 1n : 0n;
    case "!=":
      return a !== b ? 1n : 0n;
    case "<":
      return a < b ? 1n : 0n;
    case ">":
      return a > b ? 1n : 0n;
    case "<=":
      return a <= b ? 1n : 0n;
    case ">=":
      return a >= b ? 1n : 0n;
    case "<<":
      return wrap(a << (b & 63n));
    case ">>":
      return a >> (b & 63n);
    case "+":
      return wrap(a + b);
    case "-":
      return wrap(a - b);
    case "*":
      return wrap(a * b);
    case "/":
    case "%":
      if (b === 0n) {
        if (skipping) return 0n;
        throw new ArithError("division by 0");
      }
      return op === "/" ? wrap(a / b) : wrap(a % b);
  }
  throw new ArithError(`unknown operator ${op}`);
}
