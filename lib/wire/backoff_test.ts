import { expect } from "../../tests/deps.ts";
import { Backoff } from "./backoff.ts";

Deno.test("backoff: full jitter under a ceiling that doubles up to the maximum, reset starts over", () => {
  const b = new Backoff(100, 1000);
  const ceilings = [100, 200, 400, 800, 1000, 1000];
  for (const ceiling of ceilings) {
    const d = b.next();
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThan(ceiling);
  }
  b.reset();
  for (let i = 0; i < 50; i++) {
    const fresh = new Backoff(100, 1000);
    expect(fresh.next()).toBeLessThan(100);
  }
  // jitter: a fleet does not reconnect in step
  const spread = new Set(Array.from({ length: 50 }, () => new Backoff(1000, 60_000).next()));
  expect(spread.size).toBeGreaterThan(10);
});

Deno.test("backoff without jitter: exactly the doubling ceiling (the supervisor's restarts)", () => {
  const b = new Backoff(100, 1000, false);
  expect(Array.from({ length: 6 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  b.reset();
  expect(b.next()).toBe(100);
});
