import { expect } from "../../tests/deps.ts";
import { withDeadline } from "./deadline.ts";

const never = new Promise<never>(() => {});

Deno.test("withDeadline: the work wins, the deadline wins, a throwing fallback rejects", async () => {
  expect(await withDeadline(Promise.resolve(1), 1000, () => 2)).toBe(1);
  expect(await withDeadline(never, 5, () => "late")).toBe("late");
  await expect(withDeadline(never, 5, () => {
    throw new Error("timed out");
  })).rejects.toThrow("timed out");
  await expect(withDeadline(Promise.reject(new Error("boom")), 1000, () => 0)).rejects.toThrow(
    "boom",
  );
  // the sanitizers of Deno.test fail this test if any timer is left behind
});

Deno.test("withDeadline: an abort ends the wait with the signal's reason", async () => {
  const ac = new AbortController();
  const p = withDeadline(never, 10_000, () => 0, ac.signal);
  ac.abort(new Error("cancelled"));
  await expect(p).rejects.toThrow("cancelled");
  await expect(withDeadline(never, 10_000, () => 0, ac.signal)).rejects.toThrow("cancelled");
});
