import { expect } from "../../tests/deps.ts";
import { logger } from "../log.ts";
import type { RunnerConfig } from "../config.ts";
import type { KernelRules } from "./landlock_rules.ts";
import { KernelLayerOnReload } from "./kernel_reload.ts";

const rules = (exec: string[], write = ["/ws"]): KernelRules => ({
  exec,
  execConfined: true,
  write,
  notes: [],
});
// the "config" is the rules themselves here: derive just unwraps them
const asConfig = (r: KernelRules) => r as unknown as RunnerConfig;

Deno.test("kernel layer on reload: stacks only what narrows, reports what no layer allows", () => {
  const applied: string[][] = [];
  const layer = new KernelLayerOnReload(
    asConfig(rules(["/bin/a", "/bin/b"])),
    (c) => c as unknown as KernelRules,
    logger("test"),
    (r) => applied.push(r.exec),
  );
  // the same rules: nothing to stack, nothing missing
  expect(layer.reload(asConfig(rules(["/bin/a", "/bin/b"])))).toEqual([]);
  expect(applied).toEqual([]);
  // less: stacked
  expect(layer.reload(asConfig(rules(["/bin/a"])))).toEqual([]);
  expect(applied).toEqual([["/bin/a"]]);
  // b again: the narrower layer refuses it; nothing new to stack (it holds nothing back)
  expect(layer.reload(asConfig(rules(["/bin/a", "/bin/b"])))).toEqual([
    "the kernel layer (fixed at start) does not let /bin/b execute",
  ]);
  expect(applied).toHaveLength(1);
  expect(layer.depth).toBe(2);
});

Deno.test("kernel layer on reload: a refused restriction is logged, not thrown", () => {
  const layer = new KernelLayerOnReload(
    asConfig(rules(["/bin/a", "/bin/b"])),
    (c) => c as unknown as KernelRules,
    logger("test"),
    () => {
      throw new Error("E2BIG");
    },
  );
  expect(layer.reload(asConfig(rules(["/bin/a"])))).toEqual([]);
  expect(layer.depth).toBe(1);
});
