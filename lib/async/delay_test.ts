import { expect } from "../../tests/deps.ts";
import { delay } from "./delay.ts";

Deno.test("delay: resolves after its time", async () => {
  const t0 = performance.now();
  await delay(30);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
});

Deno.test("delay: an abort ends the wait at once and leaves no timer (the sanitizer would fail)", async () => {
  const stop = new AbortController();
  const t0 = performance.now();
  const waiting = delay(60_000, stop.signal);
  stop.abort();
  await waiting;
  expect(performance.now() - t0).toBeLessThan(30_000);
});

Deno.test("delay: an already aborted signal does not wait", async () => {
  const stop = new AbortController();
  stop.abort();
  let done = false;
  const waiting = delay(60_000, stop.signal).then(() => done = true);
  await Promise.resolve();
  await Promise.resolve();
  expect(done).toBe(true);
  await waiting;
});
