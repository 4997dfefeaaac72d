/**
 * The restricted interpreter's parser: bash's grammar for what investigations
 * send (lists, pipelines, if/for/while/until/case, groups, `[[ ]]`, `(( ))`,
 * here-documents) into the tree of lib/bash/ast.ts. It decides nothing about
 * what may run: every program start is checked by the gate when it happens
 * (lib/bash/interp.ts). What it does not read is refused with the construct
 * named, never guessed at.
 */
import type {
  ArithCmd,
  Assign,
  Case,
  Cond,
  For,
  Group,
  If,
  Node,
  Part,
  Pipeline,
  Redir,
  Simple,
  While,
  Word,
} from "./ast.ts";
import { ShellSyntaxError, UnsupportedSyntax } from "./lex.ts";

/** Nesting of groups, loops and substitutions the parser follows (bounded recursion). */
const MAX_DEPTH = 64;

const META = new Set([" ", "\t", "\n", "|", "&", ";", "(", ")", "<", ">"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Words that end a list when they start a command. */
const CLOSERS = new Set(["then", "elif", "else", "fi", "do", "done", "esac", "}"]);

export function parseInterp(src: string): Node {
  const p = new Parser(src, 0);
  const n = p.list([], []);
  p.end();
  return n;
}

type Mode = "dq" | "param" | "arith" | "heredoc";

interface Pending {
  redir: Redir & { op: "<<" };
  delim: string;
  quoted: boolean;
}

class Parser {
  i = 0;
  private nest = 0;
  private pending: Pending[] = [];

  constructor(private readonly s: string, private readonly depth: number) {
    if (depth > MAX_DEPTH) throw new UnsupportedSyntax(`nesting deeper than ${MAX_DEPTH} levels`);
  }

  end(): void {
    this.blanks();
    if (this.i < this.s.length) {
      throw new ShellSyntaxError(`unexpected \`${this.s.slice(this.i, this.i + 10)}\``);
    }
    if (this.pending.length > 0) this.heredocs();
  }

  // ---- lexical helpers ----

  private at(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }

  /** Skips blanks, line continuations and comments (not newlines). */
  private blanks(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === " " || c === "\t") this.i++;
      else if (c === "\\" && s[this.i + 1] === "\n") this.i += 2;
      else if (c === "#") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
      } else if (c === "\r") {
        throw new UnsupportedSyntax(
          "a carriage return (\\r) outside quotes",
          "bash reads it as part of a word; use a newline or ;",
        );
      } else break;
    }
  }

  /** Consumes one newline, then the bodies of here-documents started on its line. */
  private newline(): void {
    this.i++;
    if (this.pending.length > 0) this.heredocs();
  }

  /** Blanks and newlines. */
  private linebreaks(): void {
    for (;;) {
      this.blanks();
      if (this.s[this.i] === "\n") this.newline();
      else return;
    }
  }

  /** The next word's raw text if it is plain (no quotes or expansions) and followed by a delimiter. */
  private peekPlain(): string | undefined {
    this.blanks();
    let j = this.i;
    while (j < this.s.length && !META.has(this.s[j]) && !"'\"\\$`".includes(this.s[j])) j++;
    if (j === this.i) return undefined;
    if (j < this.s.length && !META.has(this.s[j])) return undefined;
    return this.s.slice(this.i, j);
  }

  private reserved(w: string): boolean {
    if (this.peekPlain() !== w) return false;
    this.i += w.length;
    return true;
  }

  private expectWord(w: string, what: string): void {
    this.linebreaks();
    if (!this.reserved(w)) {
      throw new ShellSyntaxError(`expected \`${w}\` ${what}, found ${this.shown()}`);
    }
  }

  private shown(): string {
    return this.i >= this.s.length
      ? "the end of the command"
      : `\`${this.s.slice(this.i, this.i + 12).split("\n")[0]}\``;
  }

  // ---- grammar ----

  /** A list of and-or lists, up to a closing word, a closing character, or the end. */
  list(stopWords: string[], stopChars: string[]): Node {
    const items: Node[] = [];
    for (;;) {
      this.linebreaks();
      if (this.i >= this.s.length) break;
      if (stopChars.some((c) => this.at(c))) break;
      const w = this.peekPlain();
      if (w !== undefined && (stopWords.includes(w) || CLOSERS.has(w))) break;
      items.push(this.andOr());
      this.blanks();
      if (this.at(";;") || this.at(";&")) break;
      if (this.s[this.i] === ";") {
        this.i++;
        continue;
      }
      if (this.s[this.i] === "\n") continue;
      if (this.s[this.i] === "&") {
        throw new UnsupportedSyntax("background job `&`", "commands run in the foreground only");
      }
      break;
    }
    if (items.length === 0) {
      throw new ShellSyntaxError(`expected a command, found ${this.shown()}`);
    }
    return items.length === 1 ? items[0] : { k: "seq", items };
  }

  private andOr(): Node {
    const first = this.pipeline();
    const rest: { op: "&&" | "||"; node: Node }[] = [];
    for (;;) {
      this.blanks();
      const op = this.at("&&") ? "&&" : this.at("||") ? "||" : undefined;
      if (!op) break;
      this.i += 2;
      this.linebreaks();
      rest.push({ op, node: this.pipeline() });
    }
    return rest.length === 0 ? first : { k: "andor", first, rest };
  }

  private pipeline(): Node {
    let bang = false;
    while (this.reserved("!")) bang = !bang || bang; // `! !` is still one negation in effect
    const cmds = [this.command()];
    const stderrToPipe: boolean[] = [];
    for (;;) {
      this.blanks();
      if (this.at("||") || this.s[this.i] !== "|") break;
      const both = this.at("|&");
      this.i += both ? 2 : 1;
      stderrToPipe.push(both);
      this.linebreaks();
      cmds.push(this.command());
    }
    if (cmds.length === 1 && !bang) return cmds[0];
    const p: Pipeline = { k: "pipeline", bang, cmds, stderrToPipe };
    return p;
  }

  private command(): Node {
    if (++this.nest > MAX_DEPTH) {
      throw new UnsupportedSyntax(`nesting deeper than ${MAX_DEPTH} levels`);
    }
    try {
      return this.command1();
    } finally {
      this.nest--;
    }
  }

  private command1(): Node {
    this.blanks();
    if (this.at("((")) return this.arithCommand();
    if (this.s[this.i] === "(") {
      this.i++;
      const body = this.list([], [")"]);
      this.closeParen("subshell");
      return this.withRedirs<Group>({ k: "group", subshell: true, body, redirs: [] });
    }
    const w = this.peekPlain();
    switch (w) {
      case "{": {
        this.i++;
        const body = this.list(["}"], []);
        this.expectWord("}", "to close `{`");
        return this.withRedirs<Group>({ k: "group", subshell: false, body, redirs: [] });
      }
      case "if":
        return this.ifCommand();
      case "for":
        return this.forCommand();
      case "while":
      case "until":
        return this.whileCommand(w);
      case "case":
        return this.caseCommand();
      case "[[":
        return this.condCommand();
      case "function":
      case "select":
      case "coproc":
      case "time":
        throw new UnsupportedSyntax(`the reserved word \`${w}\``);
    }
    if (w !== undefined && (CLOSERS.has(w) || w === "]]")) {
      throw new ShellSyntaxError(`unexpected \`${w}\``);
    }
    return this.simple();
  }

  private closeParen(what: string): void {
    this.linebreaks();
    if (this.s[this.i] !== ")") throw new ShellSyntaxError(`\`(\` of a ${what} is not closed`);
    this.i++;
  }

  private withRedirs<T extends { redirs: Redir[] }>(n: T): T {
    for (;;) {
      this.blanks();
      const r = this.redirect();
      if (!r) return n;
      n.redirs.push(r);
    }
  }

  private ifCommand(): If {
    this.i += 2;
    const clauses: If["clauses"] = [];
    let otherwise: Node | undefined;
    for (;;) {
      const cond = this.list(["then"], []);
      this.expectWord("then", "after the `if` condition");
      const body = this.list(["elif", "else", "fi"], []);
      clauses.push({ cond, body });
      this.linebreaks();
      if (this.reserved("elif")) continue;
      if (this.reserved("else")) {
        otherwise = this.list(["fi"], []);
        this.expectWord("fi", "to close `if`");
        break;
      }
      this.expectWord("fi", "to close `if`");
      break;
    }
    return this.withRedirs<If>({ k: "if", clauses, otherwise, redirs: [] });
  }

  private forCommand(): For {
    this.i += 3;
    this.blanks();
    if (this.at("((")) throw new UnsupportedSyntax("arithmetic for loop `for ((...))`");
    const name = this.peekPlain();
    if (name === undefined || !NAME.test(name)) {
      throw new ShellSyntaxError(`\`for\` needs a variable name, found ${this.shown()}`);
    }
    this.i += name.length;
    let items: Word[] | undefined;
    this.linebreaks();
    if (this.reserved("in")) {
      items = [];
      for (;;) {
        this.blanks();
        const c = this.s[this.i];
        if (c === undefined || c === ";" || c === "\n") break;
        if (META.has(c)) throw new ShellSyntaxError(`unexpected \`${c}\` in a for list`);
        items.push(this.word());
      }
      if (this.s[this.i] === ";") this.i++;
    } else if (this.s[this.i] === ";") this.i++;
    this.expectWord("do", "in a for loop");
    const body = this.list(["done"], []);
    this.expectWord("done", "to close `for`");
    return this.withRedirs<For>({ k: "for", name, items, body, redirs: [] });
  }

  private whileCommand(w: "while" | "until"): While {
    this.i += w.length;
    const cond = this.list(["do"], []);
    this.expectWord("do", `after the \`${w}\` condition`);
    const body = this.list(["done"], []);
    this.expectWord("done", `to close \`${w}\``);
    return this.withRedirs<While>({ k: "while", until: w === "until", cond, body, redirs: [] });
  }

  private caseCommand(): Case {
    this.i += 4;
    this.blanks();
    const word = this.word();
    this.expectWord("in", "after the `case` word");
    const items: Case["items"] = [];
    for (;;) {
      this.linebreaks();
      if (this.reserved("esac")) break;
      if (this.s[this.i] === "(") this.i++;
      const patterns: Word[] = [];
      for (;;) {
        this.blanks();
        patterns.push(this.word());
        this.blanks();
        if (this.s[this.i] === "|") {
          this.i++;
          continue;
        }
        if (this.s[this.i] !== ")") {
          throw new ShellSyntaxError(`a case pattern must end with \`)\`, found ${this.shown()}`);
        }
        this.i++;
        break;
      }
      this.linebreaks();
      let body: Node | undefined;
      if (!this.at(";;") && !this.at(";&") && this.peekPlain() !== "esac") {
        body = this.list(["esac"], []);
      }
      this.linebreaks();
      let fall = false;
      if (this.at(";;&")) throw new UnsupportedSyntax("the case terminator `;;&`");
      if (this.at(";;")) this.i += 2;
      else if (this.at(";&")) {
        this.i += 2;
        fall = true;
      } else if (this.peekPlain() !== "esac") {
        throw new ShellSyntaxError(`expected \`;;\` or \`esac\`, found ${this.shown()}`);
      }
      items.push({ patterns, body, fall });
    }
    return this.withRedirs<Case>({ k: "case", word, items, redirs: [] });
  }

  private condCommand(): Cond {
    this.i += 2;
    const items: Cond["items"] = [];
    for (;;) {
      this.blanks();
      if (this.i >= this.s.length) throw new ShellSyntaxError("`[[` is not closed by `]]`");
      if (this.s[this.i] === "\n") {
        this.newline();
        continue;
      }
      if (this.peekPlain() === "]]") {
        this.i += 2;
        break;
      }
      const op = ["&&", "||", "(", ")", "<", ">", "!"].find((o) =>
        this.at(o) && (o !== "!" || this.peekPlain() === "!")
      );
      if (op) {
        items.push({ op });
        this.i += op.length;
        continue;
      }
      const w = this.word();
      items.push(w);
    }
    return this.withRedirs<Cond>({ k: "cond", items, redirs: [] });
  }

  private arithCommand(): ArithCmd {
    this.i += 2;
    const expr = this.parts("arith");
    return this.withRedirs<ArithCmd>({ k: "arithcmd", expr, redirs: [] });
  }

  private simple(): Simple {
    const n: Simple = { k: "simple", assigns: [], words: [], redirs: [] };
    for (;;) {
      this.blanks();
      const c = this.s[this.i];
      if (c === undefined) break;
      const r = this.redirect();
      if (r) {
        n.redirs.push(r);
        continue;
      }
      if (META.has(c)) {
        if (c === "(" && n.words.length === 1 && n.assigns.length === 0) {
          throw new UnsupportedSyntax("a function definition `name() { ... }`");
        }
        if (c === "(") throw new ShellSyntaxError("unexpected `(`");
        break;
      }
      if (n.words.length === 0) {
        const a = this.assignment();
        if (a) {
          n.assigns.push(a);
          continue;
        }
      }
      n.words.push(this.word());
    }
    if (n.words.length === 0 && n.assigns.length === 0 && n.redirs.length === 0) {
      throw new ShellSyntaxError(`expected a command, found ${this.shown()}`);
    }
    return n;
  }

  /** `NAME=value` / `NAME+=value` in command-prefix position. */
  private assignment(): Assign | undefined {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\+?=)/.exec(this.s.slice(this.i, this.i + 256));
    if (!m) {
      if (/^[A-Za-z_][A-Za-z0-9_]*\[[^\]\s]*\]\+?=/.test(this.s.slice(this.i, this.i + 256))) {
        throw new UnsupportedSyntax("an array element assignment `name[i]=value`");
      }
      return undefined;
    }
    this.i += m[0].length;
    if (this.s[this.i] === "(") throw new UnsupportedSyntax("an array assignment `name=(...)`");
    const value = this.i < this.s.length && !META.has(this.s[this.i]) ? this.word() : [];
    return { name: m[1], append: m[2] === "+=", value };
  }

  /** A redirect at the cursor (with its fd number), or undefined. */
  private redirect(): Redir | undefined {
    const m = /^([0-9]*)(&>>|&>|>>|>\||>&|>|<<<|<<-|<<|<&|<>|<)/.exec(
      this.s.slice(this.i, this.i + 24),
    );
    if (!m) return undefined;
    if (m[2] === "&>" && this.at("&>") === false) return undefined;
    const fd = m[1] === "" ? undefined : Number(m[1]);
    if (m[1] !== "" && m[2].startsWith("&")) return undefined; // `2&>` is a word then `&>`
    const op = m[2];
    if (op === "<" && this.s[this.i + m[0].length] === "(") {
      throw new UnsupportedSyntax("process substitution `<( ... )`");
    }
    if (op === ">" && this.s[this.i + m[0].length] === "(") {
      throw new UnsupportedSyntax("process substitution `>( ... )`");
    }
    if (op === "<>") throw new UnsupportedSyntax("read-write redirect `<>`");
    if (op === "<&") throw new UnsupportedSyntax("input duplication `<&`");
    if (fd !== undefined && fd > 2) {
      throw new UnsupportedSyntax(`the redirect \`${m[0]}\``, "only fds 0, 1 and 2 are supported");
    }
    this.i += m[0].length;
    this.blanks();
    const c = this.s[this.i];
    if (c === undefined || META.has(c)) {
      throw new ShellSyntaxError(`\`${op}\` with no file after it`);
    }
    if (op === "<<" || op === "<<-") {
      const start = this.i;
      this.word();
      const raw = this.s.slice(start, this.i);
      const quoted = /['"\\]/.test(raw);
      const delim = raw.replace(/\\(.)/g, "$1").replace(/['"]/g, "");
      const r = { op: "<<" as const, fd, body: [] as Word, strip: op === "<<-" };
      this.pending.push({ redir: r, delim, quoted });
      return r;
    }
    const target = this.word();
    return { op: op as "<", fd, target };
  }

  private heredocs(): void {
    const list = this.pending;
    this.pending = [];
    for (const h of list) {
      const lines: string[] = [];
      let found = false;
      while (this.i < this.s.length) {
        let nl = this.s.indexOf("\n", this.i);
        if (nl < 0) nl = this.s.length;
        let line = this.s.slice(this.i, nl);
        this.i = Math.min(nl + 1, this.s.length);
        if (h.redir.strip) line = line.replace(/^\t+/, "");
        if (line === h.delim) {
          found = true;
          break;
        }
        lines.push(line);
      }
      if (!found && lines.length === 0 && h.delim !== "") {
        throw new ShellSyntaxError(`the here-document \`<<${h.delim}\` has no body`);
      }
      const text = lines.map((l) => l + "\n").join("");
      h.redir.body = h.quoted
        ? [{ k: "lit", s: text, q: true }]
        : new Parser(text, this.depth + 1).parts("heredoc");
    }
  }

  // ---- words ----

  /** One shell word: quotes, escapes, `$...`, backticks and literal text, up to a delimiter. */
  word(): Word {
    const s = this.s;
    const out: Part[] = [];
    const lit = (c: string, q: boolean) => pushLit(out, c, q);
    const start = this.i;
    while (this.i < s.length) {
      const c = s[this.i];
      if (META.has(c)) break;
      if (c === "\r") {
        throw new UnsupportedSyntax(
          "a carriage return (\\r) outside quotes",
          "bash reads it as part of a word",
        );
      }
      if (c === "\\") {
        const d = s[this.i + 1];
        if (d === undefined) throw new ShellSyntaxError("a trailing backslash");
        this.i += 2;
        if (d !== "\n") lit(d, true);
        continue;
      }
      if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) throw new ShellSyntaxError("unterminated single quote");
        lit(s.slice(this.i + 1, end), true);
        this.i = end + 1;
        continue;
      }
      if (c === '"') {
        this.i++;
        const inner = this.parts("dq");
        if (inner.length === 0) lit("", true);
        out.push(...inner);
        continue;
      }
      if (c === "$" || c === "`") {
        out.push(this.dollar(false));
        continue;
      }
      lit(c, false);
      this.i++;
    }
    if (this.i === start) throw new ShellSyntaxError(`expected a word, found ${this.shown()}`);
    return out;
  }

  /**
   * Text inside double quotes, a `${...}` argument, `$(( ))` or a here-document
   * body, up to its end (which is consumed).
   */
  parts(mode: Mode, stop = "}"): Word {
    const s = this.s;
    const out: Part[] = [];
    const q = mode === "dq" || mode === "heredoc";
    let parens = 0;
    for (;;) {
      const c = s[this.i];
      if (c === undefined) {
        if (mode === "heredoc") return out;
        throw new ShellSyntaxError(
          mode === "dq"
            ? "unterminated double quote"
            : mode === "arith"
            ? "`$((` or `((` is not closed by `))`"
            : "`${` is not closed by `}`",
        );
      }
      if (mode === "dq" && c === '"') {
        this.i++;
        return out;
      }
      if (mode === "param" && stop.includes(c)) return out; // the caller consumes the stop
      if (mode === "arith") {
        if (c === "(") parens++;
        if (c === ")") {
          if (parens === 0 && s[this.i + 1] === ")") {
            this.i += 2;
            return out;
          }
          if (parens === 0) throw new ShellSyntaxError("unbalanced `)` in arithmetic");
          parens--;
        }
      }
      if (c === "\\") {
        const d = s[this.i + 1];
        if (d === "\n") {
          this.i += 2;
          continue;
        }
        const special = mode === "dq"
          ? '$`"\\'
          : mode === "heredoc"
          ? "$`\\"
          : mode === "param"
          ? "$`\"'\\}/:"
          : "$`\\";
        if (d !== undefined && special.includes(d)) {
          pushLit(out, d, true);
          this.i += 2;
        } else {
          pushLit(out, "\\", q);
          this.i++;
        }
        continue;
      }
      if (c === "$" || c === "`") {
        out.push(this.dollar(q));
        continue;
      }
      if (!q && c === "'") {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) throw new ShellSyntaxError("unterminated single quote");
        pushLit(out, s.slice(this.i + 1, end), true);
        this.i = end + 1;
        continue;
      }
      if (!q && c === '"') {
        this.i++;
        const inner = this.parts("dq");
        if (inner.length === 0) pushLit(out, "", true);
        out.push(...inner);
        continue;
      }
      pushLit(out, c, q);
      this.i++;
    }
  }

  /** At `$` or a backtick: an expansion part (or a literal `$`). */
  private dollar(quoted: boolean): Part {
    const s = this.s;
    if (s[this.i] === "`") return this.backtick(quoted);
    const d = s[this.i + 1];
    if (d === "(") {
      if (s[this.i + 2] === "(") {
        this.i += 3;
        return { k: "arith", expr: this.parts("arith"), q: quoted };
      }
      this.i += 2;
      const inner = new Parser(s, this.depth + 1);
      inner.i = this.i;
      const body = inner.list([], [")"]);
      inner.blanks();
      inner.linebreaks();
      if (s[inner.i] !== ")") throw new ShellSyntaxError("`$(` is not closed by `)`");
      this.i = inner.i + 1;
      return { k: "sub", body, q: quoted };
    }
    if (d === "[") throw new UnsupportedSyntax("arithmetic expansion `$[ ]`", "write $(( ))");
    if (d === "{") return this.braceParam(quoted);
    if (!quoted && d === "'") return this.ansiC();
    if (!quoted && d === '"') {
      this.i++; // `$"..."` (locale translation) reads as "..." with no catalog
      return { k: "lit", s: "", q: true };
    }
    if (d !== undefined && /[A-Za-z_]/.test(d)) {
      let j = this.i + 1;
      while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      const name = s.slice(this.i + 1, j);
      this.i = j;
      return { k: "param", name, q: quoted };
    }
    if (d === "?") {
      this.i += 2;
      return { k: "param", name: "?", q: quoted };
    }
    if (d !== undefined && /[0-9@*#$!-]/.test(d)) {
      throw new UnsupportedSyntax(
        `special parameter \`$${d}\``,
        "there are no positional parameters, process ids or options to read",
      );
    }
    this.i++;
    return { k: "lit", s: "$", q: true };
  }

  private backtick(quoted: boolean): Part {
    const s = this.s;
    let j = this.i + 1;
    let text = "";
    while (j < s.length && s[j] !== "`") {
      if (s[j] === "\\" && "$`\\".includes(s[j + 1] ?? "")) {
        text += s[j + 1];
        j += 2;
      } else text += s[j++];
    }
    if (j >= s.length) throw new ShellSyntaxError("unterminated backtick");
    this.i = j + 1;
    const inner = new Parser(text, this.depth + 1);
    const body = inner.list([], []);
    inner.end();
    return { k: "sub", body, q: quoted };
  }

  private braceParam(quoted: boolean): Part {
    const s = this.s;
    this.i += 2;
    let len = false;
    if (s[this.i] === "#" && s[this.i + 1] !== "}") {
      len = true;
      this.i++;
    }
    if (s[this.i] === "!") {
      throw new UnsupportedSyntax("indirect expansion `${!name}`", "name the variable directly");
    }
    let name: string;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.i, this.i + 256));
    if (m) name = m[0];
    else if (s[this.i] === "?") name = "?";
    else {
      throw new UnsupportedSyntax(
        `parameter expansion \`\${${s.slice(this.i, this.i + 20).split("}")[0]}}\``,
        "expand a variable by name",
      );
    }
    this.i += name.length;
    if (s[this.i] === "[") throw new UnsupportedSyntax(`the array reference \`\${${name}[...]}\``);
    if (len) {
      if (s[this.i] !== "}") throw new ShellSyntaxError(`bad substitution \`\${#${name}...\``);
      this.i++;
      return { k: "param", name, op: "len", q: quoted };
    }
    if (s[this.i] === "}") {
      this.i++;
      return { k: "param", name, q: quoted };
    }
    const op = [
      "##",
      "%%",
      "//",
      "^^",
      ",,",
      ":-",
      ":=",
      ":+",
      ":?",
      "-",
      "=",
      "+",
      "?",
      "#",
      "%",
      "/",
      "^",
      ",",
      ":",
    ]
      .find((o) => s.startsWith(o, this.i));
    if (!op) throw new ShellSyntaxError(`bad substitution \`\${${name}${s[this.i] ?? ""}\``);
    this.i += op.length;
    if (op === "/" || op === "//") {
      if (s[this.i] === "#" || s[this.i] === "%") {
        throw new UnsupportedSyntax(`anchored replacement \`\${${name}${op}${s[this.i]}...}\``);
      }
      const arg = this.parts("param", "/}");
      let arg2: Word = [];
      if (s[this.i] === "/") {
        this.i++;
        arg2 = this.parts("param", "}");
      }
      this.closeBrace();
      return { k: "param", name, op, arg, arg2, q: quoted };
    }
    if (op === ":") {
      const arg = this.parts("param", ":}");
      let arg2: Word | undefined;
      if (s[this.i] === ":") {
        this.i++;
        arg2 = this.parts("param", "}");
      }
      this.closeBrace();
      return { k: "param", name, op, arg, arg2, q: quoted };
    }
    const arg = this.parts("param", "}");
    this.closeBrace();
    return { k: "param", name, op, arg, q: quoted };
  }

  private closeBrace(): void {
    if (this.s[this.i] !== "}") throw new ShellSyntaxError("`${` is not closed by `}`");
    this.i++;
  }

  /** `$'...'`: C escapes, decoded here; the result is quoted text. */
  private ansiC(): Part {
    const s = this.s;
    let j = this.i + 2;
    let out = "";
    const simple: Record<string, string> = {
      n: "\n",
      t: "\t",
      r: "\r",
      a: "\x07",
      b: "\b",
      e: "\x1b",
      E: "\x1b",
      f: "\f",
      v: "\v",
      "\\": "\\",
      "'": "'",
      '"': '"',
      "?": "?",
    };
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new ShellSyntaxError("unterminated `$'...'`");
      if (c === "'") break;
      if (c !== "\\") {
        out += c;
        j++;
        continue;
      }
      const d = s[j + 1];
      if (d !== undefined && d in simple) {
        out += simple[d];
        j += 2;
        continue;
      }
      let m: RegExpExecArray | null;
      const rest = s.slice(j + 1, j + 12);
      if ((m = /^x([0-9A-Fa-f]{1,2})/.exec(rest))) {
        out += String.fromCharCode(parseInt(m[1], 16));
      } else if ((m = /^([0-7]{1,3})/.exec(rest))) {
        out += String.fromCharCode(parseInt(m[1], 8) & 0xff);
      } else if (
        (m = /^u([0-9A-Fa-f]{1,4})/.exec(rest)) || (m = /^U([0-9A-Fa-f]{1,8})/.exec(rest))
      ) {
        const cp = parseInt(m[1], 16);
        if (cp > 0x10ffff) throw new ShellSyntaxError("a `\\U` escape beyond Unicode");
        out += String.fromCodePoint(cp);
      } else {
        out += "\\" + (d ?? "");
        j += 2;
        continue;
      }
      j += 1 + m[0].length;
    }
    this.i = j + 1;
    if (out.includes("\0")) out = out.slice(0, out.indexOf("\0")); // bash stops at NUL
    return { k: "lit", s: out, q: true };
  }
}

function pushLit(out: Part[], c: string, q: boolean): void {
  const last = out.at(-1);
  if (last?.k === "lit" && last.q === q) last.s += c;
  else out.push({ k: "lit", s: c, q });
}
