import { expect } from "../../tests/deps.ts";
import { markedProcesses, TASK_MARKER_ENV, TaskMarker } from "./task_marker.ts";
import { LIST_MAX, PidWindow } from "./pid_window.ts";

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

Deno.test({
  name:
    "task marker: with a window, a short arc is read pid by pid and still finds every marked process",
  ignore: !linux,
  async fn() {
    const marker = new TaskMarker();
    const before = sleeper(marker.mark({})); // started before the window: not the task's
    await new Promise((r) => setTimeout(r, 100));
    marker.beforeFirstStart();
    const twin = PidWindow.open(); // opened with the marker's: what the sweep will read
    // a grandchild that left the group, as `setsid -f` leaves it, and a marked direct child
    const grand = new Deno.Command("bash", {
      args: ["-c", "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!"],
      env: marker.mark({ PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }),
      stdin: "null",
      stderr: "null",
    });
    const grandPid = Number(new TextDecoder().decode((await grand.output()).stdout).trim());
    const direct = sleeper(marker.mark({}));
    try {
      await new Promise((r) => setTimeout(r, 100));
      // short (a handful of pids since the window opened), so read pid by pid
      expect(twin!.current()!.pids!.length).toBeLessThan(LIST_MAX);
      expect(await marker.sweep()).toBe(2);
      await direct.status;
      expect(alive(grandPid)).toBe(false);
      expect(alive(direct.pid)).toBe(false);
      expect(alive(before.pid)).toBe(true);
    } finally {
      for (const c of [before, direct]) {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
        await c.status;
      }
      try {
        Deno.kill(grandPid, "SIGKILL");
      } catch { /* gone */ }
    }
  },
});
