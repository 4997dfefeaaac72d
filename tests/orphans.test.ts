/**
 * Orphans (issue 12): every technique of tests/redteam/orphan_techniques.json
 * through the real runner under its sandbox, stopped by cancel, by timeout,
 * and left to end normally: 0 survivors. A control runs the same commands
 * the way the runner stopped them before the marker (kill the process group)
 * and finds the techniques marked `escapes_group` still running, so the
 * attack is real here.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { TaskMarker } from "../lib/proc/task_marker.ts";

interface Technique {
  name: string;
  command: string;
  escapes_group?: boolean;
}
const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/orphan_techniques.json", import.meta.url)),
) as { techniques: Technique[] };

const BATCH = 8;
const TRUSTED = 'permission:\n  bash:\n    "*": allow\n';
let nextId = 7_000_000 + Math.floor(Math.random() * 1_000_000);

/** The pids whose argv holds `id` as one argument. */
function running(id: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (argv.includes(id) && state !== "Z") out.push(Number(e.name));
    } catch { /* exited */ }
  }
  return out;
}

/** Polls until `id` has a process (the technique started), or gives up after `ms`. */
async function started(id: string, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (running(id).length > 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function survivorsAfter(ids: Map<string, string>, graceMs = 1500): Promise<string[]> {
  await new Promise((r) => setTimeout(r, graceMs)); // a respawn would show by now
  return [...ids].filter(([id]) => running(id).length > 0).map(([id, name]) => `${name} (${id})`);
}

for (const how of ["cancel", "timeout", "normal end"] as const) {
  Deno.test({
    name: `orphans (${how}): no technique leaves a process running`,
    ignore: Deno.build.os !== "linux",
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    expect(corpus.techniques.length).toBeGreaterThanOrEqual(15);
    const sim = await PlatformSimulator.start();
    const runner = await startRunner({ url: sim.url, token: sim.token, config: TRUSTED });
    const ids = new Map<string, string>();
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 30_000);
      // in batches below the runner's 16 concurrent tasks: a queued task would not start
      // before the running ones are cancelled
      for (let at = 0; at < corpus.techniques.length; at += BATCH) {
        await runBatch(corpus.techniques.slice(at, at + BATCH));
      }
      expect(await survivorsAfter(ids)).toEqual([]);
    } finally {
      await runner.stop();
      await sim.close();
      for (const id of ids.keys()) for (const pid of running(id)) Deno.kill(pid, "SIGKILL");
    }

    async function runBatch(batch: Technique[]) {
      const tasks = batch.map((t) => {
        const id = String(nextId++);
        ids.set(id, t.name);
        let command = t.command.replaceAll("{id}", id);
        if (how === "normal end") command = command.replace(/sleep 60$/, "sleep 2");
        const from = sim.received.length;
        const taskId = sim.sendTask("bash", { command, timeout: how === "timeout" ? 4 : 120 });
        return { t, id, taskId, from };
      });
      // every technique got its sleeper going before the task is stopped
      for (const k of tasks) {
        expect({ technique: k.t.name, started: await started(k.id) }).toEqual({
          technique: k.t.name,
          started: true,
        });
      }
      if (how === "cancel") { for (const k of tasks) sim.cancel(k.taskId); }
      for (const k of tasks) {
        const r = await sim.result(k.taskId, 90_000, k.from);
        if (how === "cancel") expect(r.error ?? "").toContain("cancelled");
        if (how === "timeout") {
          expect((r.result as { stderr: string }).stderr).toContain("command timed out");
        }
      }
    }
  });
}

Deno.test({
  name: "orphans control: killing the process group alone leaves the detaching techniques running",
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const marker = new TaskMarker(); // only to clean up after the control
  const ids = new Map<string, string>();
  try {
    const children = corpus.techniques.filter((t) => t.escapes_group).map((t) => {
      const id = String(nextId++);
      ids.set(id, t.name);
      const child = new Deno.Command("bash", {
        args: ["-c", t.command.replaceAll("{id}", id)],
        env: marker.mark({}),
        detached: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      return { id, child };
    });
    for (const c of children) expect(await started(c.id)).toBe(true);
    for (const c of children) {
      try {
        Deno.kill(-c.child.pid, "SIGKILL");
      } catch { /* the group is gone */ }
      await c.child.status;
    }
    const survivors = await survivorsAfter(ids);
    // every technique marked so escapes the group kill (some may lose a race on a slow machine)
    expect(survivors.length).toBeGreaterThanOrEqual(Math.ceil(children.length / 2));
  } finally {
    await marker.sweep();
  }
  expect(await survivorsAfter(ids, 200)).toEqual([]); // and the marker sweep finds them all
});
