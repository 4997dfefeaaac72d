import { expect } from "../../tests/deps.ts";
import { TIMEOUTS, timeoutSeconds } from "./timeout.ts";

Deno.test("timeout: one rule for every operation (default, cap, never an error)", () => {
  for (const rule of Object.values(TIMEOUTS)) {
    for (const absent of [undefined, null, 0, -1, NaN]) {
      expect(timeoutSeconds(rule, absent)).toBe(rule.defaultS);
    }
    expect(timeoutSeconds(rule, 1.5)).toBe(1.5);
    expect(timeoutSeconds(rule, rule.maxS)).toBe(rule.maxS);
    expect(timeoutSeconds(rule, rule.maxS + 1)).toBe(rule.maxS);
    expect(timeoutSeconds(rule, Infinity)).toBe(rule.maxS);
    expect(rule.defaultS).toBeLessThanOrEqual(rule.maxS);
  }
});
