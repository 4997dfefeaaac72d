/**
 * The three ways ProcessTree can start a program, spawn to exit of `true`
 * (a new session, piped output, awaited), alternating in this run: posix_spawn
 * with argv[0] as typed (lib/proc/spawn_native.ts, the default), and the
 * fallbacks where glibc is too old: node:child_process with argv[0], and
 * Deno.Command (argv[0] the path). The figures are the medians.
 *
 *   deno run -A bench/spawn_paths.ts [--runs N]
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

async function once(native: boolean, argv0: string | undefined): Promise<number> {
  const tree = new ProcessTree({ native });
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
const ways = {
  "posix_spawn, argv0": () => once(true, "true"),
  "node:child_process, argv0": () => once(false, "true"),
  "Deno.Command": () => once(false, undefined),
};
const samples = new Map<string, number[]>(Object.keys(ways).map((k) => [k, []]));
for (let k = 0; k < RUNS; k++) {
  for (const [name, run] of Object.entries(ways)) samples.get(name)!.push(await run());
}
const base = median(samples.get("posix_spawn, argv0")!);
console.log(`spawn to exit of true, p50 of ${RUNS} runs each, alternating:`);
for (const [name, xs] of samples) {
  console.log(
    `  ${name.padEnd(28)}${median(xs).toFixed(2)} ms  ${(median(xs) / base).toFixed(2)}x`,
  );
}
