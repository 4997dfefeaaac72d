/**
 * The restricted interpreter: walks the parsed script (lib/bash/syntax.ts)
 * as bash would, expanding each statement when it runs (after `cd`, after
 * assignments, inside loops). Builtins (`cd`, `test`, `read`, `export`, ...)
 * run here and start nothing. Every program start, however it was reached
 * (a pipeline stage, `$( )`, a loop body, `xargs`, `timeout`), goes through
 * one function, `start`, which checks the final argv with the command rules
 * just before spawning it. Nothing else starts processes.
 */
import { isAbsolute, join, normalize } from "node:path";
import type { Cond, Node, Redir, Simple, Word } from "./ast.ts";
import type { CommandPolicy } from "../policy/command_policy.ts";
import { deniedMessage } from "../policy/command_policy.ts";
import { checkWhatItStarts } from "../policy/inner_commands.ts";
import { refusedEnvName } from "../proc/child_env.ts";
import { findProgram } from "../proc/program_path.ts";
import { sendSignal } from "../proc/signal.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { FileHandle, OpenMode } from "../fs/workspace_fs.ts";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import { UnsupportedSyntax } from "./lex.ts";
import type { ProcessTree } from "./proc.ts";
import { Collect, Discard, FileSink, Pipe, pump, type Sink } from "./sinks.ts";
import { Source } from "./stdin.ts";
import { binaryTest, plainInteger, testBuiltin, TestSyntaxError, unaryTest } from "./test_expr.ts";
import {
  arith,
  expandFields,
  type ExpandHost,
  expandPattern,
  expandString,
  ExpansionError,
} from "./words.ts";
import {
  isCommandV,
  unwrap,
  type Unwrapped,
  xargsCommands,
  xargsItems,
  type XargsPlan,
} from "./wrappers.ts";
import { BASH_OWN } from "./expand.ts";

/** Loop iterations one task may run, all loops together. */
export const MAX_ITERATIONS = 100_000;
/** Programs one task may start. */
export const MAX_STARTS = 10_000;
/** `$( )` inside `$( )` ... */
export const MAX_SUBST_DEPTH = 16;
/** Output one command substitution may produce. */
export const MAX_SUBST_BYTES = 4 * 1024 * 1024;
/** What xargs reads from its input. */
const MAX_XARGS_INPUT = 4 * 1024 * 1024;

/** Refused at run time: a rule denied the argv, or a forbidden variable. The whole task stops. */
export class Denied extends TaskError {
  constructor(message: string) {
    super(message.startsWith("command denied") ? message : `command denied: ${message}`);
    this.name = "Denied";
  }
}

/** A bound was reached (loop iterations, program starts, substitution output). */
export class LimitReached extends TaskError {
  constructor(what: string) {
    super(`command denied: ${what}; the restricted interpreter stops here`);
    this.name = "LimitReached";
  }
}

class Exit {
  constructor(readonly code: number) {}
}
class LoopControl {
  constructor(readonly kind: "break" | "continue", public levels: number) {}
}
class Stopped {}

export interface InterpOptions {
  policy: CommandPolicy;
  workspace: Workspace;
  /** the environment programs get (every variable exported) */
  env: Record<string, string>;
  searchPath: readonly string[];
  tree: ProcessTree;
  stdout: Sink;
  stderr: Sink;
  stopped(): boolean;
  abandon: AbortSignal;
  onSpawn?(argv: readonly string[], program: string): void;
  /** told the rule that allowed each start (the gate's decision), for the audit log */
  onAllowed?(rule: string): void;
}

interface Var {
  value: string;
  exported: boolean;
}

interface State {
  vars: Map<string, Var>;
  cwd: string;
  status: number;
  /** status of the last command substitution in the current simple command */
  subStatus: number | undefined;
  depth: number;
  loops: number;
}

type Input = { kind: "null" } | { kind: "src"; src: Source };

interface IO {
  stdin: Input;
  stdout: Sink;
  stderr: Sink;
  /**
   * `a |& b`: stderr joins stdout after the command's own redirects, as bash
   * adds that `2>&1` after them (`a 2>/dev/null |& b` still pipes stderr).
   */
  stderrJoinsStdout?: boolean;
}

/** Builtins bash has that the interpreter does not run: refused by name. */
export const UNSUPPORTED_BUILTINS = new Set([
  ".",
  "alias",
  "bg",
  "bind",
  "builtin",
  "caller",
  "compgen",
  "complete",
  "compopt",
  "declare",
  "dirs",
  "disown",
  "enable",
  "eval",
  "fc",
  "fg",
  "getopts",
  "hash",
  "help",
  "history",
  "jobs",
  "let",
  "logout",
  "mapfile",
  "popd",
  "pushd",
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
  "wait",
]);

/** Builtins the interpreter runs itself (no program, no rule). */
export const BUILTINS = new Set([
  ":",
  "true",
  "false",
  "cd",
  "test",
  "[",
  "export",
  "local",
  "unset",
  "read",
  "exit",
  "break",
  "continue",
]);

export class Interpreter {
  private iterations = 0;
  private starts = 0;

  constructor(private readonly o: InterpOptions) {}

  /** Runs the script; resolves to bash's exit status. Throws Denied / LimitReached. */
  async run(script: Node, cwd: string): Promise<number> {
    const vars = new Map<string, Var>();
    for (const [k, v] of Object.entries(this.o.env)) vars.set(k, { value: v, exported: true });
    vars.set("PWD", { value: cwd, exported: true });
    const st: State = { vars, cwd, status: 0, subStatus: undefined, depth: 0, loops: 0 };
    const io: IO = { stdin: { kind: "null" }, stdout: this.o.stdout, stderr: this.o.stderr };
    return await this.guarded(() => this.exec(script, st, io), io);
  }

  /** Runs a subshell-like unit: `exit` and fatal expansion errors end it with their status. */
  private async guarded(f: () => Promise<number>, io: IO): Promise<number> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof Exit) return err.code;
      if (err instanceof LoopControl) return 0;
      if (err instanceof Stopped) return 143;
      if (err instanceof ExpansionError) {
        await this.say(io, `${err.message}\n`);
        return err.message.includes("parameter null or not set") ? 127 : 1;
      }
      throw err;
    }
  }

  private async say(io: IO, text: string): Promise<void> {
    const w = io.stderr.writer();
    await w.write(new TextEncoder().encode(text));
    await w.close();
  }

  private async write(io: IO, text: string): Promise<void> {
    const w = io.stdout.writer();
    await w.write(new TextEncoder().encode(text));
    await w.close();
  }

  private fork(st: State): State {
    const vars = new Map<string, Var>();
    for (const [k, v] of st.vars) vars.set(k, { ...v });
    return { ...st, vars, subStatus: undefined };
  }

  // ---- variables ----

  private get(st: State, name: string): string | undefined {
    if (name === "?") return String(st.status);
    const v = st.vars.get(name);
    if (v) return v.value;
    if (BASH_OWN.has(name) && name !== "IFS" && name !== "OLDPWD") {
      throw new UnsupportedSyntax(
        `bash's own variable \`$${name}\``,
        "the interpreter does not provide it",
      );
    }
    return undefined;
  }

  /** The single place variables change: a value that reaches programs passes the env rule. */
  private set(st: State, name: string, value: string, opts: { export?: boolean } = {}): void {
    const cur = st.vars.get(name);
    const exported = opts.export || cur?.exported || false;
    if (exported) this.refuseEnv(name);
    if (["PATH", "HOME", "PWD", "OLDPWD", "CDPATH"].includes(name)) this.refuseEnv(name);
    if (name === "IFS") this.refuseEnv(name); // the interpreter splits words with it: keep bash's default
    st.vars.set(name, { value, exported });
  }

  private refuseEnv(name: string): void {
    const why = refusedEnvName(name);
    if (why) throw new Denied(`assigning ${name} is refused in restricted mode: ${why}`);
    if (["PATH", "HOME", "PWD", "OLDPWD", "CDPATH", "IFS"].includes(name)) {
      throw new Denied(`assigning ${name} is refused in restricted mode: the runner decides it`);
    }
  }

  private host(st: State, io: IO): ExpandHost {
    return {
      get: (n) => this.get(st, n),
      set: (n, v) => this.set(st, n, v),
      cwd: () => st.cwd,
      substitute: (body) => this.substitute(body, st, io),
    };
  }

  private async substitute(body: Node, st: State, io: IO): Promise<string> {
    if (st.depth >= MAX_SUBST_DEPTH) {
      throw new LimitReached(`command substitutions nested deeper than ${MAX_SUBST_DEPTH}`);
    }
    const out = new Collect(MAX_SUBST_BYTES);
    const sub = this.fork(st);
    sub.depth++;
    const code = await this.guarded(
      () => this.exec(body, sub, { stdin: io.stdin, stdout: out, stderr: io.stderr }),
      io,
    );
    if (out.overflow) {
      throw new LimitReached(`a command substitution produced more than ${MAX_SUBST_BYTES} bytes`);
    }
    st.subStatus = code;
    st.status = code;
    return out.text().replace(/\n+$/, "");
  }

  private async tick(): Promise<void> {
    if (++this.iterations > MAX_ITERATIONS) {
      throw new LimitReached(`more than ${MAX_ITERATIONS} loop iterations`);
    }
    // Builtin-only loops never wait on I/O: give timers (the task timeout) a turn.
    if (this.iterations % 256 === 0) await new Promise((r) => setTimeout(r, 0));
    if (this.o.stopped()) throw new Stopped();
  }

  // ---- the walk ----

  private async exec(n: Node, st: State, io: IO): Promise<number> {
    if (this.o.stopped()) throw new Stopped();
    let code: number;
    switch (n.k) {
      case "seq":
        code = 0;
        for (const item of n.items) code = await this.exec(item, st, io);
        break;
      case "andor":
        code = await this.exec(n.first, st, io);
        for (const r of n.rest) {
          if (r.op === "&&" ? code === 0 : code !== 0) code = await this.exec(r.node, st, io);
        }
        break;
      case "pipeline":
        code = await this.pipeline(n.cmds, n.stderrToPipe, st, io);
        if (n.bang) code = code === 0 ? 1 : 0;
        break;
      case "simple":
        code = await this.simple(n, st, io);
        break;
      default:
        code = await this.withRedirs(n.redirs, st, io, (io2) => this.compound(n, st, io2));
    }
    st.status = code;
    return code;
  }

  private async compound(
    n: Exclude<Node, { k: "seq" | "andor" | "pipeline" | "simple" }>,
    st: State,
    io: IO,
  ): Promise<number> {
    switch (n.k) {
      case "group":
        if (!n.subshell) return await this.exec(n.body, st, io);
        return await this.guarded(() => this.exec(n.body, this.fork(st), io), io);
      case "if":
        for (const c of n.clauses) {
          if ((await this.exec(c.cond, st, io)) === 0) return await this.exec(c.body, st, io);
        }
        return n.otherwise ? await this.exec(n.otherwise, st, io) : 0;
      case "for": {
        const items = n.items ? await expandFields(n.items, this.host(st, io)) : [];
        let code = 0;
        for (const v of items) {
          await this.tick();
          this.set(st, n.name, v);
          const r = await this.loopBody(n.body, st, io);
          if (r === "break") break;
          code = r === "continue" ? 0 : r;
        }
        return code;
      }
      case "while": {
        let code = 0;
        for (;;) {
          await this.tick();
          const c = await this.exec(n.cond, st, io);
          if (n.until ? c === 0 : c !== 0) break;
          const r = await this.loopBody(n.body, st, io);
          if (r === "break") break;
          code = r === "continue" ? 0 : r;
        }
        return code;
      }
      case "case": {
        const h = this.host(st, io);
        const word = await expandString(n.word, h);
        let falling = false;
        for (const item of n.items) {
          let hit = falling;
          for (const p of item.patterns) {
            if (hit) break;
            hit = (await expandPattern(p, h)).match(word);
          }
          if (!hit) continue;
          const code = item.body ? await this.exec(item.body, st, io) : 0;
          if (!item.fall) return code;
          falling = true;
        }
        return 0;
      }
      case "cond":
        return await this.cond(n, st, io);
      case "arithcmd": {
        const h = this.host(st, io);
        const v = arith(await expandString(n.expr, h, false), h);
        return v !== 0n ? 0 : 1;
      }
    }
  }

  private async loopBody(body: Node, st: State, io: IO): Promise<number | "break" | "continue"> {
    st.loops++;
    try {
      return await this.exec(body, st, io);
    } catch (err) {
      if (!(err instanceof LoopControl)) throw err;
      if (err.levels > 1) {
        err.levels--;
        throw err;
      }
      return err.kind;
    } finally {
      st.loops--;
    }
  }

  private async pipeline(cmds: Node[], toPipe: boolean[], st: State, io: IO): Promise<number> {
    if (cmds.length === 1) return await this.exec(cmds[0], st, io);
    const k = cmds.length;
    const pipes = Array.from({ length: k - 1 }, () => new Pipe());
    const stages = cmds.map(async (cmd, j) => {
      const src = j > 0 ? new Source(pipes[j - 1].readable) : undefined;
      const out: Sink = j < k - 1 ? pipes[j] : io.stdout;
      const holds = [out.writer()];
      try {
        // Every stage runs in a subshell, as in bash (no lastpipe).
        return await this.guarded(
          () =>
            this.exec(cmd, this.fork(st), {
              stdin: src ? { kind: "src", src } : io.stdin,
              stdout: out,
              stderr: io.stderr,
              stderrJoinsStdout: j < k - 1 && toPipe[j],
            }),
          io,
        );
      } finally {
        for (const h of holds) await h.close();
        src?.cancel();
      }
    });
    const codes = await Promise.all(stages);
    return codes[k - 1];
  }

  // ---- simple commands ----

  private async simple(n: Simple, st: State, io: IO): Promise<number> {
    st.subStatus = undefined;
    const h = this.host(st, io);
    const argv = await expandFields(n.words, h);
    const assigns: [string, string][] = [];
    for (const a of n.assigns) {
      let v = await expandString(a.value, h);
      if (a.append) v = (this.get(st, a.name) ?? "") + v;
      assigns.push([a.name, v]);
    }
    if (argv.length === 0) {
      for (const [name, value] of assigns) this.set(st, name, value);
      const status = st.subStatus ?? 0;
      return await this.withRedirs(n.redirs, st, io, () => Promise.resolve(status));
    }
    return await this.withRedirs(n.redirs, st, io, (io2) => this.command(argv, assigns, st, io2));
  }

  /** A command whose words are expanded: a builtin, a wrapper, or a program. */
  private async command(
    argv: string[],
    assigns: [string, string][],
    st: State,
    io: IO,
  ): Promise<number> {
    const name = argv[0];
    if (UNSUPPORTED_BUILTINS.has(name)) {
      throw new UnsupportedSyntax(
        `the shell builtin \`${name}\``,
        "the interpreter does not run it",
      );
    }
    if (isCommandV(argv)) return await this.commandV(argv.slice(2), io);
    if (BUILTINS.has(name)) return await this.builtin(argv, assigns, st, io);
    const w = unwrap(argv);
    if (!w) {
      return await this.external(
        { argv, assigns, clearEnv: false, unset: [], exec: false, viaCommand: false },
        st,
        io,
      );
    }
    const run: Unwrapped = { ...w.run, assigns: [...assigns, ...w.run.assigns] };
    if (w.xargs) return await this.xargs(w.xargs, run, st, io);
    if (run.argv.length === 0) return 0; // `command` alone, `nohup` alone: nothing to run
    if (isCommandV(run.argv)) return await this.commandV(run.argv.slice(2), io);
    let code: number;
    if (run.viaCommand && !run.timeout && BUILTINS.has(run.argv[0])) {
      code = await this.builtin(run.argv, run.assigns, st, io);
    } else if (run.exec && BUILTINS.has(run.argv[0])) {
      code = await this.builtin(run.argv, run.assigns, st, io);
    } else code = await this.external(run, st, io);
    if (run.exec) throw new Exit(code);
    return code;
  }

  private async commandV(names: string[], io: IO): Promise<number> {
    let code = 0;
    for (const n of names) {
      if (BUILTINS.has(n) || UNSUPPORTED_BUILTINS.has(n) || n === "command" || n === "exec") {
        await this.write(io, `${n}\n`);
        continue;
      }
      const p = findProgram(n, () => this.o.searchPath, { workspaceRoot: this.o.workspace.root });
      if (p) await this.write(io, `${p}\n`);
      else code = 1;
    }
    return code;
  }

  private async builtin(
    argv: string[],
    assigns: [string, string][],
    st: State,
    io: IO,
  ): Promise<number> {
    const [name, ...args] = argv;
    switch (name) {
      case ":":
      case "true":
        return 0;
      case "false":
        return 1;
      case "cd":
        return await this.cd(args, st, io);
      case "test":
      case "[": {
        if (name === "[") {
          if (args.at(-1) !== "]") {
            await this.say(io, "[: missing `]'\n");
            return 2;
          }
          args.pop();
        }
        try {
          return testBuiltin(args, { cwd: st.cwd, integer: plainInteger }) ? 0 : 1;
        } catch (err) {
          if (!(err instanceof TestSyntaxError)) throw err;
          await this.say(io, `${name}: ${err.message}\n`);
          return 2;
        }
      }
      case "export": {
        for (const a of args) {
          if (a === "-p" || a === "-n" || a === "-f") {
            throw new UnsupportedSyntax(`export ${a}`);
          }
          const eq = a.indexOf("=");
          const n = eq < 0 ? a : a.slice(0, eq);
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) {
            await this.say(io, `export: \`${a}': not a valid identifier\n`);
            return 1;
          }
          this.set(st, n, eq < 0 ? (st.vars.get(n)?.value ?? "") : a.slice(eq + 1), {
            export: true,
          });
        }
        return 0;
      }
      case "local":
        await this.say(io, "local: can only be used in a function\n");
        return 1;
      case "unset":
        for (const a of args) {
          if (a.startsWith("-") && a !== "-v") throw new UnsupportedSyntax(`unset ${a}`);
          if (a === "-v") continue;
          if (st.vars.get(a)?.exported) this.refuseEnv(a);
          st.vars.delete(a);
        }
        return 0;
      case "read":
        return await this.read(args, assigns, st, io);
      case "exit": {
        const code = args[0] === undefined ? st.status : Number(args[0]);
        throw new Exit(Number.isInteger(code) ? ((code % 256) + 256) % 256 : 2);
      }
      case "break":
      case "continue": {
        if (st.loops === 0) return 0;
        const levels = args[0] === undefined ? 1 : Number(args[0]);
        if (!Number.isInteger(levels) || levels < 1) return 1;
        throw new LoopControl(name, Math.min(levels, st.loops));
      }
    }
    throw new UnsupportedSyntax(`the shell builtin \`${name}\``);
  }

  private async cd(args: string[], st: State, io: IO): Promise<number> {
    if (args[0] === "-L" || args[0] === "-P" || args[0] === "--") args = args.slice(1);
    if (args.length > 1) {
      await this.say(io, "cd: too many arguments\n");
      return 1;
    }
    let target = args[0] ?? this.get(st, "HOME") ?? "";
    let print = false;
    if (target === "-") {
      target = st.vars.get("OLDPWD")?.value ?? "";
      if (target === "") {
        await this.say(io, "cd: OLDPWD not set\n");
        return 1;
      }
      print = true;
    }
    if (target === "") return 0;
    const dir = normalize(isAbsolute(target) ? target : join(st.cwd, target)).replace(
      /(.)\/$/,
      "$1",
    );
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(dir);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "No such file or directory"
        : "Permission denied";
      await this.say(io, `cd: ${target}: ${why}\n`);
      return 1;
    }
    if (!info.isDirectory) {
      await this.say(io, `cd: ${target}: Not a directory\n`);
      return 1;
    }
    try {
      for await (const _ of Deno.readDir(dir)) break; // the runner must be able to read it
    } catch {
      await this.say(io, `cd: ${target}: Permission denied\n`);
      return 1;
    }
    st.vars.set("OLDPWD", { value: st.cwd, exported: st.vars.get("OLDPWD")?.exported ?? true });
    st.cwd = dir;
    st.vars.set("PWD", { value: dir, exported: true });
    if (print) await this.write(io, `${dir}\n`);
    return 0;
  }

  private async read(
    args: string[],
    assigns: [string, string][],
    st: State,
    io: IO,
  ): Promise<number> {
    let raw = false;
    let delim = "\n";
    const names: string[] = [];
    for (let k = 0; k < args.length; k++) {
      const a = args[k];
      if (names.length === 0 && a.startsWith("-") && a.length > 1) {
        for (let j = 1; j < a.length; j++) {
          const f = a[j];
          if (f === "r") raw = true;
          else if (f === "s") continue;
          else if (f === "d" || f === "p") {
            const v = a.slice(j + 1) || args[++k];
            if (v === undefined) throw new UnsupportedSyntax(`read -${f} without a value`);
            if (f === "d") delim = v === "" ? "\0" : v[0];
            break;
          } else throw new UnsupportedSyntax(`read -${f}`);
        }
        continue;
      }
      names.push(a);
    }
    for (const n of names) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) {
        await this.say(io, `read: \`${n}': not a valid identifier\n`);
        return 1;
      }
    }
    if (io.stdin.kind === "null") {
      for (const n of names.length ? names : ["REPLY"]) this.set(st, n, "");
      return 1;
    }
    const src = io.stdin.src;
    let line = "";
    let eof = false;
    for (;;) {
      const r = await src.readLine(delim.charCodeAt(0));
      if (!r) {
        eof = true;
        break;
      }
      if (!raw && r.line.endsWith("\\") && !r.eof && delim === "\n") {
        line += r.line.slice(0, -1);
        continue;
      }
      line += r.line;
      eof = r.eof;
      break;
    }
    if (!raw) line = line.replace(/\\(.)/g, "$1").replace(/\\$/, "");
    const ifsAssign = assigns.find(([n]) => n === "IFS");
    const ifs = ifsAssign ? ifsAssign[1] : (st.vars.get("IFS")?.value ?? " \t\n");
    if (names.length === 0) {
      this.set(st, "REPLY", line);
    } else {
      const fields = splitRead(line, ifs, names.length);
      names.forEach((n, k) => this.set(st, n, fields[k] ?? ""));
    }
    return eof ? 1 : 0;
  }

  private async cond(n: Cond, st: State, io: IO): Promise<number> {
    const h = this.host(st, io);
    const items = n.items;
    let k = 0;
    const isOp = (i: number, op: string) => {
      const it = items[i];
      return it !== undefined && !Array.isArray(it) && it.op === op;
    };
    const plain = (i: number): string | undefined => {
      const it = items[i];
      if (!Array.isArray(it)) return it?.op === "<" || it?.op === ">" ? it.op : undefined;
      return it.length === 1 && it[0].k === "lit" && !it[0].q ? it[0].s : undefined;
    };
    const str = async (i: number): Promise<string> => {
      const it = items[i];
      if (!Array.isArray(it)) throw new TestSyntaxError(`unexpected \`${it?.op ?? "end"}'`);
      return await expandString(it, h);
    };
    const integer = (t: string) => arith(t, h);
    const or = async (): Promise<boolean> => {
      let v = await and();
      while (isOp(k, "||")) {
        k++;
        const r = await and();
        v = v || r;
      }
      return v;
    };
    const and = async (): Promise<boolean> => {
      let v = await not();
      while (isOp(k, "&&")) {
        k++;
        const r = await not();
        v = v && r;
      }
      return v;
    };
    const not = async (): Promise<boolean> => {
      if (isOp(k, "!")) {
        k++;
        return !(await not());
      }
      if (isOp(k, "(")) {
        k++;
        const v = await or();
        if (!isOp(k++, ")")) throw new TestSyntaxError("expected `)'");
        return v;
      }
      const op1 = plain(k);
      const op2 = plain(k + 1);
      if (op2 === "=~") throw new UnsupportedSyntax("the regex match `=~`", "use grep -E");
      if (
        op2 !== undefined &&
        ["=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"]
          .includes(op2) &&
        k + 2 < items.length
      ) {
        const a = await str(k);
        const rhs = items[k + 2];
        k += 3;
        if (op2 === "=" || op2 === "==" || op2 === "!=") {
          if (!Array.isArray(rhs)) throw new TestSyntaxError("expected a pattern");
          const m = await expandPattern(rhs, h);
          return op2 === "!=" ? !m.match(a) : m.match(a);
        }
        const b = Array.isArray(rhs) ? await expandString(rhs, h) : rhs.op;
        return binaryTest(a, op2, b, { cwd: st.cwd, integer });
      }
      if (
        op1 !== undefined && /^-[a-zA-Z]$/.test(op1) && k + 1 < items.length &&
        Array.isArray(items[k + 1])
      ) {
        k++;
        const a = await str(k++);
        return unaryTest(op1, a, { cwd: st.cwd, integer }, (v) => st.vars.has(v));
      }
      const s = await str(k++);
      return s !== "";
    };
    try {
      const v = await or();
      if (k < items.length) throw new TestSyntaxError("syntax error in conditional expression");
      return v ? 0 : 1;
    } catch (err) {
      if (!(err instanceof TestSyntaxError)) throw err;
      await this.say(io, `[[: ${err.message}\n`);
      return 2;
    }
  }

  // ---- redirects ----

  private async withRedirs(
    redirs: Redir[],
    st: State,
    io: IO,
    body: (io: IO) => Promise<number>,
  ): Promise<number> {
    const join = io.stderrJoinsStdout === true;
    if (join) io = { ...io, stderrJoinsStdout: false };
    const last = (cur: IO): IO => join ? { ...cur, stderr: cur.stdout } : cur;
    if (redirs.length === 0) return await body(last(io));
    const cleanups: (() => Promise<void> | void)[] = [];
    let cur: IO = { ...io };
    try {
      for (const r of redirs) {
        const next = await this.redirect(r, st, cur, cleanups);
        if (typeof next === "string") {
          await this.say(io, `${next}\n`);
          return 1;
        }
        cur = next;
      }
      return await body(last(cur));
    } finally {
      for (const c of cleanups.reverse()) await c();
    }
  }

  private async redirect(
    r: Redir,
    st: State,
    io: IO,
    cleanups: (() => Promise<void> | void)[],
  ): Promise<IO | string> {
    const h = this.host(st, io);
    if (r.op === "<<") {
      const text = await expandString(r.body, h, false);
      return { ...io, stdin: { kind: "src", src: Source.text(text) } };
    }
    if (r.op === "<<<") {
      const text = await expandString(r.target, h);
      return { ...io, stdin: { kind: "src", src: Source.text(text + "\n") } };
    }
    const fields = await expandFields([r.target], h);
    if (fields.length !== 1) return `${staticWord(r.target)}: ambiguous redirect`;
    const path = fields[0];
    const fd = r.fd;
    if (r.op === ">&") {
      if (path === "1" || path === "2") {
        const to = path === "1" ? io.stdout : io.stderr;
        return fd === 2 ? { ...io, stderr: to } : { ...io, stdout: to };
      }
      if (fd !== undefined || /^[0-9-]+$/.test(path)) {
        throw new UnsupportedSyntax(`the redirect \`${fd ?? ""}>&${path}\``, "only fds 1 and 2");
      }
      return await this.redirect(
        { op: "&>", target: [{ k: "lit", s: path, q: true }] },
        st,
        io,
        cleanups,
      );
    }
    if (r.op === "<") {
      if (path === "/dev/null") return { ...io, stdin: { kind: "src", src: Source.text("") } };
      if (path === "/dev/stdin") return io;
      const file = await this.open(path, st, "read");
      if (typeof file === "string") return file;
      const src = new Source(file.readable());
      cleanups.push(() => src.cancel());
      return { ...io, stdin: { kind: "src", src } };
    }
    let sink: Sink;
    if (path === "/dev/null") sink = new Discard();
    else if (path === "/dev/stdout") sink = io.stdout;
    else if (path === "/dev/stderr") sink = io.stderr;
    else {
      const append = r.op === ">>" || r.op === "&>>";
      const file = await this.open(path, st, append ? "append" : "write");
      if (typeof file === "string") return file;
      const fs = new FileSink(file);
      const hold = fs.writer();
      cleanups.push(() => hold.close());
      sink = fs;
    }
    if (r.op === "&>" || r.op === "&>>") return { ...io, stdout: sink, stderr: sink };
    return fd === 2 ? { ...io, stderr: sink } : { ...io, stdout: sink };
  }

  /**
   * Redirect files stay inside the workspace, resolved from the current
   * directory. Opened below the workspace root's descriptor (ws.fs,
   * lib/fs/beneath.ts): a directory swapped for a symlink mid-task is not
   * followed out; FIFOs and (for writes) hard-linked files are refused.
   */
  private async open(
    path: string,
    st: State,
    mode: OpenMode,
  ): Promise<FileHandle | string> {
    const abs = isAbsolute(path) ? path : join(st.cwd, path);
    const ws = this.o.workspace;
    let rel: string;
    try {
      rel = ws.lexical(abs);
    } catch (err) {
      if (err instanceof PathEscapeError) throw outsideWorkspace(path, err);
      return `${path}: ${(err as Error).message}`;
    }
    try {
      return await ws.fs.openFile(rel, path, mode);
    } catch (err) {
      // the kernel refused the open (lib/fs/beneath.ts): an escape, found only now
      if (err instanceof PathEscapeError) throw outsideWorkspace(path, err);
      if (err instanceof Deno.errors.NotFound) return `${path}: No such file or directory`;
      if (err instanceof Deno.errors.IsADirectory || /a directory/.test((err as Error).message)) {
        return `${path}: Is a directory`;
      }
      return `${path}: ${(err as Error).message.replace(/ \(os error \d+\).*/, "")}`;
    }
  }

  // ---- programs ----

  private async xargs(plan: XargsPlan, run: Unwrapped, st: State, io: IO): Promise<number> {
    const input = io.stdin.kind === "src"
      ? await io.stdin.src.readAll(MAX_XARGS_INPUT)
      : new Uint8Array();
    if (input.length > MAX_XARGS_INPUT) {
      throw new LimitReached(`xargs input beyond ${MAX_XARGS_INPUT} bytes`);
    }
    const commands = xargsCommands(xargsItems(new TextDecoder().decode(input), plan), plan);
    let worst = 0;
    for (const argv of commands) {
      const code = await this.external(
        { ...run, argv, exec: false },
        st,
        { ...io, stdin: { kind: "null" } },
      );
      if (code === 255) {
        await this.say(io, `xargs: ${argv[0]}: exited with status 255; aborting\n`);
        return 124;
      }
      if (code === 126 || code === 127) return code;
      if (code >= 128) return 125;
      if (code !== 0) worst = 123;
    }
    return worst;
  }

  /** A program with its environment, through the gate. */
  private async external(run: Unwrapped, st: State, io: IO): Promise<number> {
    const env: Record<string, string> = {};
    if (!run.clearEnv) {
      for (const [k, v] of st.vars) if (v.exported) env[k] = v.value;
      env.PWD = st.cwd;
    }
    for (const u of run.unset) delete env[u];
    for (const [k, v] of run.assigns) env[k] = v;
    const stdin = io.stdin.kind === "src" && !io.stdin.src.lineRead ? io.stdin.src : undefined;
    return await this.start(run.argv, run.assigns, env, st.cwd, stdin, io, run.timeout);
  }

  /**
   * THE GATE: the only place a process starts. The argv checked is the argv
   * spawned (argv[0] as typed, resolved to a path for the spawn only).
   */
  private async start(
    argv: string[],
    assigns: [string, string][],
    env: Record<string, string>,
    cwd: string,
    stdin: Source | undefined,
    io: IO,
    timeout?: Unwrapped["timeout"],
  ): Promise<number> {
    for (const [name] of assigns) {
      const why = refusedEnvName(name);
      if (why) throw new Denied(`assigning ${name} is refused in restricted mode: ${why}`);
    }
    const words = [...assigns.map(([n, v]) => `${n}=${v}`), ...argv];
    const decision = this.o.policy.check(words);
    if (decision.action !== "allow") throw new Denied(deniedMessage(words, decision));
    // what the program would start by itself: find's -exec commands, the dynamic loader
    for (const c of checkWhatItStarts(this.o.policy, argv, cwd)) {
      if (c.decision.action !== "allow") {
        throw new Denied(`command denied: ${JSON.stringify(c.words.join(" "))} (${c.refused})`);
      }
    }
    if (decision.rule) this.o.onAllowed?.(decision.rule.pattern);
    if (this.o.stopped()) throw new Stopped();
    if (++this.starts > MAX_STARTS) {
      throw new LimitReached(`more than ${MAX_STARTS} programs started`);
    }

    const name = argv[0];
    const program = findProgram(name, () => this.o.searchPath, {
      cwd,
      workspaceRoot: this.o.workspace.root,
    });
    if (!program) {
      await this.say(io, `${name}: command not found\n`);
      return 127;
    }
    const useOut = !(io.stdout instanceof Discard);
    const useErr = !(io.stderr instanceof Discard);
    // One destination for both (`2>&1`, `|&`, `&>`, `>f 2>&1`): one pipe, so
    // the program's stdout and stderr keep the order it wrote them in.
    const merge = useOut && io.stdout === io.stderr;
    let s;
    try {
      s = this.o.tree.spawn(
        program,
        {
          args: argv.slice(1),
          cwd,
          clearEnv: true,
          env,
          stdin: stdin ? "piped" : "null",
          stdout: useOut ? "piped" : "null",
          stderr: useErr ? "piped" : "null",
        },
        name,
        merge,
      );
    } catch (err) {
      const denied = err instanceof Deno.errors.PermissionDenied ||
        err instanceof Deno.errors.NotCapable;
      await this.say(io, `${name}: ${(err as Error).message}\n`);
      return denied ? 126 : 127;
    }
    this.o.onSpawn?.(argv, program);
    if (stdin) void stdin.feed(s.child.stdin);
    const pumps: Promise<void>[] = [];
    if (useOut) pumps.push(pump(s.child.stdout, io.stdout.writer(), this.o.abandon));
    if (useErr && !s.merged) pumps.push(pump(s.child.stderr, io.stderr.writer(), this.o.abandon));
    let timedOut = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    if (timeout) {
      const sig = (signal: Deno.Signal) => {
        try {
          sendSignal(s.pid, signal);
        } catch {
          // already gone
        }
      };
      timers.push(setTimeout(() => {
        timedOut = true;
        sig(timeout.signal);
        if (timeout.killAfter !== undefined) {
          timers.push(setTimeout(() => sig("SIGKILL"), timeout.killAfter * 1000));
        }
      }, timeout.seconds * 1000));
    }
    let status: Deno.CommandStatus;
    try {
      status = await s.child.status;
    } finally {
      for (const t of timers) clearTimeout(t);
    }
    this.o.tree.reap(s.pid);
    await Promise.all(pumps);
    if (timedOut && !timeout?.preserve) return status.signal === "SIGKILL" ? 137 : 124;
    return status.code;
  }
}

function staticWord(w: Word): string {
  return w.map((p) => p.k === "lit" ? p.s : "$…").join("");
}

/** `read`'s split: IFS whitespace trims and separates; the last name takes the rest. */
export function splitRead(line: string, ifs: string, n: number): string[] {
  const ws = [...ifs].filter((c) => " \t\n".includes(c));
  const isWs = (c: string | undefined) => c !== undefined && ws.includes(c);
  const isSep = (c: string | undefined) => c !== undefined && ifs.includes(c);
  let i = 0;
  while (isWs(line[i])) i++;
  const out: string[] = [];
  while (out.length < n - 1 && i < line.length) {
    let j = i;
    while (j < line.length && !isSep(line[j])) j++;
    out.push(line.slice(i, j));
    // one delimiter: blanks, at most one non-blank separator, blanks
    while (isWs(line[j])) j++;
    if (j < line.length && isSep(line[j]) && !isWs(line[j])) {
      j++;
      while (isWs(line[j])) j++;
    }
    i = j;
  }
  if (out.length < n) {
    let rest = line.slice(i);
    let e = rest.length;
    while (e > 0 && isWs(rest[e - 1])) e--;
    rest = rest.slice(0, e);
    out.push(rest);
  }
  return out;
}

function outsideWorkspace(path: string, err: PathEscapeError): Denied {
  return new Denied(
    `redirect target ${JSON.stringify(path)} is outside the workspace (${err.message}); ` +
      "redirects may only read and write workspace files",
  );
}
