/**
 * The red-team corpus (tests/redteam/bash_payloads.json) under a read-only
 * rule set. Every payload is either denied before anything starts, or runs,
 * and then every program started is exactly one of the checked, allowed
 * sub-commands (each start re-checked against the rules here). A marker directory outside the workspace stays empty: any
 * bypass (a planted program, a redirect out, a smuggled command) would write
 * into it.
 */
import { expect } from "./deps.ts";
import { relative } from "node:path";
import { TaskError } from "../lib/tasks/errors.ts";
import { runBash } from "../lib/bash/run.ts";
import type { Plan } from "../lib/bash/plan.ts";
import { isWithin } from "../lib/fs/workspace.ts";
import { context, READ_ONLY, withWorkspace } from "./bash_support.ts";
import { compileCommandPolicy } from "../lib/policy/command_policy.ts";

interface Payload {
  id: string;
  category: string;
  payload: string;
  expect: "deny" | "run" | "either";
  note?: string;
}

const corpus: { payloads: Payload[] } = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/bash_payloads.json", import.meta.url)),
);
const policy = compileCommandPolicy(READ_ONLY);
const ALLOWED_PROGRAMS = new Set(
  READ_ONLY.filter((r) => r.action === "allow").map((r) => r.pattern.split(" ")[0]),
);

Deno.test("the corpus covers what the issue asks for", () => {
  const p = corpus.payloads;
  expect(p.length).toBeGreaterThanOrEqual(80);
  expect(new Set(p.map((x) => x.id)).size).toBe(p.length);
  const text = p.map((x) => x.payload);
  expect(text).toContain("declare x='a[$(touch {{MARK}})]'; [[ $x -eq 0 ]]");
  for (
    const needle of [
      "\n",
      "\r",
      "`",
      "$(",
      "${IFS}",
      "$'\\x3b'",
      "> {{MARK}}",
      ">> ~/.bashrc",
      "2>&1",
      "FOO=x",
      "env ",
      "nice ",
      "timeout ",
      "xargs ",
      "sudo ",
      "/bin/rm",
      "./rm",
      "ｔｏｕｃｈ",
      "{{REPEAT:",
    ]
  ) {
    expect({ needle, found: text.some((t) => t.includes(needle)) }).toEqual({
      needle,
      found: true,
    });
  }
  for (const x of p) expect(["deny", "run", "either"]).toContain(x.expect);
});

function expand(payload: string, mark: string, markDir: string, markRel: string): string {
  return payload
    .replace(/\{\{REPEAT:(\d+):([\s\S]*?)\}\}/g, (_, n, t) => t.repeat(Number(n)))
    .replaceAll("{{MARK}}", mark)
    .replaceAll("{{MARKDIR}}", markDir)
    .replaceAll("{{MARK_REL}}", markRel);
}

Deno.test("red team: every payload is denied or runs exactly the checked argv; no marker appears", async () => {
  const markDir = await Deno.makeTempDir({ prefix: "bash_redteam_marks_" });
  try {
    await withWorkspace(async (ws) => {
      const mark = `${markDir}/MARK`;
      // Planted look-alikes: running any of them is a bypass, and it leaves a mark.
      for (const name of ["echo", "ls", "touch", "rm", "cat"]) {
        await Deno.writeTextFile(
          `${ws.root}/${name}`,
          `#!/bin/sh\necho planted > ${markDir}/PLANTED_${name}\n`,
          {
            mode: 0o755,
          },
        );
      }
      await Deno.symlink(markDir, `${ws.root}/outlink`);
      const env = { HOME: markDir, LANG: "C", PATH: `${ws.root}:.:bin:${Deno.env.get("PATH")}` };
      const failures: string[] = [];
      const counts = { deny: 0, run: 0 };
      for (const p of corpus.payloads) {
        const command = expand(p.payload, mark, markDir, relative(ws.root, mark));
        const spawned: { argv: string[]; program: string }[] = [];
        let plan: Plan | undefined;
        let outcome: "deny" | "run";
        let detail = "";
        try {
          await runBash({ command, timeout: 30 }, context(ws, READ_ONLY), {
            env,
            onPlan: (pl) => plan = pl,
            onSpawn: (argv, program) => spawned.push({ argv: [...argv], program }),
          });
          outcome = "run";
        } catch (err) {
          if (!(err instanceof TaskError) || !err.message.startsWith("command denied")) {
            failures.push(`${p.id}: unexpected error ${String(err)}`);
            continue;
          }
          outcome = "deny";
          detail = err.message;
        }
        counts[outcome]++;
        const tag = `${p.id} [${p.category}] ${JSON.stringify(p.payload.slice(0, 80))}`;
        if (p.expect !== "either" && p.expect !== outcome) {
          failures.push(`${tag}: expected ${p.expect}, got ${outcome} ${detail.slice(0, 200)}`);
        }
        // A refusal before running starts nothing; one by the gate at run time (for words
        // only known then) may come after earlier programs ran, each of them allowed.
        if (outcome === "deny" && spawned.length > 0 && (plan?.deferred ?? []).length === 0) {
          failures.push(`${tag}: denied before running, but started programs`);
        }
        {
          // Every start passed the gate: the argv spawned is one the rules allow (checked
          // again here, independently), of an allowed program, never a workspace file.
          for (const s of spawned) {
            if (policy.check(s.argv).action !== "allow") {
              failures.push(`${tag}: started ${JSON.stringify(s.argv)}, which the rules deny`);
            }
            if (!ALLOWED_PROGRAMS.has(s.argv[0])) {
              failures.push(`${tag}: started program ${s.argv[0]}`);
            }
            if (isWithin(s.program, ws.root)) {
              failures.push(`${tag}: ran a workspace file ${s.program}`);
            }
          }
          // Every statically known command word was checked before anything ran.
          const checked = (plan?.checks ?? []).filter((c) => c.decision.action === "allow");
          if (spawned.length > 0 && checked.length === 0 && (plan?.deferred ?? []).length === 0) {
            failures.push(`${tag}: programs started, yet the plan checked nothing`);
          }
        }
        let marks: string[];
        try {
          marks = [...Deno.readDirSync(markDir)].map((e) => e.name);
        } catch {
          marks = ["nothing: it was removed"];
          await Deno.mkdir(markDir);
        }
        if (marks.length > 0) {
          failures.push(`${tag}: BYPASS, the marker directory holds ${marks.join(", ")}`);
          for (const e of Deno.readDirSync(markDir)) {
            await Deno.remove(`${markDir}/${e.name}`, { recursive: true });
          }
        }
      }
      expect(failures).toEqual([]);
      expect(counts.deny).toBeGreaterThan(50);
      expect(counts.run).toBeGreaterThan(10);
    });
  } finally {
    await Deno.remove(markDir, { recursive: true });
  }
});
