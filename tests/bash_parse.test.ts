/**
 * The restricted interpreter's parser (lib/bash/syntax.ts): the shapes it
 * reads, the constructs it refuses by name, the malformed text it calls a
 * syntax error; and trusted mode's view of sub-commands (lib/bash/visible.ts).
 */
import { expect } from "./deps.ts";
import { visibleCommands } from "../lib/bash/visible.ts";
import { ShellSyntaxError, UnsupportedSyntax } from "../lib/bash/lex.ts";
import { parseInterp } from "../lib/bash/syntax.ts";
import { type Node, staticText, walk } from "../lib/bash/ast.ts";

const ENV = { HOME: "/home/u", PATH: "/usr/bin:/bin" };
const cwd = "/nonexistent-dir-for-globs";

const refusal = (cmd: string): string => {
  try {
    parseInterp(cmd);
  } catch (err) {
    if (err instanceof UnsupportedSyntax || err instanceof ShellSyntaxError) return err.message;
    throw err;
  }
  throw new Error(`not refused: ${JSON.stringify(cmd)}`);
};

/** The simple commands of a script, their literal words (`?` for an expansion). */
const simples = (n: Node) =>
  [...walk(n)].flatMap((x) =>
    x.k === "simple" ? [x.words.map((w) => staticText(w) ?? "?").join(" ")] : []
  );

Deno.test("parser: lists, pipelines, compound commands and substitutions nest as bash reads them", () => {
  const n = parseInterp(
    "cd x && ls | wc -l; for f in a b; do echo $f; done\n" +
      'while read -r l; do [ -n "$l" ] && echo $(echo $l); done < f\n' +
      "if true; then :; elif false; then :; else echo e; fi; case $x in a|b) echo ab;; esac",
  );
  expect(simples(n)).toEqual([
    "cd x",
    "ls",
    "wc -l",
    "echo ?",
    "read -r l",
    "[ -n ? ]",
    "echo ?",
    "echo ?",
    "true",
    ":",
    "false",
    ":",
    "echo e",
    "echo ab",
  ]);
  expect(n.k).toBe("seq");
});

Deno.test("parser: words keep their quoting; 2>f is a redirect and 2 >f an argument", () => {
  const a = parseInterp("echo 2> f");
  const b = parseInterp("echo 2 > f");
  expect(a.k === "simple" && a.words.length).toBe(1);
  expect(b.k === "simple" && b.words.length).toBe(2);
  const q = parseInterp("echo 'a b' \"$HOME\" \\* a#b # comment");
  expect(q.k === "simple" && q.words.map((w) => w.map((p) => p.k))).toEqual([
    ["lit"],
    ["lit"],
    ["param"],
    ["lit"],
    ["lit"],
  ]);
  const h = parseInterp("cat <<EOF\n$HOME\nEOF\necho after");
  expect(simples(h)).toEqual(["cat", "echo after"]);
});

Deno.test("parser: what the interpreter does not run is refused, naming the construct", () => {
  const cases: [string, string][] = [
    ["ls &", "background job"],
    ["f() { ls; }", "function definition"],
    ["function f { ls; }", "reserved word `function`"],
    ["diff <(ls) >(ls)", "process substitution"],
    ["echo $[1+2]", "`$[ ]`"],
    ["echo ${!x}", "indirect expansion"],
    ["echo ${a[0]}", "array reference"],
    ["a=(1 2)", "array assignment"],
    ["a[0]=1", "array element assignment"],
    ["echo $1", "special parameter `$1`"],
    ["echo $$", "special parameter `$$`"],
    ["echo $0", "special parameter `$0`"],
    ["echo $@", "special parameter `$@`"],
    ["ls 3>f", "only fds 0, 1 and 2"],
    ["ls <>f", "read-write redirect"],
    ["ls <&0", "input duplication"],
    ["for ((i=0;i<3;i++)); do :; done", "arithmetic for loop"],
    ["case a in a) ls;;& esac", "`;;&`"],
    ["coproc ls", "`coproc`"],
  ];
  for (const [cmd, construct] of cases) {
    const msg = refusal(cmd);
    expect({ cmd, msg }).toEqual({ cmd, msg: expect.stringContaining(construct) });
    expect(msg).toMatch(/^command denied: unsupported shell syntax: /);
  }
});

Deno.test("parser: malformed commands are syntax errors", () => {
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
      "if true; then ls",
      "for x in a; do ls",
      "while true; ls; done",
      "case a in a) ls",
      "echo $(ls",
      "echo ${x",
      "echo $((1+2)",
      "[[ -f x",
      "{ ls",
      "(ls",
      "fi",
      "   ",
      "# nothing",
    ]
  ) {
    expect({ cmd, msg: refusal(cmd) }).toEqual({
      cmd,
      msg: expect.stringMatching(/^command denied: shell syntax error: /),
    });
  }
});

Deno.test("parser: nesting is bounded (no stack exhaustion from a deep script)", () => {
  expect(refusal("{ ".repeat(200) + "ls" + "; }".repeat(200))).toContain("nesting deeper");
  expect(refusal("echo " + "$(".repeat(200) + "ls" + ")".repeat(200))).toContain("nesting deeper");
  expect(refusal("( ".repeat(500) + "ls" + ")".repeat(500))).toContain("nesting deeper");
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
