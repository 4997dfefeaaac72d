/**
 * `deno task bench:frames`: what one maximal frame costs the runner in peak
 * memory. For each kind of huge message, a fresh runner (the real process
 * tree, supervised) is connected to the simulator; its peak resident memory
 * (VmHWM, summed over the tree) is read before and after one frame of
 * DEFAULT_MAX_FRAME_BYTES arrives and is answered. The figure is the growth
 * as a ratio of the frame's size; the goal is at most 3. Linux only (/proc).
 */
import { PlatformSimulator } from "../tests/support/platform.ts";
import { startRunner } from "../tests/support/runner.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../lib/wire/limits.ts";
import { envelope } from "../lib/wire/protocol.ts";

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      parent.set(Number(e.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

function peakKiB(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      sum += Number(m?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return sum;
}

/** Builds a task.request frame of exactly `size` characters whose `field` is the filler. */
function maximal(operation: string, field: string, extra: Record<string, unknown>, size: number) {
  const shell = (n: number) =>
    JSON.stringify(envelope("task.request", {
      task_id: "huge",
      operation,
      args: { ...extra, [field]: "A".repeat(n) },
    }));
  const overhead = shell(0).length;
  return shell(size - overhead);
}

const cases: [string, string, string, Record<string, unknown>][] = [
  ["bash command", "bash", "command", {}],
  ["sync_skill zip_data", "sync_skill", "zip_data", { skill_dir: "skills/x", checksum: "" }],
  ["write content", "write", "content", { path: "big.bin" }],
];

const size = DEFAULT_MAX_FRAME_BYTES - 1024;
console.log(`one frame of ${(size / 1024 / 1024).toFixed(1)} MiB (the default limit)`);
console.log("message              | peak RSS before | after  | growth / frame size");
for (const [name, op, field, extra] of cases) {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 30_000);
    await sim.request("list", { path: "." }); // warm: the task path has run once
    const pids = descendants(runner.child.pid);
    const before = peakKiB(pids);
    let text: string | undefined = maximal(op, field, extra, size);
    const from = sim.received.length;
    sim.sendRaw(text);
    text = undefined;
    const r = await sim.result("huge", 300_000, from);
    const after = peakKiB(pids);
    const ratio = ((after - before) * 1024) / size;
    console.log(
      `${name.padEnd(20)} | ${(before / 1024).toFixed(0).padStart(11)} MiB | ${
        (after / 1024).toFixed(0).padStart(4)
      } MiB | ${ratio.toFixed(2)}x  (${r.success ? "ok" : r.error?.slice(0, 60)})`,
    );
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(runner.workspace, { recursive: true });
  }
}
