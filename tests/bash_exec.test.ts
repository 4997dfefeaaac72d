/**
 * The bash operation end to end on real processes and files: the restricted
 * executor (pipes, lists, redirects, cd), trusted mode, timeouts and
 * cancellation killing whole process trees, streaming, large output.
 */
import { expect } from "./deps.ts";
import { configureLogging, type LogRecord, resetLogging } from "../lib/deps.ts";
import type { Rule } from "../lib/config.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import { bash } from "../lib/operations/bash.ts";
import { runBash } from "../lib/bash/run.ts";
import { searchPath } from "../lib/proc/program_path.ts";
import type { BashResult } from "../lib/wire/protocol.ts";
import { isWithin } from "../lib/fs/workspace.ts";
import { context, READ_ONLY, running, TRUSTED, until, withWorkspace } from "./bash_support.ts";

const RULES: Rule[] = [
  ...READ_ONLY,
  ...["sort *", "sh *", "seq *", "tr *", "yes", "sleep *", "readlink *", "nosuchprogram-xyz *"]
    .map((pattern) => ({ pattern, action: "allow" as const })),
];

const run = async (ctx: ReturnType<typeof context>, args: Record<string, unknown>) =>
  await bash(args, ctx) as BashResult;

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TaskError);
    return (err as Error).message;
  }
  throw new Error("expected a TaskError");
}

Deno.test("pipelines and &&, ||, ; evaluate as in bash", async () => {
  await withWorkspace(async (ws) => {
    const ctx = context(ws, RULES);
    expect(await run(ctx, { command: "printf 'b\\na\\nc\\n' | sort | head -n 2" }))
      .toEqual({ stdout: "a\nb\n", stderr: "", exit_code: 0 });
    const r = await run(ctx, {
      command: "false && echo no; false || echo yes; true && echo and || echo not",
    });
    expect(r.stdout).toBe("yes\nand\n");
    expect((await run(ctx, { command: "true; false" })).exit_code).toBe(1);
    expect((await run(ctx, { command: "false | true" })).exit_code).toBe(0);
    expect((await run(ctx, { command: "yes | head -n 1" })).stdout).toBe("y\n"); // SIGPIPE reaches yes
  });
});

Deno.test("a command that exits non-zero is a result with that exit_code", async () => {
  await withWorkspace(async (ws) => {
    const r = await run(context(ws, RULES), { command: "ls /nonexistent-xyz" });
    expect(r.exit_code).toBe(2);
    expect(r.stderr).toContain("nonexistent-xyz");
    expect((await run(context(ws, RULES), { command: "sh -c 'kill -TERM $$'" })).exit_code).toBe(
      143,
    );
  });
});

Deno.test("redirects read and write workspace files, with bash's fd order", async () => {
  await withWorkspace(async (ws) => {
    const ctx = context(ws, RULES);
    const read = (f: string) => Deno.readTextFile(`${ws.root}/${f}`);
    await run(ctx, { command: "echo hi > out.txt; echo more >> out.txt" });
    expect(await read("out.txt")).toBe("hi\nmore\n");
    expect((await run(ctx, { command: "cat < out.txt | wc -l" })).stdout.trim()).toBe("2");

    const both = "sh -c 'echo o; echo e >&2'";
    await run(ctx, { command: `${both} > all.txt 2>&1` });
    expect((await read("all.txt")).split("\n").sort().join(",")).toBe(",e,o");
    const r = await run(ctx, { command: `${both} 2>&1 > only_out.txt` });
    expect(r.stdout).toBe("e\n"); // stderr went where stdout pointed before `> file`
    expect(await read("only_out.txt")).toBe("o\n");
    await run(ctx, { command: `${both} &> amp.txt; ${both} &>> amp.txt` });
    expect((await read("amp.txt")).split("\n").filter(Boolean).length).toBe(4);
    expect((await run(ctx, { command: `${both} |& sort` })).stdout).toBe("e\no\n");
    const quiet = await run(ctx, { command: `${both} 2>/dev/null` });
    expect(quiet).toEqual({ stdout: "o\n", stderr: "", exit_code: 0 });
    expect((await run(ctx, { command: "echo to-err >&2" })).stderr).toBe("to-err\n");
    // `echo 2 > f` writes "2"; `echo 2> f` redirects stderr and echoes an empty line
    await run(ctx, { command: "echo 2 > two.txt" });
    expect(await read("two.txt")).toBe("2\n");
    const fd = await run(ctx, { command: "echo 2> fd.txt" });
    expect(fd.stdout).toBe("\n");
    expect(await read("fd.txt")).toBe("");
  });
});

Deno.test("a redirect target outside the workspace denies the command before anything runs", async () => {
  const outside = await Deno.makeTempDir();
  try {
    await withWorkspace(async (ws) => {
      await Deno.symlink(outside, `${ws.root}/link`);
      const spawned: string[][] = [];
      const hooks = { onSpawn: (argv: readonly string[]) => spawned.push([...argv]) };
      for (
        const cmd of [
          `echo x > ${outside}/f`,
          "echo first; echo x > ../f",
          "echo x > link/f",
          "echo x >> ~/.bashrc",
          `cat < ${outside}/f`,
          "echo x 2> /etc/x",
          "cd . && echo x > link/f",
        ]
      ) {
        const msg = await rejection(runBash({ command: cmd }, context(ws, RULES), hooks));
        expect(msg).toMatch(
          /^command denied: redirect target .* is outside the workspace \(path escapes workspace/,
        );
      }
      expect(spawned).toEqual([]);
      expect([...Deno.readDirSync(outside)]).toEqual([]);
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a missing input file fails that command like bash, and the list goes on", async () => {
  await withWorkspace(async (ws) => {
    const r = await run(context(ws, RULES), { command: "cat < missing.txt; echo after" });
    expect(r.stdout).toBe("after\n");
    expect(r.stderr).toBe("missing.txt: No such file or directory\n");
    const nf = await run(context(ws, RULES), {
      command: "nosuchprogram-xyz | cat; nosuchprogram-xyz",
    });
    expect(nf.exit_code).toBe(127);
    expect(nf.stderr).toBe("nosuchprogram-xyz: command not found\n".repeat(2));
  });
});

Deno.test("cd goes anywhere readable, redirects stay in the workspace; workdir must be inside it", async () => {
  await withWorkspace(async (ws) => {
    await Deno.mkdir(`${ws.root}/sub/deeper`, { recursive: true });
    const ctx = context(ws, RULES);
    expect((await run(ctx, { command: "cd sub/deeper && pwd" })).stdout).toBe(
      `${ws.root}/sub/deeper\n`,
    );
    expect(
      (await run(ctx, { command: "cd sub && echo x > f.txt && cd .. && cat sub/f.txt" })).stdout,
    )
      .toBe("x\n");
    const out = await run(ctx, { command: "cd / && ls" });
    expect(out.exit_code).toBe(0);
    expect(out.stdout).toContain("proc\n"); // the root directory's listing, not the workspace's
    expect(await rejection(run(ctx, { command: "cd / && echo x > f" }))).toContain(
      "path escapes workspace",
    );
    expect((await run(ctx, { command: "cd /nonexistent-xyz; pwd" })).stdout).toBe(`${ws.root}\n`);
    expect((await run(ctx, { command: "pwd", workdir: "sub" })).stdout).toBe(`${ws.root}/sub\n`);
    expect(await rejection(run(ctx, { command: "pwd", workdir: "../" }))).toContain(
      "path escapes workspace",
    );
    expect(await rejection(run(ctx, { command: "pwd", workdir: "nope" }))).toContain(
      "does not exist",
    );
  });
});

Deno.test("denied: nothing starts, and the error names the sub-command and the rule", async () => {
  await withWorkspace(async (ws) => {
    const spawned: string[][] = [];
    const msg = await rejection(runBash(
      { command: "echo ok && rm -rf x | cat; touch y" },
      context(ws, [...READ_ONLY, { pattern: "rm *", action: "deny" }]),
      { onSpawn: (argv) => spawned.push([...argv]) },
    ));
    expect(msg).toBe('command denied: "rm -rf x" (rule "rm *": deny); "touch y" (rule "*": deny)');
    expect(spawned).toEqual([]);
    expect(await rejection(run(context(ws, []), { command: "echo hi" })))
      .toBe('command denied: "echo hi" (no rule allowed it)');
  });
});

Deno.test("bare program names never resolve to workspace files or relative PATH entries", async () => {
  await withWorkspace(async (ws) => {
    const marker = `${ws.root}/PLANTED_RAN`;
    for (const name of ["ls", "echo"]) {
      await Deno.writeTextFile(`${ws.root}/${name}`, `#!/bin/sh\ntouch ${marker}\n`, {
        mode: 0o755,
      });
    }
    const env = { ...Deno.env.toObject(), PATH: `${ws.root}:.:bin:${Deno.env.get("PATH")}` };
    expect(searchPath(env.PATH, ws.root).some((d) => isWithin(d, ws.root) || !d.startsWith("/")))
      .toBe(false);
    const programs: string[] = [];
    const r = await runBash({ command: "ls; echo done" }, context(ws, RULES), {
      env,
      onSpawn: (_argv, program) => programs.push(program),
    });
    expect(r.stdout).toContain("done");
    expect(programs.length).toBe(2);
    for (const p of programs) expect(isWithin(p, ws.root)).toBe(false);
    await expect(Deno.stat(marker)).rejects.toThrow(Deno.errors.NotFound);
  });
});

Deno.test("stdin is /dev/null in both modes", async () => {
  await withWorkspace(async (ws) => {
    const cmd = "readlink /proc/self/fd/0";
    expect((await run(context(ws, RULES), { command: cmd })).stdout).toBe("/dev/null\n");
    expect((await run(context(ws, TRUSTED), { command: cmd })).stdout).toBe("/dev/null\n");
    expect((await run(context(ws, RULES), { command: "cat" })).stdout).toBe("");
  });
});

Deno.test("output streams through ctx.output while the command still runs", async () => {
  await withWorkspace(async (ws) => {
    // The command waits for a file that the test creates only once `ready` has
    // been streamed: without streaming it could only end by timing out (124).
    const ctx = context(ws, RULES, {
      output: (stream, data) => {
        if (stream === "stdout" && data.includes("ready")) {
          Deno.writeTextFileSync(`${ws.root}/go`, "");
        }
      },
    });
    const r = await run(ctx, {
      command:
        "sh -c 'echo ready; echo warn >&2; while [ ! -e go ]; do sleep 0.05; done; echo done'",
      timeout: 60,
    });
    expect(r).toEqual({ stdout: "ready\ndone\n", stderr: "warn\n", exit_code: 0 });
    expect(ctx.chunks.map((c) => c.stream)).toContain("stderr");
    expect(ctx.chunks.filter((c) => c.stream === "stdout").map((c) => c.data).join("")).toBe(
      "ready\ndone\n",
    );
  });
});

/** The pids a command prints, one a line. */
function pids(text: string): number[] {
  return text.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number);
}

Deno.test("timeout kills a restricted pipeline's whole process tree: exit 124, `command timed out`", async () => {
  await withWorkspace(async (ws) => {
    // a background grandchild, one that moved to its own session (setsid), and a waiting parent
    const cmd = "sh -c 'sleep 300 & echo $!; setsid sleep 301 & echo $!; echo $$; wait' | cat";
    const r = await run(context(ws, RULES), { command: cmd, timeout: 1 });
    expect(r.exit_code).toBe(124);
    expect(r.stderr).toBe("command timed out");
    const seen = pids(r.stdout);
    expect(seen.length).toBe(3);
    await until(() => seen.every((p) => !running(p)), "every process of the tree to be gone");
  });
});

Deno.test("cancel kills a trusted command's whole process tree", async () => {
  await withWorkspace(async (ws) => {
    const ac = new AbortController();
    let printed = "";
    const ctx = context(ws, TRUSTED, {
      signal: ac.signal,
      output: (_s, data) => {
        printed += data;
        if (pids(printed).length === 3) ac.abort();
      },
    });
    const cmd = "sh -c 'sleep 300 & echo $!; sleep 301 & echo $!; echo $$; wait'";
    expect(await rejection(run(ctx, { command: cmd, timeout: 60 }))).toBe("command cancelled");
    const seen = pids(printed);
    await until(() => seen.every((p) => !running(p)), "every process of the tree to be gone");
  });
});

Deno.test("trusted mode runs full bash, still checks deny rules, and reaps background jobs", async () => {
  await withWorkspace(async (ws) => {
    const ctx = context(ws, TRUSTED);
    const r = await run(ctx, {
      command: "for i in 1 2; do echo $i; done; echo $(echo sub) ${HOME:+h}",
    });
    expect(r.stdout).toBe("1\n2\nsub h\n");
    expect(await rejection(run(ctx, { command: "echo $(rm -rf x)" })))
      .toBe('command denied: "rm -rf x" (rule "rm *": deny)');
    // A background job holding the output pipe would keep the task open until
    // its timeout; it is killed with the command instead.
    const bg = await run(ctx, { command: "sleep 300 & echo $!", timeout: 60 });
    expect(bg.exit_code).toBe(0);
    await until(() => !running(pids(bg.stdout)[0]), "the background job to be gone");
  });
});

Deno.test("large stdout is saved to .work/outputs and previewed; reading it back is not truncated", async () => {
  await withWorkspace(async (ws) => {
    const ctx = context(ws, RULES);
    const r = await run(ctx, { command: "seq 1 20000" });
    expect(r.truncated).toBe(true);
    expect(r.file_path).toMatch(/^\.work\/outputs\/bash_[A-Za-z0-9]{8}_\d+\.txt$/);
    expect(r.total_size).toBe(108894);
    expect(r.stdout).toContain("<output_truncated>");
    const back = await run(ctx, { command: `cat ${r.file_path}` });
    expect(back.truncated).toBeUndefined();
    expect(back.stdout.length).toBe(108894);
  });
});

Deno.test("each stream is capped at 10 MB in memory", async () => {
  await withWorkspace(async (ws) => {
    const r = await run(context(ws, RULES), { command: "yes | head -c 11000000", timeout: 60 });
    expect(r.exit_code).toBe(0);
    expect(r.truncated).toBe(true);
    const saved = await Deno.readTextFile(`${ws.root}/${r.file_path}`);
    expect(saved.startsWith("y\ny\n")).toBe(true);
    expect(saved).toContain("[runner: stdout capped at 10485760 bytes; the rest was discarded]");
    expect(saved.length).toBeLessThan(10_485_760 + 200);
  });
});

Deno.test("--log-level debug logs every decision with the rule that made it", async () => {
  const records: LogRecord[] = [];
  await configureLogging({
    reset: true,
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [{ category: ["flashduty"], lowestLevel: "debug", sinks: ["mem"] }],
  });
  try {
    await withWorkspace(async (ws) => {
      await run(context(ws, RULES), { command: "echo a | wc -l" });
      await rejection(run(context(ws, RULES), { command: "echo a; rm b" }));
    });
  } finally {
    await resetLogging();
  }
  const decisions = records.map((
    r,
  ) => [r.properties.decision, r.properties.subcommand, r.properties.reason]);
  expect(decisions).toEqual([
    ["allow", "echo a", 'rule "echo *": allow'],
    ["allow", "wc -l", 'rule "wc *": allow'],
    ["allow", "echo a", 'rule "echo *": allow'],
    ["deny", "rm b", 'rule "*": deny'],
  ]);
});
