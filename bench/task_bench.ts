/**
 * `deno task bench:tasks`: a task's whole round trip (platform simulator ->
 * the real runner, supervised under its derived Deno permissions ->
 * operation -> result) against the bare operation done in this process, in
 * the same run. The ratio is what the runner adds on top of the work.
 */
import { PlatformSimulator } from "../tests/support/platform.ts";
import { startRunner } from "../tests/support/runner.ts";
import { median, percentile, timeEach } from "./timing.ts";

const N = Number(Deno.args[0] ?? 200);
const p90 = (xs: number[]) => percentile(xs, 0.9);
const time = (fn: () => Promise<unknown>) => timeEach(N, fn, 5);

const sim = await PlatformSimulator.start();
const runner = await startRunner({
  url: sim.url,
  token: sim.token,
  config: `permission:\n  bash:\n    "*": deny\n    "echo *": allow\n`,
});
try {
  await sim.waitFor((e) => e.type === "heartbeat", 30_000);
  const file = `${runner.workspace}/bench.txt`;
  await Deno.writeTextFile(file, "x".repeat(2048));
  const rows: [string, number[], number[]][] = [];
  rows.push([
    "read 2 KB",
    await time(async () => (await Deno.readFile(file)).toBase64()),
    await time(() => sim.request("read", { path: "bench.txt" })),
  ]);
  rows.push([
    "bash echo",
    await time(() => new Deno.Command("echo", { args: ["hi"], stdin: "null" }).output()),
    await time(() => sim.request("bash", { command: "echo hi" })),
  ]);
  rows.push([
    "grep 1 file",
    await time(async () => /x{3}/.test(await Deno.readTextFile(file))),
    await time(() => sim.request("grep", { pattern: "x{3}" })),
  ]);
  console.log(`task round trip vs the bare operation, ${N} runs each; median / p90 ms`);
  console.log("operation     bare operation     task round trip    ratio (medians)");
  for (const [name, bare, task] of rows) {
    console.log(
      `${name.padEnd(14)}${`${median(bare).toFixed(3)} / ${p90(bare).toFixed(3)}`.padEnd(19)}${
        `${median(task).toFixed(3)} / ${p90(task).toFixed(3)}`.padEnd(19)
      }${(median(task) / median(bare)).toFixed(1)}x`,
    );
  }
} finally {
  await runner.stop();
  await sim.close();
  await Deno.remove(runner.workspace, { recursive: true });
}
