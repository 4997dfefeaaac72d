/**
 * What one pipe for `2>&1` costs against the two pipes it replaces: the
 * same program (argv0 as typed, new process group) started both ways,
 * alternating, in this run, and its output read through the interpreter's
 * pump (lib/bash/sinks.ts) into a sink that drops it.
 *
 * - start: `true`, spawn to exit, p50 over --runs;
 * - flood: `cat` of a --mb MB file (stdout only), MB/s p50 over --floods.
 *
 *   deno run -A bench/merged_pipe.ts [--runs N] [--floods N] [--mb N]
 */
import { ProcessTree } from "../lib/bash/proc.ts";
import { Discard, pump } from "../lib/bash/sinks.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const RUNS = arg("--runs", 200);
const FLOODS = arg("--floods", 10);
const MB = arg("--mb", 64);
const bin = (name: string) =>
  [`/usr/bin/${name}`, `/bin/${name}`].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  })!;

async function once(program: string, args: string[], merge: boolean): Promise<number> {
  const tree = new ProcessTree();
  const sink = new Discard();
  const t = performance.now();
  const s = tree.spawn(
    program,
    {
      args,
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    },
    program.slice(program.lastIndexOf("/") + 1),
    merge,
  );
  if (merge && !s.merged) throw new Error("no merged pipe here (no libc or FFI grant)");
  const pumps = [pump(s.child.stdout, sink.writer())];
  if (!s.merged) pumps.push(pump(s.child.stderr, sink.writer()));
  await Promise.all([...pumps, s.child.status]);
  tree.reap(s.pid);
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const two: number[] = [];
const one: number[] = [];
for (let k = 0; k < RUNS; k++) {
  two.push(await once(bin("true"), [], false));
  one.push(await once(bin("true"), [], true));
}
const t2 = median(two);
const t1 = median(one);
console.log(
  `start (true) spawn+exit p50: two pipes ${t2.toFixed(2)} ms, one pipe ${t1.toFixed(2)} ms, ` +
    `ratio ${(t1 / t2).toFixed(2)} (${RUNS} runs each, alternating)`,
);

const file = await Deno.makeTempFile({ prefix: "merged_pipe_bench_" });
try {
  const block = new Uint8Array(1024 * 1024).fill(0x61);
  const f = await Deno.open(file, { write: true });
  for (let m = 0; m < MB; m++) await f.write(block);
  f.close();
  const twoR: number[] = [];
  const oneR: number[] = [];
  for (let k = 0; k < FLOODS; k++) {
    twoR.push(MB / ((await once(bin("cat"), [file], false)) / 1000));
    oneR.push(MB / ((await once(bin("cat"), [file], true)) / 1000));
  }
  const r2 = median(twoR);
  const r1 = median(oneR);
  console.log(
    `flood (cat ${MB} MB) p50: two pipes ${r2.toFixed(0)} MB/s, one pipe ${r1.toFixed(0)} MB/s, ` +
      `ratio ${(r1 / r2).toFixed(2)} (${FLOODS} runs each, alternating)`,
  );
} finally {
  await Deno.remove(file);
}
