/**
 * The parser's blind spots, pinned: what shell-quote alone reads, and what
 * the runner makes of the same text once the raw-text lexer has looked.
 */
import { expect } from "./deps.ts";
import { parseShell } from "../lib/deps/shell.ts";
import { parseScript, type Script, visibleCommands } from "../lib/bash/parse.ts";
import { lex, ShellSyntaxError, UnsupportedSyntax } from "../lib/bash/lex.ts";

const ENV = { HOME: "/home/u", SPACED: "a b", STAR: "*.log", EMPTY: "", PATH: "/usr/bin:/bin" };
const cwd = "/nonexistent-dir-for-globs";
const parse = (cmd: string): Script => parseScript(cmd, { env: ENV, cwd });
/** Each sub-command's checked words, in order. */
const words = (cmd: string) =>
  parse(cmd).steps.flatMap((s) => s.pipeline.commands.map((c) => c.words));
const refusal = (cmd: string): string => {
  try {
    parse(cmd);
  } catch (err) {
    if (err instanceof UnsupportedSyntax || err instanceof ShellSyntaxError) return err.message;
    throw err;
  }
  throw new Error(`not refused: ${JSON.stringify(cmd)}`);
};

Deno.test("blind spot: `echo 2 > f` and `echo 2> f` are one token list to shell-quote, not to us", () => {
  expect(parseShell("echo 2 > f")).toEqual(parseShell("echo 2> f"));
  const spaced = parse("echo 2 > f").steps[0].pipeline.commands[0];
  expect(spaced.argv).toEqual(["echo", "2"]);
  expect(spaced.redirects).toEqual([{ kind: "write", fd: 1, append: false, path: "f" }]);
  const fd = parse("echo 2> f").steps[0].pipeline.commands[0];
  expect(fd.argv).toEqual(["echo"]);
  expect(fd.redirects).toEqual([{ kind: "write", fd: 2, append: false, path: "f" }]);
  // a quoted 2 is an argument, as in bash
  expect(parse('echo "2"> f').steps[0].pipeline.commands[0].argv).toEqual(["echo", "2"]);
});

Deno.test('blind spot: shell-quote gives "$(id)" back as a plain word; we refuse it', () => {
  const sq = parseShell('echo "$(id)"', (k: string) => k) as unknown[];
  expect(sq.some((t) => typeof t === "object" && (t as { op?: string }).op === "(")).toBe(false);
  expect(refusal('echo "$(id)"')).toContain("command substitution");
  expect(refusal("echo $(id)")).toContain("command substitution");
  expect(refusal("echo `id`")).toContain("backticks");
  expect(refusal('echo "`id`"')).toContain("backticks");
});

Deno.test("blind spot: shell-quote reads a newline as a space; for us it separates commands", () => {
  expect(parseShell("ls\nrm x")).toEqual(["ls", "rm", "x"]);
  expect(words("ls\nrm x")).toEqual([["ls"], ["rm", "x"]]);
  // after an operator a newline only continues the line
  expect(words("echo a &&\necho b |\ncat")).toEqual([["echo", "a"], ["echo", "b"], ["cat"]]);
  expect(words("echo a\n\n\necho b\n")).toEqual([["echo", "a"], ["echo", "b"]]);
  // quoted, it is part of the word; escaped, the line continues
  expect(words('echo "a\nb"')).toEqual([["echo", "a\nb"]]);
  expect(words("echo a \\\nb")).toEqual([["echo", "a", "b"]]);
  expect(words("ec\\\nho a")).toEqual([["echo", "a"]]);
});

Deno.test("blind spot: shell-quote starts a comment at `a#b`; bash (and we) only at a word start", () => {
  expect(parseShell("echo a#b; rm x")).toEqual(["echo", "a", { comment: "b; rm x" }]);
  expect(words("echo a#b; rm x")).toEqual([["echo", "a#b"], ["rm", "x"]]);
  expect(words("echo a # b; rm x")).toEqual([["echo", "a"]]);
  expect(words("# only a comment\necho x")).toEqual([["echo", "x"]]);
  expect(words("echo '#' \\# \"#\"")).toEqual([["echo", "#", "#", "#"]]);
});

Deno.test("blind spot: \\r is a blank to shell-quote, a word character to bash: refused", () => {
  expect(parseShell("echo a\rrm")).toEqual(["echo", "a", "rm"]);
  expect(refusal("echo a\rrm x")).toContain("carriage return");
  expect(words("echo 'a\rb'")).toEqual([["echo", "a\rb"]]);
});

Deno.test("blind spot: `[ab]` is a glob to bash, not to shell-quote", () => {
  expect(parseShell("ls [ab]c")).toEqual(["ls", "[ab]c"]);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/ac`, "");
    Deno.writeTextFileSync(`${dir}/bc`, "");
    Deno.writeTextFileSync(`${dir}/cc`, "");
    const argv =
      parseScript("ls [ab]c [!a]c '[a]c'", { env: ENV, cwd: dir }).steps[0].pipeline.commands[0]
        .argv;
    expect(argv).toEqual(["ls", "ac", "bc", "bc", "cc", "[a]c"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("blind spot: shell-quote drops a lone `$` (foo$ -> foo); we refuse it", () => {
  expect(parseShell("echo foo$", () => "")).toEqual(["echo", "foo"]);
  expect(refusal("echo foo$")).toContain("a `$` that starts no variable");
  expect(words("echo 'foo$'")).toEqual([["echo", "foo$"]]);
});

Deno.test("blind spot: words the two parsers split differently are refused (NBSP, vertical tab)", () => {
  expect(refusal("echo a\u00a0b")).toContain("two parsers read differently");
  expect(refusal("echo a\vb")).toContain("two parsers read differently");
});

Deno.test("quoting never changes a decision: the words are unquoted", () => {
  for (
    const cmd of ["rm -rf x", "'rm' -rf x", "\\rm -rf x", '"r"m -rf x', "r''m -rf x", "r\\m -rf x"]
  ) {
    expect(words(cmd)).toEqual([["rm", "-rf", "x"]]);
  }
  expect(words("echo 'a b' \"c d\" e\\ f")).toEqual([["echo", "a b", "c d", "e f"]]);
  expect(words('echo "a\\"b" \'a\\b\' "a\\b"')).toEqual([["echo", 'a"b', "a\\b", "a\\b"]]);
  expect(words("echo '' \"\"")).toEqual([["echo", "", ""]]);
});

Deno.test("environment references are expanded before the check; unquoted values are never split", () => {
  expect(words("echo $HOME ${HOME}/x \"$HOME\" '$HOME' \\$HOME")).toEqual([
    ["echo", "/home/u", "/home/u/x", "/home/u", "$HOME", "$HOME"],
  ]);
  expect(words('echo "$SPACED" "$STAR"')).toEqual([["echo", "a b", "*.log"]]);
  expect(refusal("echo $SPACED")).toContain("unquoted `$SPACED`");
  expect(refusal("echo $STAR")).toContain("unquoted `$STAR`");
  // an unquoted empty expansion is no word at all (as in bash); a quoted one is an empty word
  expect(words("$EMPTY echo $EMPTY x")).toEqual([["echo", "x"]]);
  expect(words('echo "$EMPTY"')).toEqual([["echo", ""]]);
  expect(words("echo $UNSET_VARIABLE_X")).toEqual([["echo"]]);
  expect(words("echo $PWD")).toEqual([["echo", cwd]]);
});

Deno.test("bash's own variables and special parameters are refused, not guessed", () => {
  for (const v of ["$IFS", "${IFS}", "$RANDOM", "$BASH_VERSION", "$PPID", "$SHLVL"]) {
    expect(refusal(`echo ${v}`)).toContain("bash's own variable");
  }
  for (const v of ["$1", "$?", "$$", "$!", "$#", "$@", "$*", "$0", "$-"]) {
    expect(refusal(`echo ${v}`)).toContain("special parameter");
  }
  expect(refusal("echo ${x:-y}")).toContain("parameter expansion");
  expect(refusal("echo ${#x}")).toContain("parameter expansion");
});

Deno.test("tilde: ~ and ~/x are HOME, ~user is refused, quoted ~ is literal", () => {
  expect(words("echo ~ ~/x a~ '~' X=~/y")).toEqual([[
    "echo",
    "/home/u",
    "/home/u/x",
    "a~",
    "~",
    "X=~/y",
  ]]);
  expect(words("X=~/a:~/b echo")).toEqual([["X=/home/u/a:/home/u/b", "echo"]]);
  expect(refusal("echo ~root")).toContain("tilde expansion");
});

Deno.test("leading assignments are part of the checked words and go to the environment", () => {
  const cmd = parse("LANG=C TZ='UTC x' date -u").steps[0].pipeline.commands[0];
  expect(cmd.words).toEqual(["LANG=C", "TZ=UTC x", "date", "-u"]);
  expect(cmd.env).toEqual([["LANG", "C"], ["TZ", "UTC x"]]);
  expect(cmd.argv).toEqual(["date", "-u"]);
  // after the program name it is just an argument; quoted, it is a program name
  expect(parse("env A=1").steps[0].pipeline.commands[0].argv).toEqual(["env", "A=1"]);
  expect(parse("'A=1' ls").steps[0].pipeline.commands[0].argv).toEqual(["A=1", "ls"]);
  expect(refusal("A=1")).toContain("assignment without a command");
  expect(refusal("a[0]=1 ls")).toContain("array or append assignment");
  expect(refusal("a+=1 ls")).toContain("array or append assignment");
});

Deno.test("operators: lists, pipelines, |& and the connectors between them", () => {
  const s = parse("a | b |& c && d || e ; f");
  expect(s.steps.map((st) => st.connector)).toEqual([undefined, "&&", "||", ";"]);
  expect(s.steps[0].pipeline.commands.map((c) => c.argv[0])).toEqual(["a", "b", "c"]);
  expect(s.steps[0].pipeline.stderrToPipe).toEqual([false, true]);
  expect(words("a;b")).toEqual([["a"], ["b"]]);
  expect(words("a ;")).toEqual([["a"]]);
});

Deno.test("redirects: every supported form, in order", () => {
  const r = parse("cmd <in >out 2>>err 2>&1 >&2 &>both &>>both2 >|clob >&file 1>one")
    .steps[0].pipeline.commands[0].redirects;
  expect(r).toEqual([
    { kind: "read", path: "in" },
    { kind: "write", fd: 1, append: false, path: "out" },
    { kind: "write", fd: 2, append: true, path: "err" },
    { kind: "dup", fd: 2, to: 1 },
    { kind: "dup", fd: 1, to: 2 },
    { kind: "both", append: false, path: "both" },
    { kind: "both", append: true, path: "both2" },
    { kind: "write", fd: 1, append: false, path: "clob" },
    { kind: "both", append: false, path: "file" },
    { kind: "write", fd: 1, append: false, path: "one" },
  ]);
  expect(parse("> f echo hi").steps[0].pipeline.commands[0].argv).toEqual(["echo", "hi"]);
});

Deno.test("unsupported syntax is refused, naming the construct and what is supported", () => {
  const cases: [string, string][] = [
    ["(ls)", "subshell"],
    ["{ ls; }", "reserved word `{`"],
    ["ls &", "background job"],
    ["for i in a; do ls; done", "reserved word `for`"],
    ["if true; then ls; fi", "reserved word `if`"],
    ["while true; do ls; done", "reserved word `while`"],
    ["f() { ls; }", "subshell"],
    ["cat <<EOF\nx\nEOF", "here-document"],
    ["cat <<< x", "here-string"],
    ["diff <(ls) >(ls)", "process substitution"],
    ["echo $'\\x3b'", "ANSI-C quoting"],
    ['echo $"x"', "locale quoting"],
    ["echo {a,b}", "brace expansion"],
    ["echo x{1..3}", "brace expansion"],
    ["echo $((1+2))", "arithmetic"],
    ["((x=1))", "arithmetic"],
    ["[[ -f x ]]", "reserved word `[[`"],
    ["! ls", "reserved word `!`"],
    ["case x in x) ls;; esac", "`)` without a matching `(` (case statements"],
    ["export A=1", "shell builtin `export`"],
    ["eval ls", "shell builtin `eval`"],
    ["source x", "shell builtin `source`"],
    ["declare x=1", "shell builtin `declare`"],
    ["ls 3>f", "only fds 0, 1 and 2"],
    ["ls 2>&3", "only fds 0, 1 and 2"],
    ["ls <>f", "read-write redirect"],
    ["ls <&0", "input duplication"],
    ["ls > *.log", "a glob in a redirect target"],
    ["> f", "a redirect without a command"],
  ];
  for (const [cmd, construct] of cases) {
    const msg = refusal(cmd);
    expect(msg).toMatch(/^command denied: unsupported shell syntax: /);
    expect(msg).toContain(construct);
    if (!msg.includes("unsupported shell syntax")) continue;
    expect(msg).toContain("Supported: simple commands");
  }
});

Deno.test("malformed commands are syntax errors", () => {
  for (
    const cmd of [
      "echo 'a",
      'echo "a',
      "echo a\\",
      "; ls",
      "ls && ",
      "ls | ",
      "ls | | x",
      "ls >",
      "&& ls",
    ]
  ) {
    expect(refusal(cmd)).toMatch(/^command denied: shell syntax error: /);
  }
  expect(() => parse("   ")).toThrow(ShellSyntaxError);
  expect(() => parse("# nothing")).toThrow(ShellSyntaxError);
});

Deno.test("globs expand relative to the working directory, sorted, dotfiles only on request", () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const f of ["b.log", "a.log", ".hidden.log", "c.txt"]) {
      Deno.writeTextFileSync(`${dir}/${f}`, "");
    }
    Deno.mkdirSync(`${dir}/sub`);
    Deno.writeTextFileSync(`${dir}/sub/x.log`, "");
    const argv = (cmd: string) =>
      parseScript(cmd, { env: ENV, cwd: dir }).steps[0].pipeline.commands[0].argv;
    expect(argv("ls *.log")).toEqual(["ls", "a.log", "b.log"]);
    expect(argv("ls .*.log")).toEqual(["ls", ".hidden.log"]);
    expect(argv("ls */*.log ?.txt")).toEqual(["ls", "sub/x.log", "c.txt"]);
    expect(argv("ls */")).toEqual(["ls", "sub/"]);
    expect(argv("ls *.none")).toEqual(["ls", "*.none"]); // no match: the word as written
    expect(argv("ls '*'.log \\*.log \"*.log\"")).toEqual(["ls", "*.log", "*.log", "*.log"]);
    expect(argv(`ls ${dir}/a*`)).toEqual(["ls", `${dir}/a.log`]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the lexer's prepared text is what shell-quote reads for the cross-check", () => {
  expect(lex("echo a#b # c\nls").prepared).toBe("echo a\\#b ;ls");
  expect(lex("a \\\n b").prepared).toBe("a  b");
});

Deno.test("trusted mode: sub-commands inside substitutions, groups and loops are visible", () => {
  const seen = visibleCommands(
    "for f in $(rm -rf /x); do echo `rm b`; done; (rm c) && { rm d; }; if true; then rm e; fi",
    { env: ENV, cwd },
  );
  const progs = seen.map((w) => w.join(" "));
  for (const c of ["rm -rf /x", "rm b", "rm c", "rm d", "rm e"]) expect(progs).toContain(c);
  expect(visibleCommands("cat <<EOF\nrm z\nEOF", { env: ENV, cwd }).map((w) => w.join(" ")))
    .toContain("rm z");
  expect(visibleCommands("r''m -rf \\/", { env: ENV, cwd })).toEqual([["rm", "-rf", "/"]]);
});
