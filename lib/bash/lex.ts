/**
 * The raw-text pass over a command for trusted mode (lib/bash/visible.ts):
 * bash's quoting rules, with substitutions, subshells and the like read as
 * command boundaries and their insides scanned as commands too, so deny rules
 * see as much as a parser can. It never refuses in lenient mode: bash decides
 * what is valid there. The error classes here are shared with the restricted
 * interpreter's parser (lib/bash/syntax.ts).
 */
import { TaskError } from "../tasks/errors.ts";

/** One character of a word, and whether quoting made it literal. */
export interface Lit {
  kind: "lit";
  c: string;
  quoted: boolean;
}
/** `$NAME` / `${NAME}`: expanded by the runner (lib/bash/expand.ts). */
export interface VarRef {
  kind: "var";
  name: string;
  quoted: boolean;
}
export type Part = Lit | VarRef;

export interface WordToken {
  t: "word";
  parts: Part[];
  /** the raw text of the word, for messages */
  raw: string;
}
export type ListOp = "&&" | "||" | ";" | "|" | "|&";
export interface OpToken {
  t: "op";
  op: ListOp;
}
export type RedirOp = ">" | ">>" | ">|" | "<" | ">&" | "&>" | "&>>";
export interface RedirToken {
  t: "redir";
  /** the fd number written right before the operator (`2>`), if any */
  fd?: number;
  op: RedirOp;
}
export type Token = WordToken | OpToken | RedirToken;

export interface Lexed {
  tokens: Token[];
  /** the text shell-quote parses for the cross-check (see above) */
  prepared: string;
}

export const SUPPORTED =
  "Restricted mode interprets the script itself; every program it starts is checked by the rules. " +
  "Supported: commands, pipes, && || ; and newlines, if/elif/else, for, while/until, case, { }, ( ), " +
  "[ ]/test/[[ ]], (( )) and $(( )), $( ) and backticks, $VAR and ${VAR...} forms, $?, quotes and " +
  "$'...', here-documents and here-strings, {a,b} and {1..3}, globs, NAME=value, export, read, cd, " +
  "xargs/timeout/nice/nohup/env/command/exec, and redirects to workspace files.";

/** A construct the restricted executor does not run; the message names it and what is supported. */
export class UnsupportedSyntax extends TaskError {
  constructor(readonly construct: string, detail = "") {
    super(
      `command denied: unsupported shell syntax: ${construct}${detail ? ` (${detail})` : ""}. ` +
        SUPPORTED,
    );
    this.name = "UnsupportedSyntax";
  }
}

/** The text is not a well-formed command (unterminated quote, missing redirect target, ...). */
export class ShellSyntaxError extends TaskError {
  constructor(what: string) {
    super(`command denied: shell syntax error: ${what}`);
    this.name = "ShellSyntaxError";
  }
}

const BLANK = new Set([" ", "\t"]);
const META = new Set([" ", "\t", "\n", "|", "&", ";", "(", ")", "<", ">"]);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export interface LexOptions {
  /** trusted mode: never refuse; substitutions and groups become command boundaries */
  lenient?: boolean;
}

/** Lenient mode scans this many nested substitutions deep; deeper text is skipped (bounded work). */
const MAX_NESTING = 32;

export function lex(src: string, opts: LexOptions = {}): Lexed {
  return new Lexer(src, !!opts.lenient, 0).run();
}

class Lexer {
  private i = 0;
  private out = "";
  private readonly tokens: Token[] = [];

  constructor(
    private readonly src: string,
    private readonly lenient: boolean,
    private readonly depth: number,
  ) {}

  run(): Lexed {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i];
      if (BLANK.has(c)) {
        this.out += c;
        this.i++;
      } else if (c === "\n") {
        this.newline();
      } else if (c === "\r") {
        if (!this.lenient) {
          throw new UnsupportedSyntax(
            "a carriage return (\\r) outside quotes",
            "bash reads it as part of a word; use a newline or ;",
          );
        }
        this.boundary();
        this.i++;
      } else if (c === "#") {
        // At a word start `#` begins a comment that runs to the end of the line.
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
      } else if (c === "\\" && s[this.i + 1] === "\n") {
        this.i += 2; // line continuation between words
      } else if (c === "|" || c === "&" || c === ";" || c === "(" || c === ")") {
        this.operator(c);
      } else if (c === "<" || c === ">") {
        this.redirect(undefined);
      } else if (this.lenient && this.substitutionStart() > 0) {
        // Unquoted `$(`, `$((` and backticks: their insides are commands, scanned in line.
        this.i += this.substitutionStart();
        this.boundary();
      } else {
        this.word();
      }
    }
    return { tokens: this.tokens, prepared: this.out };
  }

  /** In lenient mode, the length of an unquoted substitution opener at `i` (0 if none). */
  private substitutionStart(): number {
    const s = this.src;
    if (s[this.i] === "`") return 1;
    if (s[this.i] !== "$") return 0;
    if (s.startsWith("$((", this.i)) return 3;
    return s[this.i + 1] === "(" || s[this.i + 1] === "[" ? 2 : 0;
  }

  private refuse(construct: string, detail?: string): never {
    throw new UnsupportedSyntax(construct, detail);
  }

  private push(t: Token): void {
    this.tokens.push(t);
  }

  /** Lenient mode's answer to a construct: end the current command. */
  private boundary(): void {
    const last = this.tokens.at(-1);
    if (last && !(last.t === "op" && last.op === ";")) this.push({ t: "op", op: ";" });
    this.out += " ; ";
  }

  private newline(): void {
    this.i++;
    const last = this.tokens.at(-1);
    // After an operator (or at the start) a newline only continues the line, as in bash.
    if (last === undefined || last.t === "op" || last.t === "redir") {
      this.out += " ";
      return;
    }
    this.push({ t: "op", op: ";" });
    this.out += ";";
  }

  private operator(c: string): void {
    const s = this.src;
    const two = s.slice(this.i, this.i + 2);
    if (two === "&&" || two === "||" || two === "|&") {
      this.push({ t: "op", op: two });
      this.out += two;
      this.i += 2;
      return;
    }
    if (two === "&>") return this.redirect(undefined);
    if (c === "|") {
      this.push({ t: "op", op: "|" });
      this.out += c;
      this.i++;
      return;
    }
    if (c === ";") {
      if (two === ";;" || two === ";&") {
        if (!this.lenient) this.refuse(`\`${two}\``, "case statements are not supported");
        this.i += 2;
        return this.boundary();
      }
      this.push({ t: "op", op: ";" });
      this.out += c;
      this.i++;
      return;
    }
    if (!this.lenient) {
      if (c === "&") this.refuse("background job `&`", "commands run in the foreground only");
      if (two === "((") this.refuse("arithmetic `(( ))`");
      if (c === "(") this.refuse("subshell `( ... )`", "run the commands without parentheses");
      this.refuse("`)` without a matching `(`", "case statements and subshells are not supported");
    }
    this.i++;
    this.boundary();
  }

  /** At `<` or `>` (or `&>`), with the fd number the caller already read. */
  private redirect(fd: number | undefined): void {
    const s = this.src.slice(this.i, this.i + 3);
    let op: RedirOp;
    if (s.startsWith("&>>")) op = "&>>";
    else if (s.startsWith("&>")) op = "&>";
    else if (s.startsWith("<<<")) return this.unsupported("here-string `<<<`", 3);
    else if (s.startsWith("<<")) {
      return this.unsupported("here-document `<<`", s[2] === "-" ? 3 : 2);
    } else if (s.startsWith("<(") || s.startsWith(">(")) {
      return this.unsupported(`process substitution \`${s.slice(0, 2)} ... )\``, 2);
    } else if (s.startsWith("<>")) return this.unsupported("read-write redirect `<>`", 2);
    else if (s.startsWith("<&")) return this.unsupported("input duplication `<&`", 2);
    else if (s.startsWith(">>")) op = ">>";
    else if (s.startsWith(">&")) op = ">&";
    else if (s.startsWith(">|")) op = ">|";
    else if (s.startsWith(">")) op = ">";
    else op = "<";
    this.push(fd === undefined ? { t: "redir", op } : { t: "redir", fd, op });
    this.out += op;
    this.i += op.length;
  }

  private unsupported(construct: string, len: number): void {
    if (!this.lenient) this.refuse(construct);
    this.i += len;
    this.boundary();
  }

  private word(): void {
    const s = this.src;
    const start = this.i;
    const parts: Part[] = [];
    const lit = (c: string, quoted: boolean) => parts.push({ kind: "lit", c, quoted });
    while (this.i < s.length) {
      const c = s[this.i];
      if (META.has(c)) {
        // `&&`/`&>` etc. end a word, but a lone `&` inside `a&b` also does in bash.
        break;
      }
      if (c === "\r") {
        if (!this.lenient) {
          this.refuse("a carriage return (\\r) outside quotes", "bash reads it as part of a word");
        }
        break;
      }
      if (this.lenient && this.substitutionStart() > 0) break;
      if (c === "\\") {
        const d = s[this.i + 1];
        if (d === undefined) {
          if (!this.lenient) throw new ShellSyntaxError("a trailing backslash");
          this.i++;
          break;
        }
        this.i += 2;
        if (d === "\n") continue; // line continuation, removed
        lit(d, true);
        this.out += c + d;
        continue;
      }
      if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) {
          if (!this.lenient) throw new ShellSyntaxError("unterminated single quote");
          this.i = s.length;
          break;
        }
        for (const ch of s.slice(this.i + 1, end)) lit(ch, true);
        this.out += s.slice(this.i, end + 1);
        this.i = end + 1;
        continue;
      }
      if (c === '"') {
        this.doubleQuoted(parts);
        continue;
      }
      if (c === "$") {
        this.dollar(parts, false);
        continue;
      }
      if (c === "`") {
        this.backtick();
        continue;
      }
      if (c === "#") {
        // Inside a word `#` is literal in bash, but shell-quote would start a comment.
        lit(c, false);
        this.out += "\\#";
        this.i++;
        continue;
      }
      lit(c, false);
      this.out += c;
      this.i++;
    }
    const raw = s.slice(start, this.i);
    const next = s[this.i];
    // `2>f`: a word of digits right before `<`/`>` is the fd number, not an argument.
    if ((next === "<" || next === ">") && /^[0-9]+$/.test(raw)) return this.redirect(Number(raw));
    // A word of only line continuations is nothing; `''` is an empty word.
    if (parts.length > 0 || /['"]/.test(raw)) this.push({ t: "word", parts, raw });
  }

  private doubleQuoted(parts: Part[]): void {
    const s = this.src;
    const lit = (c: string) => parts.push({ kind: "lit", c, quoted: true });
    this.out += '"';
    this.i++;
    for (;;) {
      if (this.i >= s.length) {
        if (!this.lenient) throw new ShellSyntaxError("unterminated double quote");
        this.out += '"';
        return;
      }
      const c = s[this.i];
      if (c === '"') {
        this.out += '"';
        this.i++;
        return;
      }
      if (c === "\\") {
        const d = s[this.i + 1];
        if (d === "\n") {
          this.i += 2;
          continue;
        }
        if (d === "$" || d === "`" || d === '"' || d === "\\") {
          lit(d);
          this.out += c + d;
          this.i += 2;
          continue;
        }
        lit("\\");
        this.out += c;
        this.i++;
        continue;
      }
      if (c === "$") {
        this.dollar(parts, true);
        continue;
      }
      if (c === "`") {
        this.backtick();
        continue;
      }
      lit(c);
      this.out += c;
      this.i++;
    }
  }

  /** At `$`: a variable the runner expands, or a construct it refuses. */
  private dollar(parts: Part[], quoted: boolean): void {
    const s = this.src;
    const d = s[this.i + 1];
    if (d === "(") {
      if (s[this.i + 2] === "(") return this.nested("arithmetic expansion `$(( ))`", 3, ")");
      return this.nested("command substitution `$( )`", 2, ")");
    }
    if (d === "[") return this.nested("arithmetic expansion `$[ ]`", 2, "]");
    if (d === "{") {
      const end = s.indexOf("}", this.i + 2);
      const inner = end < 0 ? "" : s.slice(this.i + 2, end);
      if (end >= 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(inner)) {
        parts.push({ kind: "var", name: inner, quoted });
        this.out += s.slice(this.i, end + 1);
        this.i = end + 1;
        return;
      }
      if (!this.lenient) {
        const shown = end < 0 ? "${" : `\${${inner.slice(0, 40)}}`;
        this.refuse(
          `parameter expansion \`${shown}\``,
          "only plain $NAME and ${NAME} are expanded",
        );
      }
      this.i = end < 0 ? s.length : end + 1;
      return;
    }
    if (!quoted && d === "'") {
      if (!this.lenient) this.refuse("ANSI-C quoting `$'...'`", "use plain quotes");
      this.i++; // lenient: read it as a plain single-quoted string
      return;
    }
    if (!quoted && d === '"') {
      if (!this.lenient) this.refuse('locale quoting `$"..."`', "use plain quotes");
      this.i++;
      return;
    }
    if (d !== undefined && NAME_START.test(d)) {
      let j = this.i + 1;
      while (j < s.length && NAME_CHAR.test(s[j])) j++;
      parts.push({ kind: "var", name: s.slice(this.i + 1, j), quoted });
      this.out += s.slice(this.i, j);
      this.i = j;
      return;
    }
    if (d !== undefined && /[0-9@*#?$!-]/.test(d)) {
      if (!this.lenient) {
        this.refuse(
          `special parameter \`$${d}\``,
          "there is no shell to hold positional parameters",
        );
      }
      parts.push({ kind: "var", name: d, quoted });
      this.i += 2;
      return;
    }
    if (!this.lenient) {
      this.refuse(
        "a `$` that starts no variable",
        "put a literal $ in single quotes, e.g. 'foo$'",
      );
    }
    parts.push({ kind: "lit", c: "$", quoted });
    this.i++;
  }

  private backtick(): void {
    if (!this.lenient) this.refuse("command substitution with backticks `...`");
    const s = this.src;
    let j = this.i + 1;
    while (j < s.length && s[j] !== "`") j += s[j] === "\\" ? 2 : 1;
    this.scanInside(s.slice(this.i + 1, Math.min(j, s.length)));
    this.i = Math.min(j + 1, s.length);
  }

  /** `$(`, `$((`, `$[`: refused, or (lenient) their insides scanned as commands. */
  private nested(construct: string, open: number, close: string): void {
    if (!this.lenient) this.refuse(construct);
    const s = this.src;
    const openCh = close === ")" ? "(" : "[";
    let depth = 1;
    let j = this.i + open;
    let quote = "";
    for (; j < s.length && depth > 0; j++) {
      const c = s[j];
      if (quote) {
        if (c === quote) quote = "";
        else if (c === "\\" && quote === '"') j++;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === "\\") j++;
      else if (c === openCh) depth++;
      else if (c === close) depth--;
    }
    const inner = s.slice(this.i + open, depth === 0 ? j - 1 : j);
    this.scanInside(inner);
    this.i = j;
  }

  private scanInside(inner: string): void {
    this.boundary();
    if (this.depth < MAX_NESTING) {
      for (const t of new Lexer(inner, true, this.depth + 1).run().tokens) this.push(t);
    }
    this.boundary();
  }
}
