/**
 * `deno task bench:loop`: the longest the event loop is held up (a 1 ms
 * interval timer's worst lateness) while the issue 12 ReDoS tasks run in
 * this process, against the same timer with nothing running, in the same
 * run. Issue 12's goal: no task blocks the loop for more than 50 ms.
 *
 *   idle                        the timer alone: the machine's own noise
 *   ls rx2/<6, 8, 16 x *a>b     glob expansion against a 60-character name (was 4.1 s, 55 s)
 *   grep (a+)+$ over 5,000 a!   regex in the grep worker
 *   list -r / glob over 2,000   the descriptor walk (lib/fs/walk.ts)
 */
import { join } from "node:path";
import { Workspace } from "../lib/fs/workspace.ts";
import { compilePolicy } from "../lib/policy/mod.ts";
import { parseConfig } from "../lib/config.ts";
import { openServices } from "../lib/tasks/services.ts";
import { logger } from "../lib/log.ts";
import type { OperationContext, OperationHandler } from "../lib/tasks/context.ts";
import { runBash } from "../lib/bash/run.ts";
import { grep } from "../lib/operations/grep.ts";
import { list } from "../lib/operations/list.ts";
import { glob } from "../lib/operations/glob.ts";

const root = await Deno.makeTempDir({ prefix: "fdr-loop-bench-" });
await Deno.mkdir(join(root, "rx2"));
await Deno.writeTextFile(join(root, "rx2", "a".repeat(60)), "");
await Deno.writeTextFile(join(root, "re.txt"), "a".repeat(5000) + "!\n");
for (let d = 0; d < 20; d++) {
  await Deno.mkdir(join(root, "tree", `d${d}`), { recursive: true });
  for (let f = 0; f < 100; f++) await Deno.writeTextFile(join(root, "tree", `d${d}`, `f${f}`), "x");
}
const ws = await Workspace.open(root);
const services = openServices({ log: logger("bench") });
const ctx: OperationContext = {
  workspace: ws,
  policy: compilePolicy(
    parseConfig('permission:\n  bash:\n    "*": deny\n    "ls *": allow\n', "b.yaml"),
  ),
  signal: new AbortController().signal,
  log: logger("bench"),
  taskId: "bench",
  output: () => {},
  services,
};

/** Runs `work` while a 1 ms timer notes its worst lateness; ms. */
async function maxLag(work: () => Promise<unknown>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    clearInterval(timer);
  }
  return worst;
}

const op = (h: OperationHandler, args: unknown) => () => h(args, ctx);
const rows: [string, () => Promise<unknown>][] = [
  ["idle (200 ms)", () => new Promise((r) => setTimeout(r, 200))],
  ["ls rx2/*a x6 *b", () => runBash({ command: "ls rx2/*a*a*a*a*a*a*b" }, ctx)],
  ["ls rx2/*a x8 *b", () => runBash({ command: "ls rx2/*a*a*a*a*a*a*a*a*b" }, ctx)],
  ["ls rx2/*a x16 *b", () => runBash({ command: `ls rx2/${"*a".repeat(16)}*b` }, ctx)],
  ["grep (a+)+$", op(grep, { pattern: "(a+)+$", include: ["re.txt"] })],
  ["list -r 2,000 files", op(list, { path: "tree", recursive: true })],
  ["glob **/f1* over 2,000", op(glob, { pattern: "**/f1*" })],
];
try {
  await maxLag(rows[1][1]); // warm-up: module loading and the first worker are not the task
  await maxLag(rows[4][1]);
  console.log("worst event-loop lateness while the task ran (1 ms timer), median of 5 runs");
  for (const [name, work] of rows) {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) runs.push(await maxLag(work));
    const median = runs.sort((a, b) => a - b)[2];
    console.log(`${name.padEnd(26)} ${median.toFixed(1).padStart(7)} ms`);
  }
} finally {
  await services[Symbol.asyncDispose]();
  await Deno.remove(root, { recursive: true });
}
