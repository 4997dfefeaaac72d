/**
 * Where the start-up time goes: starts the runner under its supervisor (the
 * real deno binary, `--log-level debug`) against the bench platform, and
 * times each log line it waits for as it reaches our end of the stderr pipe,
 * from the spawn. p50 of each phase over `--starts` runs, alternating with
 * the other main modules given, so that a before/after comes from one run
 * (docs/benchmarks.md, "Start-up: where the time goes").
 *
 * Usage: deno run -A bench/start_phases.ts [--starts N] [MAIN.ts ...]   (default: this main.ts)
 */
import { join } from "node:path";
import { BenchPlatform, runnerArgs } from "./bench_platform.ts";
import { median } from "./timing.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** Each phase ends when the line matching it arrives (the last: when the platform has the heartbeat). */
const PHASES: [name: string, end: RegExp | "heartbeat"][] = [
  ["supervisor: deno, modules, config, checks, derivations, Landlock", /in a Deno sandbox/],
  ["supervisor: spawn the runner child", /started the sandboxed runner/],
  ["child: deno, modules, hand-off, checks, workspace, policy", /flashduty-runner .* starting/],
  ["child: transport load, dial, upgrade", /connected to /],
  ["child: welcome", /welcomed as /],
  ["child: first heartbeat at the platform", "heartbeat"],
];

function parseArgs(args: string[]) {
  let starts = 7;
  const mains: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--starts") starts = Number(args[++i]);
    else mains.push(args[i]);
  }
  return { starts, mains: mains.length > 0 ? mains : [join(HERE, "..", "main.ts")] };
}

/** ms from the spawn to the end of each phase, for one start. */
async function startOnce(platform: BenchPlatform, main: string, dir: string): Promise<number[]> {
  platform.expectNewConnection();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: runnerArgs(platform, {
      main,
      workspace: join(dir, "ws"),
      config: join(dir, "config.yaml"),
      logLevel: "debug",
    }),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const ends: (number | undefined)[] = PHASES.map(() => undefined);
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const now = performance.now() - t0;
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        PHASES.forEach(([, end], k) => {
          if (end !== "heartbeat" && ends[k] === undefined && end.test(line)) ends[k] = now;
        });
      }
    }
  })();
  const exited = child.status.then((s) => {
    throw new Error(`${main} exited ${s.code} before its first heartbeat`);
  });
  ends[PHASES.length - 1] = await Promise.race([platform.firstHeartbeat.promise, exited]) - t0;
  exited.catch(() => {});
  child.kill("SIGTERM");
  await child.status;
  await reading;
  if (ends.includes(undefined)) throw new Error(`${main}: a phase's log line never came`);
  return ends as number[];
}

const { starts, mains } = parseArgs(Deno.args);
const dir = await Deno.makeTempDir({ prefix: "fdr-start-" });
await Deno.writeTextFile(
  join(dir, "config.yaml"),
  'permission:\n  bash:\n    "*": deny\n    "true": allow\n',
);
const platform = await BenchPlatform.start();
try {
  const runs = new Map(mains.map((m) => [m, [] as number[][]]));
  for (const m of mains) await startOnce(platform, m, dir); // fills Deno's caches
  for (let i = 0; i < starts; i++) {
    for (const m of mains) runs.get(m)!.push(await startOnce(platform, m, dir));
  }
  console.log(
    `bench/start_phases.ts --starts ${starts}: deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cpus; p50 ms of each phase (end at, from the spawn)`,
  );
  for (const m of mains) {
    const r = runs.get(m)!;
    console.log(`\n${m}`);
    PHASES.forEach(([name], k) => {
      // each phase's own p50, and the p50 of when it ended
      const own = median(r.map((e) => e[k] - (k === 0 ? 0 : e[k - 1])));
      const at = median(r.map((e) => e[k]));
      console.log(`  ${name.padEnd(66)} ${own.toFixed(0).padStart(5)}  (at ${at.toFixed(0)})`);
    });
  }
} finally {
  await platform.close();
  await Deno.remove(dir, { recursive: true });
}
