/**
 * `deno task bench`: every figure of issue 13 ("lean and fast") next to the
 * baseline it is judged against, both measured in this run on this machine,
 * so the ratios hold anywhere. Processes are started with the real deno
 * binary (Deno.execPath()), never a wrapper, so RSS and start time are the
 * runner's own.
 *
 *   idle RSS          the sandboxed runner (largest process), and supervisor + runner,
 *                     vs an idle bare `deno run`
 *   start             spawn to first heartbeat under the supervisor, vs the floor program
 *   read 1 KB p50     vs a minimal Deno + npm:ws program that reads and replies
 *                     (bench/floor_client.ts)
 *   read tasks/s      64 in flight, every result checked (none lost)
 *   bash true p50     vs the floor program spawning `true` and replying; `true` is the
 *                     interpreter's builtin, so also `bash /usr/bin/true` (that program)
 *   floods            10 concurrent large outputs: RSS growth over idle, result checked
 *   lazy loading      webfetch and MCP: the first call against a second one
 *
 * Usage: deno task bench [--quick] [--only idle,start,read,tput,bash,lazy,flood]
 *                        [--runs N] [--reads N] [--flood-mb N] [--floods N] [--json]
 * The transport benchmark alone: deno task bench:transport; per-operation: bench:tasks.
 */
import { join } from "node:path";
import { BenchPlatform, type BenchResult, runnerArgs } from "./bench_platform.ts";
import { stdioArgv } from "../tests/fixtures/mcp_context.ts";
import { median, percentile, timeEach } from "./timing.ts";

const HERE = new URL(".", import.meta.url).pathname;
const MAIN = join(HERE, "..", "main.ts");
const DENO = Deno.execPath();
/** extra deno flags for the runner (experiments): BENCH_RUNNER_FLAGS="--v8-flags=..." */
const RUNNER_FLAGS = (Deno.env.get("BENCH_RUNNER_FLAGS") ?? "").split(" ").filter(Boolean);
const SECTIONS = ["idle", "start", "read", "tput", "bash", "lazy", "flood"] as const;
type Section = typeof SECTIONS[number];

function parseArgs(args: string[]) {
  const quick = args.includes("--quick");
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const only = args.indexOf("--only");
  return {
    quick,
    json: args.includes("--json"),
    only: new Set<Section>(
      only >= 0 ? args[only + 1].split(",") as Section[] : [...SECTIONS],
    ),
    runs: opt("runs", quick ? 200 : 1000),
    starts: opt("starts", quick ? 3 : 7),
    reads: opt("reads", quick ? 5000 : 30000),
    bashRuns: opt("bash-runs", quick ? 60 : 300),
    floodMb: opt("flood-mb", quick ? 100 : 1024),
    floods: opt("floods", 10),
  };
}
const opts = parseArgs(Deno.args);

// ---- measuring helpers -------------------------------------------------------------------

const pct = percentile;
const p50 = median;

/** VmRSS of a process in MB (Linux /proc). */
function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** CPU time (user + system) a process has used so far, in µs (Linux /proc; clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** The direct children of `pid` (the supervisor's sandboxed runner). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      // the comm field may hold spaces: the ppid is the second field after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, p: Promise<T>, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- the subjects ------------------------------------------------------------------------

interface Subject {
  platform: BenchPlatform;
  child: Deno.ChildProcess;
  /** ms from spawn to the first heartbeat */
  startMs: number;
  stop(): Promise<void>;
}

async function spawnSubject(
  platform: BenchPlatform,
  args: string[],
  env: Record<string, string> = {},
): Promise<Subject> {
  platform.expectNewConnection();
  const t0 = performance.now();
  const child = new Deno.Command(DENO, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let stderr = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr = (stderr + decoder.decode(chunk)).slice(-8000);
  })();
  const exited = child.status.then((s) => {
    throw new Error(`${args.join(" ")} exited ${s.code} before its first heartbeat:\n${stderr}`);
  });
  const t1 = await waitFor(
    "first heartbeat",
    Promise.race([platform.firstHeartbeat.promise, exited]),
  );
  exited.catch(() => {});
  return {
    platform,
    child,
    startMs: t1 - t0,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await drained;
    },
  };
}

interface RunnerFixture {
  workspace: string;
  config: string;
  dir: string;
}

async function runnerFixture(): Promise<RunnerFixture> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-bench-" }));
  const workspace = join(dir, "ws");
  await Deno.mkdir(workspace);
  await Deno.writeFile(join(workspace, "1k.txt"), new Uint8Array(1024).fill(0x61));
  const mcp = stdioArgv("bench").join(" ").replace(/ bench$/, " *");
  const config = join(dir, "config.yaml");
  await Deno.writeTextFile(
    config,
    [
      "permission:",
      "  bash:",
      '    "*": deny',
      '    "true": allow',
      `    ${JSON.stringify(programOnPath("true"))}: allow`,
      '    "seq *": allow',
      `    ${JSON.stringify(mcp)}: allow`,
      "",
    ].join("\n"),
  );
  return { workspace, config, dir };
}

function startRunner(platform: BenchPlatform, f: RunnerFixture): Promise<Subject> {
  return spawnSubject(
    platform,
    runnerArgs(platform, {
      main: MAIN,
      workspace: f.workspace,
      config: f.config,
      logLevel: "warn",
      denoFlags: RUNNER_FLAGS,
    }),
  );
}

function startFloor(platform: BenchPlatform, f: RunnerFixture): Promise<Subject> {
  return spawnSubject(platform, [
    "run",
    "--allow-all",
    join(HERE, "floor_client.ts"),
    platform.url(),
    f.workspace,
  ]);
}

/** The first `name` on PATH that is a file, as Deno.Command would find it. */
function programOnPath(name: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not on PATH`);
}

/** The supervisor's sandboxed child: the process that serves tasks. */
async function runnerPid(s: Subject): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const kids = childrenOf(s.child.pid);
    if (kids.length > 0) return kids[0];
    await sleep(100);
  }
  throw new Error("the supervisor has no child");
}

// ---- the figures -------------------------------------------------------------------------

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** the goal as text, and whether this run met it */
  goal: string;
  met: boolean;
  note?: string;
}
const figures: Figure[] = [];

function figure(f: Figure): void {
  figures.push(f);
  const ratio = f.baseline ? ` = ${(f.value / f.baseline.value).toFixed(2)}x` : "";
  const base = f.baseline ? `  vs ${f.baseline.name} ${fmt(f.baseline.value)} ${f.unit}` : "";
  console.log(
    `${f.met ? "MET " : "MISS"} ${f.name}: ${
      fmt(f.value)
    } ${f.unit}${base}${ratio}  (goal ${f.goal})` +
      (f.note ? `\n     ${f.note}` : ""),
  );
}

const fmt = (v: number) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3);

function expectOk(r: BenchResult, what: string): Record<string, unknown> {
  if (!r.success) throw new Error(`${what} failed: ${r.error}`);
  return r.result ?? {};
}

const ONE_K = new Uint8Array(1024).fill(0x61).toBase64();

async function readOnce(p: BenchPlatform): Promise<void> {
  const r = expectOk(await p.request("read", { path: "1k.txt" }), "read");
  if (r.content !== ONE_K) throw new Error("read returned the wrong content");
}

async function throughput(p: BenchPlatform, total: number, inFlight = 64) {
  let sent = 0, ok = 0;
  const t = performance.now();
  const lane = async () => {
    while (sent < total) {
      sent++;
      const r = await p.request("read", { path: "1k.txt" });
      if (r.success && r.result?.content === ONE_K) ok++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { perSecond: total / ((performance.now() - t) / 1000), ok, total };
}

async function idleBareRss(): Promise<number> {
  const child = new Deno.Command(DENO, {
    args: ["run", join(HERE, "idle.ts")],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await sleep(1500);
    return rssMb(child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

// ---- the run -----------------------------------------------------------------------------

const fixture = await runnerFixture();
const platform = await BenchPlatform.start();
console.log(
  `deno task bench${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }: deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} cpus, ${Deno.build.os}/${Deno.build.arch}`,
);
try {
  // a first start fills Deno's module cache, so no figure pays for a compile
  await (await startRunner(platform, fixture)).stop();
  await (await startFloor(platform, fixture)).stop();

  if (opts.only.has("idle")) {
    const bare = await idleBareRss();
    const runner = await startRunner(platform, fixture);
    try {
      await sleep(2000); // past the first heartbeat's work
      const child = rssMb(await runnerPid(runner));
      const both = child + rssMb(runner.child.pid);
      const baseline = { name: "idle bare deno", value: bare };
      figure({
        name: "idle RSS, runner",
        value: child,
        unit: "MB",
        baseline,
        goal: "<= 1.3x",
        met: child <= 1.3 * bare,
      });
      figure({
        name: "idle RSS, supervisor + runner",
        value: both,
        unit: "MB",
        baseline,
        goal: "<= 2.4x",
        met: both <= 2.4 * bare,
      });
    } finally {
      await runner.stop();
    }
  }

  if (opts.only.has("start")) {
    const runs: number[] = [], floors: number[] = [];
    for (let i = 0; i < opts.starts; i++) {
      const r = await startRunner(platform, fixture);
      runs.push(r.startMs);
      await r.stop();
      const f = await startFloor(platform, fixture);
      floors.push(f.startMs);
      await f.stop();
    }
    figure({
      name: `start to first heartbeat (supervised), p50 of ${opts.starts}`,
      value: p50(runs),
      unit: "ms",
      baseline: { name: "floor program", value: p50(floors) },
      goal: "<= 150 ms",
      met: p50(runs) <= 150,
    });
  }

  const needRunner = ["read", "tput", "bash", "lazy"].some((s) => opts.only.has(s as Section));
  if (needRunner) {
    const floorP = await BenchPlatform.start();
    const floor = await startFloor(floorP, fixture);
    const runner = await startRunner(platform, fixture);
    try {
      if (opts.only.has("lazy")) await lazyCosts(platform);
      if (opts.only.has("read")) {
        const f = await timeEach(opts.runs, () => readOnce(floorP));
        const r = await timeEach(opts.runs, () => readOnce(platform));
        figure({
          name: `read 1 KB round trip p50 (${opts.runs} runs)`,
          value: p50(r),
          unit: "ms",
          baseline: { name: "floor program", value: p50(f) },
          goal: "<= 1.5x",
          met: p50(r) <= 1.5 * p50(f),
          note: `p90 ${fmt(pct(r, 0.9))} ms vs floor ${fmt(pct(f, 0.9))} ms`,
        });
      }
      if (opts.only.has("tput")) {
        // CPU a task (the serving process's user + system time over the run) says more than
        // the rate when the machine is loaded: other processes' time does not count in it.
        await throughput(floorP, 1000);
        const floorCpu = cpuUs(floor.child.pid);
        const f = await throughput(floorP, opts.reads);
        const floorUs = (cpuUs(floor.child.pid) - floorCpu) / opts.reads;
        await throughput(platform, 1000);
        const pid = await runnerPid(runner);
        const runnerCpu = cpuUs(pid);
        const r = await throughput(platform, opts.reads);
        const runnerUs = (cpuUs(pid) - runnerCpu) / opts.reads;
        figure({
          name: `read tasks/s, 64 in flight (${r.ok}/${r.total} correct)`,
          value: r.perSecond,
          unit: "/s",
          baseline: { name: "floor program", value: f.perSecond },
          goal: ">= 15000/s, none lost",
          met: r.perSecond >= 15000 && r.ok === r.total,
          note: `CPU a task: runner ${fmt(runnerUs)} µs vs floor ${fmt(floorUs)} µs = ${
            (runnerUs / floorUs).toFixed(2)
          }x`,
        });
      }
      if (opts.only.has("bash")) {
        const bashTrue = async (p: BenchPlatform) => {
          const r = expectOk(await p.request("bash", { command: "true" }), "bash true");
          if (r.exit_code !== 0) throw new Error(`bash true: ${JSON.stringify(r)}`);
        };
        const f = await timeEach(opts.bashRuns, () => bashTrue(floorP));
        const r = await timeEach(opts.bashRuns, () => bashTrue(platform));
        // both bash figures against the same baseline, the floor's spawn + echo
        const vsSpawn = (what: string, samples: number[], note: string) =>
          figure({
            name: `${what} round trip p50 (${opts.bashRuns} runs)`,
            value: p50(samples),
            unit: "ms",
            baseline: { name: "bare spawn + echo", value: p50(f) },
            goal: "<= 1.3x",
            met: p50(samples) <= 1.3 * p50(f),
            note,
          });
        vsSpawn(
          "bash true",
          r,
          "`true` is a builtin of the runner's interpreter: nothing is spawned",
        );
        // The same with a program started (the spawn, the reap and the marker sweep): the
        // floor's own program, `true` found on PATH, named by its path so the interpreter
        // starts it instead of running its builtin.
        const program = programOnPath("true");
        const spawned = async () => {
          const r = expectOk(await platform.request("bash", { command: program }), "bash");
          if (r.exit_code !== 0) throw new Error(`bash ${program}: ${JSON.stringify(r)}`);
        };
        await spawned();
        const s = await timeEach(opts.bashRuns, spawned);
        vsSpawn(`bash ${program}`, s, "a program is spawned: the `true` the floor spawns");
      }
    } finally {
      await runner.stop();
      await floor.stop();
      await floorP.close();
    }
  }

  if (opts.only.has("flood")) await flood();
} finally {
  await platform.close();
  await Deno.remove(fixture.dir, { recursive: true });
}

/** The first webfetch and MCP call pay for loading their modules; the second does not. */
async function lazyCosts(p: BenchPlatform): Promise<void> {
  const web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response("<html><body><h1>Hi</h1><p>text</p></body></html>", {
        headers: { "content-type": "text/html" },
      }),
  );
  try {
    const fetchMs = async (path: string) => {
      const t = performance.now();
      expectOk(
        await p.request("webfetch", { url: `http://127.0.0.1:${web.addr.port}/${path}` }),
        "webfetch",
      );
      return performance.now() - t;
    };
    const first = await fetchMs("a");
    const second = await fetchMs("b");
    figure({
      name: "webfetch first fetch",
      value: first,
      unit: "ms",
      baseline: { name: "second fetch", value: second },
      goal: "say what lazy loading costs",
      met: true,
      note: `lazy loading adds about ${fmt(first - second)} ms to the first fetch only`,
    });
  } finally {
    await web.shutdown();
  }
  const [command, ...args] = stdioArgv("bench");
  const callMs = async (name: string) => {
    const t = performance.now();
    const r = expectOk(
      await p.request("mcp_call", {
        server: { name, transport: "stdio", command, args },
        tool_name: "echo",
        args: { text: "hi" },
      }),
      "mcp_call",
    );
    if (r.content !== "hi") throw new Error(`mcp_call: ${JSON.stringify(r)}`);
    return performance.now() - t;
  };
  const first = await callMs("first");
  const second = await callMs("second");
  figure({
    name: "MCP first call (a server's launch included)",
    value: first,
    unit: "ms",
    baseline: { name: "first call to a second server", value: second },
    goal: "say what lazy loading costs",
    met: true,
    note: `lazy loading adds about ${fmt(first - second)} ms to the runner's first MCP call only`,
  });
}

/** 10 concurrent large outputs: the runner's RSS growth over its idle, and the results right. */
async function flood(): Promise<void> {
  const p = await BenchPlatform.start();
  const f = await runnerFixture();
  const runner = await startRunner(p, f);
  try {
    await sleep(1500);
    const pid = await runnerPid(runner);
    const idle = rssMb(pid);
    let peak = idle;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssMb(pid));
        await sleep(50);
      }
    })();
    // `seq` prints about 8.9 bytes a number around 10^8: n numbers for the size asked
    const n = Math.round(opts.floodMb * 1024 * 1024 / 8.9);
    const t = performance.now();
    const results = await Promise.all(
      Array.from(
        { length: opts.floods },
        () => p.request("bash", { command: `seq 1 ${n}`, timeout: 600 }),
      ),
    );
    const secs = (performance.now() - t) / 1000;
    sampling = false;
    await sampler;
    const problems: string[] = [];
    for (const r of results) {
      const res = r.result as
        | { stdout?: string; truncated?: boolean; file_path?: string; total_size?: number }
        | undefined;
      if (!r.success || !res?.truncated || !res.file_path) {
        problems.push(`not truncated with a saved file: ${JSON.stringify(r).slice(0, 300)}`);
        continue;
      }
      if (!res.stdout?.includes("\n1\n2\n3\n")) {
        problems.push("the preview does not start at the first lines");
      }
      const saved = await Deno.open(join(f.workspace, res.file_path));
      const head = new Uint8Array(20);
      await saved.read(head);
      const size = (await saved.stat()).size;
      saved.close();
      if (!new TextDecoder().decode(head).startsWith("1\n2\n3\n")) {
        problems.push("saved file starts wrong");
      }
      // the capture keeps 10 MiB a stream (lib/bash/sinks.ts); all of it is saved
      if (size !== res.total_size || size < 10 * 1024 * 1024) {
        problems.push(`saved file holds ${size} bytes of total_size ${res.total_size}`);
      }
    }
    figure({
      name: `${opts.floods} concurrent ${opts.floodMb} MB outputs, runner RSS growth over idle`,
      value: peak - idle,
      unit: "MB",
      goal: "<= +100 MB, results correct",
      met: peak - idle <= 100 && problems.length === 0,
      note: `idle ${fmt(idle)} MB, peak ${fmt(peak)} MB, ${secs.toFixed(1)} s; ` +
        (problems.length
          ? `WRONG: ${[...new Set(problems)].join("; ")}`
          : "every result truncated, whole text saved"),
    });
  } finally {
    await runner.stop();
    await p.close();
    await Deno.remove(f.dir, { recursive: true });
  }
}

if (opts.json) console.log(JSON.stringify(figures));
