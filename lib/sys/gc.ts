/**
 * V8's full garbage collector, for the two places that know better than
 * V8's heuristics when a collection pays: before a huge frame becomes text
 * (lib/wire/large_frames.ts) and once the supervisor's start-up is over
 * (lib/sandbox/supervisor.ts; docs/benchmarks.md, "Where idle memory goes").
 */
import process from "node:process";

let gc: (() => void) | undefined | null = null;

/**
 * V8's collector, exposed the way Node programs do it (no permission is
 * involved); undefined when the engine refuses, and then the callers keep
 * more memory but work the same.
 */
export function collector(): (() => void) | undefined {
  if (gc === null) {
    try {
      // node:v8 and node:vm load here, at the first call, not at start
      // (~25 ms of the runner's start-up, docs/benchmarks.md).
      const v8 = process.getBuiltinModule("node:v8") as typeof import("node:v8");
      const vm = process.getBuiltinModule("node:vm") as typeof import("node:vm");
      v8.setFlagsFromString("--expose-gc");
      const fn = vm.runInNewContext("gc");
      gc = typeof fn === "function" ? fn as () => void : undefined;
    } catch {
      gc = undefined;
    }
  }
  return gc;
}
