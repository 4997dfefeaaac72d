/**
 * What argv[0] as typed costs: restricted mode starts programs through
 * node:child_process (the only spawn that takes argv0) instead of
 * Deno.Command. Both start `true` the same way (new process group, piped
 * output, awaited to exit), alternating, in this run; the figure is the
 * ratio of their medians.
 *
 *   deno run -A bench/spawn_argv0.ts [--runs N]
 */
import { ProcessTree } from "../lib/bash/proc.ts";

const i = Deno.args.indexOf("--runs");
const RUNS = i >= 0 ? Number(Deno.args[i + 1]) : 200;
const TRUE = ["/usr/bin/true", "/bin/true"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
})!;

async function once(argv0: string | undefined): Promise<number> {
  const tree = new ProcessTree();
  const t = performance.now();
  const s = tree.spawn(TRUE, {
    args: [],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }, argv0);
  await Promise.all([
    new Response(s.child.stdout).arrayBuffer(),
    new Response(s.child.stderr).arrayBuffer(),
    s.child.status,
  ]);
  tree.reap(s.pid);
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const deno: number[] = [];
const named: number[] = [];
for (let k = 0; k < RUNS; k++) {
  deno.push(await once(undefined));
  named.push(await once("true"));
}
const d = median(deno);
const n = median(named);
console.log(
  `spawn+exit p50: Deno.Command ${d.toFixed(2)} ms, node:child_process with argv0 ` +
    `${n.toFixed(2)} ms, ratio ${(n / d).toFixed(2)} (${RUNS} runs each, alternating)`,
);
