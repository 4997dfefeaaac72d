/**
 * The restricted interpreter against real bash: every case runs under
 * `bash -c` and through the runner on the same fixture workspace with the
 * same environment, and stdout and the exit status must be identical. The
 * cases cover each construct the interpreter runs, several ways, and the
 * wrong answers issue 10 measured (globs and $PWD before cd, argv[0], 2>&1).
 */
import { expect } from "./deps.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import type { Workspace } from "../lib/fs/workspace.ts";
import {
  envFor,
  INTERP_RULES,
  type Outcome,
  underBash,
  underRunner,
  withFixture,
} from "./bash_interp_support.ts";
import { runBash } from "../lib/bash/run.ts";
import { context } from "./bash_support.ts";

/**
 * A program that alternates stdout and stderr lines, `n` of each (sh's echo
 * writes each line at once). Under one pipe their order is the program's;
 * two pipes merged by the runner reorder them.
 */
const alternate = (n: number) =>
  `sh -c 'i=0; while [ $i -lt ${n} ]; do echo out$i; echo err$i >&2; i=$((i+1)); done'`;

const CASES: Record<string, string[]> = {
  "2>&1 into one destination keeps the program's order": [
    `${alternate(300)} 2>&1`,
    `${alternate(300)} 2>&1 | cat`,
    `${alternate(300)} |& cat`,
    `${alternate(300)} 2>&1 | tail -n 100`,
    `{ ${alternate(300)}; } 2>&1`,
    `( ${alternate(300)} ) 2>&1 | cat`,
    `{ ${alternate(300)} >&2; } 2>&1 | cat`,
    `${alternate(300)} >&2 |& cat`,
    `${alternate(300)} > both.txt 2>&1; cat both.txt`,
    `${alternate(300)} &> both.txt; cat both.txt`,
    // stderr to the capture, stdout to the file: two destinations, each in order
    `${alternate(300)} 2>&1 > only.txt; cat only.txt`,
    `echo x=$(${alternate(300)} 2>&1)`,
    "ls data nope 2>&1; ls nope data 2>&1 | cat",
    // the reader stops: the one pipe closes and the writer ends on SIGPIPE, as under bash
    "sh -c 'while :; do echo y; echo n >&2; done' 2>&1 | head -n 3",
    // `|&` joins stderr after the command's own redirects, as bash does
    `${alternate(3)} 2>/dev/null |& cat`,
    // more than a pipe holds (64 KiB), counted (the capture would save it to a file):
    // with digits dropped, every line differs from the one before only in this order
    `${alternate(5000)} 2>&1 | tr -d 0-9 | uniq | wc -l`,
    `${alternate(5000)} > big.txt 2>&1; tr -d 0-9 < big.txt | uniq | wc -l`,
    `x=$(${alternate(5000)} 2>&1); echo "$x" | tr -d 0-9 | uniq | wc -l`,
  ],
  "issue 10 wrong answers": [
    "cd var/log && ls *.log",
    "cd var/log && grep -i error *.log | tail -5",
    "cd var/log && echo $PWD",
    "cd var/log; echo $PWD; cd ..; echo $PWD",
    "cd / && ls | head -3",
    "cd /; ls -d etc | head -3",
    "cd var/log && cat app.log > ../../copy.txt 2>&1; cat ../../copy.txt",
    "grep -c . etc/hosts > out.txt 2>&1; cat out.txt",
    "ls /nonexistent-xyz 2>&1 | head -1", // argv[0] as typed: `ls: cannot access`, not `/usr/bin/ls:`
    "cat nope.txt 2>&1; echo $?",
    "sh -c 'echo $0'",
    "cd var/log && cat missing.log > ../err.txt 2>&1; cat ../err.txt",
  ],
  "lists and pipelines": [
    "false && echo no; false || echo yes; true && echo and || echo not",
    "true; false",
    "false | true",
    "! false",
    "! true",
    "! grep -q zzz etc/hosts && echo absent",
    "printf 'b\\na\\nc\\n' | sort | head -n 2",
    "cat var/log/app.log | grep ERROR | wc -l",
    "sh -c 'echo o; echo e >&2' |& sort",
    "seq 1 100000 | head -n 2",
  ],
  "command substitution": [
    'x=$(cat data/list.txt | wc -l); echo "n=$x"',
    "echo `echo back`tick",
    'echo "$(echo a; echo b)"',
    "echo $(echo a; echo b)",
    "echo $(printf 'x\\n\\n\\n')end",
    'echo "$(cd var/log && ls)"; pwd',
    "echo $(echo $(echo nested))",
    "x=$(false); echo $?",
    "for f in $(ls var/log); do echo [$f]; done",
    'echo "n=$(grep -c ERROR var/log/app.log)"',
  ],
  "for loops": [
    "for i in 1 2 3; do echo $i; done",
    'for f in var/log/*.log; do wc -l "$f"; done',
    'for f in data/*; do echo "$f"; done',
    "for x in a b c; do if [ $x = b ]; then continue; fi; echo $x; done",
    "for x in a b c; do for y in 1 2; do [ $y = 2 ] && break 2; echo $x$y; done; done",
    "for i in {1..4}; do echo -n $i; done; echo",
    "for i in; do echo never; done; echo $?",
    "cd var; for f in log/*.log; do echo $f; done",
  ],
  "while and until": [
    'while read -r a b; do echo "[$a|$b]"; done < data/pairs.txt',
    'cat data/list.txt | while read l; do echo "<$l>"; done',
    "i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done",
    "i=0; until [ $i -ge 2 ]; do echo u$i; i=$((i+1)); done",
    'while IFS=: read -r user _ uid rest; do echo "$user=$uid"; done < data/passwd',
    'grep ERROR var/log/app.log | while read -r lvl msg; do echo "$msg"; done',
    "while read l; do echo $l; done <<< 'one\ntwo'",
    'ls var/log | while read f; do wc -l "var/log/$f" 2>/dev/null; done',
    "while false; do echo x; done; echo $?",
  ],
  "if and case": [
    "if grep -q ERROR var/log/app.log; then echo yes; else echo no; fi",
    "if false; then echo a; elif true; then echo b; else echo c; fi",
    "if false; then echo a; fi; echo $?",
    "case abc in a*) echo A;; *) echo other;; esac",
    "case x.log in *.txt|*.log) echo text;; esac",
    "case '*' in \\*) echo star;; *) echo any;; esac",
    "x=db; case $x in web) echo w;; db) echo d;; esac",
    "case a in a) echo one;& b) echo two;; c) echo three;; esac",
  ],
  "test and [[ ]]": [
    "[ -f etc/hosts ] && echo file",
    "[ -d var ] && [ ! -f var ] && echo dir",
    "test -z '' && test -n x && echo ok",
    "[ 3 -gt 2 ] && [ 2 -le 2 ] && echo cmp",
    "[ abc = abc ] && [ abc != abd ] && echo str",
    "[ x -eq 1 ]; echo $?",
    "[ -s data/list.txt -a -e etc ] && echo both",
    "[[ -d var && $HOME == /* ]] && echo both",
    "[[ abc == a* ]] && echo glob",
    "[[ abc == 'a*' ]] || echo literal",
    "x=5; [[ $x -gt 3 && $x -lt 10 ]] && echo range",
    "[[ ! -e nope ]] && echo missing",
    "[[ b > a ]] && echo later",
    "[[ 1+1 -eq 2 ]] && echo arith",
  ],
  "variables and parameter expansion": [
    "x=1; echo $x ${x}",
    "echo ${nope:-dflt} ${HOME:+set}",
    "x=; echo ${x-unset} ${x:-empty}",
    "echo ${y:=assigned}; echo $y",
    "f=archive.tar.gz; echo ${f%.gz} ${f%%.*} ${f#*.} ${f##*.}",
    "p=/var/log/app.log; echo ${p##*/} ${p%/*}",
    "s=hello; echo ${#s} ${s^^} ${s:1:3} ${s: -2}",
    "s=a-b-c; echo ${s/-/+} ${s//-/+}",
    "export X=1; sh -c 'echo $X'",
    'LC_ALL=C sort data/list.txt; echo "[$LC_ALL]"',
    "x='a  b'; echo $x; echo \"$x\"",
    "x='*.log'; cd var/log; echo $x",
    "echo $?; false; echo $?",
    "x=1; x+=2; echo $x",
    'e=""; printf "[%s]" $e "$e"; echo',
  ],
  arithmetic: [
    "echo $((3*4+1)) $((10/3)) $((10%3)) $((2**10))",
    "echo $(( (1+2)*3 )) $((-5+2)) $((1<<4)) $((7&3))",
    "x=4; echo $((x*2)) $(($x+1))",
    "i=0; ((i++)); ((i+=5)); echo $i",
    "(( 0 )); echo $?; (( 2 > 1 )); echo $?",
    "echo $((0x10 + 010 + 2#101))",
    "a=b; b=7; echo $((a+1))",
    "echo $((1 ? 2 : 3)) $((0 && 1/0))",
    "echo $((5 > 3 && 2 != 2))",
  ],
  "quoting, here-docs, here-strings, braces": [
    "echo $'a\\tb' $'x\\ny'",
    "echo 'single $HOME' \"double $HOME\" \\$HOME",
    "cat <<EOF\nhome is $HOME\n$(echo sub)\nEOF",
    "cat <<'EOF'\nliteral $HOME\nEOF",
    "cat <<-EOF\n\tindented\n\tEOF",
    'grep -c db <<< "db db"',
    "wc -w <<< 'one two three'",
    "echo {a,b}{1..3}",
    "echo x{1..10..3} {c..a} {01..03}",
    "echo {a,b,c}.log pre{,fix}",
    "echo {}  '{a,b}' {a}",
    "echo a#b # comment",
  ],
  "groups and subshells": [
    "{ echo a; echo b; } | wc -l",
    "(cd var/log && ls) ; pwd",
    '(x=1); echo "[$x]"',
    "{ echo out; ls /nonexistent; } 2>/dev/null",
    "(exit 3); echo $?",
  ],
  "redirects": [
    "echo hi > o.txt; echo more >> o.txt; cat o.txt",
    "cat < data/list.txt | wc -l",
    "ls /nonexistent 2>/dev/null; echo $?",
    "sh -c 'echo o; echo e >&2' 2>&1 > only.txt; cat only.txt",
    "sh -c 'echo o; echo e >&2' &> both.txt; sort both.txt",
    "for i in 1 2; do echo $i; done > loop.txt; cat loop.txt",
    'while read l; do echo "$l"; done < data/list.txt > w.txt; wc -l < w.txt',
    "> empty.txt; wc -c < empty.txt",
    "echo err >&2; echo out",
  ],
  "builtins and wrappers": [
    ": && true && echo builtins",
    "command -v ls >/dev/null && echo found",
    "command -v nosuchprogram-xyz; echo $?",
    "command ls data | head -1",
    "timeout 5 grep -c ERROR var/log/app.log",
    "timeout 1 sleep 5; echo $?",
    "nice -n 5 head -1 data/list.txt",
    "nohup head -1 data/list.txt",
    "env LC_ALL=C sort data/list.txt",
    "LC_ALL=C sort data/list.txt | head -2",
    "ls data | xargs -I{} echo item {}",
    "cat data/list.txt | xargs echo",
    "cat data/list.txt | xargs -n 2 echo",
    "printf 'a\\0b\\0' | xargs -0 echo",
    "echo | xargs -r echo never; echo $?",
    "echo 'a b' | xargs grep -l zzz; echo $?",
    "exec head -1 data/list.txt; echo never",
    "cd; pwd",
    "cd /nonexistent-xyz; echo $?",
    "read x < data/list.txt; echo $x",
    "exit 3",
    "true; exit",
  ],
};

async function compare(ws: Workspace, script: string): Promise<string | undefined> {
  const bash = await underBash(script, ws.root);
  let ours: Outcome & { stderr?: string };
  try {
    ours = await underRunner(script, ws);
  } catch (err) {
    if (!(err instanceof TaskError)) throw err;
    return `${JSON.stringify(script)}: refused: ${err.message}`;
  }
  if (ours.stdout === bash.stdout && ours.exit === bash.exit) return undefined;
  return `${JSON.stringify(script)}:\n  bash: ${JSON.stringify(bash)}\n  ours: ${
    JSON.stringify(ours)
  }`;
}

for (const [construct, scripts] of Object.entries(CASES)) {
  Deno.test(`interpreter = bash: ${construct}`, async () => {
    await withFixture(async (ws) => {
      const diffs: string[] = [];
      for (const s of scripts) {
        const d = await compare(ws, s);
        if (d) diffs.push(d);
      }
      expect(diffs).toEqual([]);
    });
  });
}

Deno.test("one gate: every way of reaching a program meets the rule with the final argv", async () => {
  await withFixture(async (ws) => {
    const rules = [...INTERP_RULES, { pattern: "wc *", action: "deny" as const }];
    const ways = [
      "echo x | wc -l",
      "echo $(wc -l data/list.txt)",
      "echo `wc -l data/list.txt`",
      "for i in 1; do wc -l data/list.txt; done",
      "while true; do wc -l data/list.txt; break; done",
      "if true; then wc -l data/list.txt; fi",
      "case a in a) wc -l data/list.txt;; esac",
      "{ wc -l data/list.txt; }",
      "(wc -l data/list.txt)",
      "echo data/list.txt | xargs wc -l",
      "echo data/list.txt | xargs -I{} wc -l {}",
      "timeout 5 wc -l data/list.txt",
      "env wc -l data/list.txt",
      "env LC_ALL=C wc -l data/list.txt",
      "command wc -l data/list.txt",
      "exec wc -l data/list.txt",
      "nice -n 1 wc -l data/list.txt",
      "nohup wc -l data/list.txt",
      "x=wc; $x -l data/list.txt",
      "w{c,} -l data/list.txt",
      "cat <<EOF\n$(wc -l data/list.txt)\nEOF",
      "echo ${x:-$(wc -l data/list.txt)}",
      "[[ -n $(wc -l data/list.txt) ]]",
    ];
    for (const way of ways) {
      const spawned: string[][] = [];
      let message = "";
      try {
        await underRunner(way, ws, rules, spawned);
      } catch (err) {
        message = (err as Error).message;
      }
      expect({ way, message }).toEqual({
        way,
        message: expect.stringMatching(/^command denied: .*wc .*rule "(wc )?\*": deny/),
      });
      expect({ way, wc: spawned.filter((a) => a.includes("wc")) }).toEqual({ way, wc: [] });
    }
  });
});

Deno.test("bounds: loops, braces, substitutions and the task timeout stop runaway scripts", async () => {
  await withFixture(async (ws) => {
    const refusal = async (script: string) => {
      try {
        await underRunner(script, ws);
      } catch (err) {
        return (err as Error).message;
      }
      return "ran";
    };
    expect(await refusal("while :; do :; done")).toContain("more than 100000 loop iterations");
    expect(await refusal("echo {1..100000}")).toContain("more than 10000 words");
    expect(await refusal(`echo ${"{a,b}".repeat(14)}x`))
      .toContain("more than 10000 words");
    expect(await refusal("echo " + "$(echo ".repeat(20) + "x" + ")".repeat(20)))
      .toContain("nested deeper than 16");
    expect(await refusal("x=$(seq 1 2000000)")).toContain("more than 4194304 bytes");
    // a builtin-only loop still yields to the timer: the task timeout ends it
    const r = await runBash(
      { command: "while :; do x=$((x+1)); done", timeout: 0.05 },
      context(ws, INTERP_RULES),
      { env: envFor(ws.root) },
    );
    expect(r.exit_code).toBe(124);
    expect(r.stderr).toContain("command timed out");
  });
});
