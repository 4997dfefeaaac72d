import { expect } from "../../tests/deps.ts";
import { markedProcesses, TASK_MARKER_ENV, TaskMarker } from "./task_marker.ts";

const linux = Deno.build.os === "linux";

/** A `sleep` in a session of its own (the way an escape leaves the task's group), marked or not. */
function sleeper(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: ["sleep", "30"],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name: "task marker: the scan finds marked processes in every batch, and only them",
  ignore: !linux,
  async fn() {
    const marker = new TaskMarker();
    const marked = [sleeper(marker.mark({})), sleeper(marker.mark({}))];
    const other = sleeper({ [TASK_MARKER_ENV]: `${marker.value}-not` });
    try {
      await new Promise((r) => setTimeout(r, 100)); // setsid has exec'd sleep
      const needle = `${TASK_MARKER_ENV}=${marker.value}`;
      const want = marked.map((c) => c.pid).sort();
      // batches of 1 and 3: a pid past the first batch is found too
      for (const batch of [1, 3, 128]) {
        expect((await markedProcesses(needle, batch)).sort()).toEqual(want);
      }
      expect(await marker.sweep()).toBe(2);
      for (const c of marked) await c.status;
      expect(marked.some((c) => alive(c.pid))).toBe(false);
      expect(alive(other.pid)).toBe(true);
    } finally {
      for (const c of [...marked, other]) {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
        await c.status;
      }
    }
  },
});
