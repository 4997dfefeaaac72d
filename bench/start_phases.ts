/**
 * Where the start-up time goes: starts the runner under its supervisor (the
 * real deno binary, `--log-level debug`) against the bench platform, and
 * times each log line it waits for as it reaches our end of the stderr pipe,
 * from the spawn. p50 of each phase over `--starts` runs, alternating with
 * the other main modules given, so that a before/after comes from one run
 * (docs/benchmarks.md, "Start-up: where the time goes").
 *
 * With each start's time it reads the CPU time (user + system, from
 * /proc/<pid>/stat at the first heartbeat) the supervisor and the runner
 * child have used: on a loaded machine the CPU says more than the clock.
 *
 * `--cold`: every start gets a DENO_DIR of its own without V8's code cache
 * (the npm packages and transpiled modules hard-linked from this one): the
 * first start after an install or upgrade. Without it, the caches are those
 * the earlier starts left.
 *
 * Usage: deno run -A bench/start_phases.ts [--starts N] [--cold] [MAIN.ts ...]
 *        (default: this main.ts)
 */
import { join } from "node:path";
import { BenchPlatform, runnerArgs } from "./bench_platform.ts";
import { median } from "./timing.ts";
import { denoDir } from "../lib/sandbox/code_cache.ts";

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
  let cold = false;
  const mains: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--starts") starts = Number(args[++i]);
    else if (args[i] === "--cold") cold = true;
    else mains.push(args[i]);
  }
  return { starts, cold, mains: mains.length > 0 ? mains : [join(HERE, "..", "main.ts")] };
}

/**
 * CPU ms (user + system) a live process has used, from /proc/<pid>/stat,
 * with its children's that it has reaped (`withReaped`); 0 once it is gone.
 */
function cpuMs(pid: number, withReaped = false): number {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return 0;
  }
  // fields after the command's closing parenthesis: utime, stime, cutime, cstime are 14-17
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, withReaped ? 15 : 13);
  return f.reduce((sum, v) => sum + Number(v), 0) * 10; // USER_HZ = 100 on Linux
}

/** A DENO_DIR without V8's code cache: npm packages and transpiled modules hard-linked. */
async function coldDenoDir(dir: string): Promise<string> {
  const from = denoDir();
  if (!from) throw new Error("--cold: cannot tell where DENO_DIR is");
  const to = await Deno.makeTempDir({ dir, prefix: "deno-dir-" });
  for (const sub of ["npm", "gen", "remote"]) {
    try {
      await Deno.stat(join(from, sub));
    } catch {
      continue;
    }
    const cp = await new Deno.Command("cp", { args: ["-al", join(from, sub), to] }).output();
    if (!cp.success) throw new Error(`cp -al ${join(from, sub)}: ${cp.code}`);
  }
  return to;
}

/**
 * ms from the spawn to the end of each phase, for one start; then the CPU
 * ms of the supervisor and of the runner child at the first heartbeat.
 */
async function startOnce(
  platform: BenchPlatform,
  main: string,
  dir: string,
  cold: boolean,
): Promise<number[]> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (cold) env.DENO_DIR = await coldDenoDir(dir);
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
    env,
  }).spawn();
  const ends: (number | undefined)[] = PHASES.map(() => undefined);
  let runnerPid: number | undefined;
  let warmerPid: number | undefined;
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const now = performance.now() - t0;
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        const pid = (re: RegExp) => Number(re.exec(line)?.[1]) || undefined;
        runnerPid ??= pid(/started the sandboxed runner, pid (\d+)/);
        warmerPid ??= pid(/warming the code cache .*, pid (\d+)/);
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
  // the warmer, when one ran: its CPU while it runs, else in its reaper's (the supervisor's)
  const cpu = [
    cpuMs(child.pid, true) + (warmerPid ? cpuMs(warmerPid) : 0),
    runnerPid ? cpuMs(runnerPid) : NaN,
  ];
  child.kill("SIGTERM");
  await child.status;
  await reading;
  if (env.DENO_DIR) await Deno.remove(env.DENO_DIR, { recursive: true });
  if (ends.includes(undefined)) throw new Error(`${main}: a phase's log line never came`);
  return [...ends as number[], ...cpu];
}

const { starts, cold, mains } = parseArgs(Deno.args);
const dir = await Deno.makeTempDir({ prefix: "fdr-start-" });
await Deno.writeTextFile(
  join(dir, "config.yaml"),
  'permission:\n  bash:\n    "*": deny\n    "true": allow\n',
);
const platform = await BenchPlatform.start();
try {
  const runs = new Map(mains.map((m) => [m, [] as number[][]]));
  for (const m of mains) await startOnce(platform, m, dir, cold); // fills Deno's caches
  for (let i = 0; i < starts; i++) {
    for (const m of mains) runs.get(m)!.push(await startOnce(platform, m, dir, cold));
  }
  console.log(
    `bench/start_phases.ts --starts ${starts}${
      cold ? " --cold" : ""
    }: deno ${Deno.version.deno}, ` +
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
    const cpu = (k: number) => median(r.map((e) => e[PHASES.length + k])).toFixed(0);
    console.log(
      `  CPU ms at the first heartbeat: supervisor (and code cache warmer) ${cpu(0)}, ` +
        `runner child ${cpu(1)}`,
    );
  }
} finally {
  await platform.close();
  await Deno.remove(dir, { recursive: true });
}
