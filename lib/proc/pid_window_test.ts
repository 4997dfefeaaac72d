import { expect } from "../../tests/deps.ts";
import { LIST_MAX, pidArc, PidWindow } from "./pid_window.ts";

const linux = Deno.build.os === "linux";

Deno.test("pid arc: the pids handed out since, with and without a wrap", () => {
  const arc = pidArc(1000, 1010, 32768, 12)!;
  expect([999, 1000, 1005, 1010, 1011, 300, 32767].map(arc.has)).toEqual([
    false,
    true,
    true,
    true,
    false,
    false,
    false,
  ]);
  // wrapped past pid_max: from the window's start to the top, and from the bottom to the latest
  const wrapped = pidArc(32000, 400, 32768, 1200)!;
  expect([31999, 32000, 32767, 300, 400, 401, 1000].map(wrapped.has)).toEqual([
    false,
    true,
    true,
    true,
    true,
    false,
    false,
  ]);
  // the window opened at the very top: the next pid is the first after the reserved ones
  expect(pidArc(32768, 305, 32768, 6)!.has(300)).toBe(true);
  // no fork since: no pid (the latest may still be the one before the window)
  expect(pidArc(1000, 999, 32768, 0)!.has(999)).toBe(false);
  // enough forks to come all the way round: every pid is possible
  expect(pidArc(1000, 1010, 32768, 32768 - 301)).toBeUndefined();
  expect(pidArc(1000, 1010, 32768, 32768 - 302)).toBeDefined();
});

Deno.test("pid arc: a short arc lists its pids in the order handed out, a long one does not", () => {
  expect(pidArc(1000, 1003, 32768, 4)!.pids).toEqual([1000, 1001, 1002, 1003]);
  // wrapped: the top of the range, then up from the reserved pids
  expect(pidArc(32766, 301, 32768, 4)!.pids).toEqual([32766, 32767, 300, 301]);
  expect(pidArc(32768, 301, 32768, 2)!.pids).toEqual([300, 301]);
  expect(pidArc(1000, 999, 32768, 0)!.pids).toEqual([]);
  // the listed pids are exactly the ones `has` admits
  const arc = pidArc(32700, 400, 32768, 200)!;
  expect(arc.pids!.length).toBe(68 + 101);
  expect(arc.pids!.every((p) => arc.has(p))).toBe(true);
  expect([32699, 299, 401].some((p) => arc.has(p))).toBe(false);
  expect(pidArc(1000, 1000 + LIST_MAX - 1, 32768, LIST_MAX)!.pids?.length).toBe(LIST_MAX);
  expect(pidArc(1000, 1000 + LIST_MAX, 32768, LIST_MAX + 1)!.pids).toBeUndefined();
});

Deno.test({
  name: "pid window: a process started after it opened is inside, older ones are not",
  ignore: !linux,
  async fn() {
    const window = PidWindow.open();
    expect(window).toBeDefined();
    const child = new Deno.Command("sleep", { args: ["5"], stdin: "null" }).spawn();
    try {
      const inside = window!.current()!;
      expect(inside.has(child.pid)).toBe(true);
      expect(inside.has(Deno.pid)).toBe(false);
      expect(inside.has(1)).toBe(false);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});
