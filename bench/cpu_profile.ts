/**
 * Where the runner's CPU goes for one kind of task: starts the runner
 * (`--no-sandbox`, so that `--inspect` reaches the process that serves the
 * tasks; the sandboxed child has no inspector) against the bench platform,
 * drives a loop of one task for `--seconds`, takes a V8 CPU profile over
 * the inspector protocol meanwhile, and prints the functions by self time
 * and, for lib/, by inclusive time (percent of the samples that were not
 * idle). Not a figure of issue 13 (`deno task bench` has those): a map of
 * where to look. `--out FILE` keeps the .cpuprofile (Chrome DevTools opens it).
 *
 * Usage: deno run -A bench/cpu_profile.ts [--task bash|read] [--command CMD]
 *          [--seconds N] [--lanes N] [--top N] [--out FILE]
 */
import { join } from "node:path";
import { BenchPlatform, runnerArgs } from "./bench_platform.ts";

const HERE = new URL(".", import.meta.url).pathname;

function parseArgs(args: string[]) {
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const task = opt("task", "bash");
  return {
    task,
    command: opt("command", "/usr/bin/true"),
    seconds: Number(opt("seconds", "8")),
    lanes: Number(opt("lanes", task === "read" ? "64" : "1")),
    top: Number(opt("top", "30")),
    out: opt("out", ""),
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/** One inspector session: Profiler.start, wait, Profiler.stop. */
async function profileFor(port: number, seconds: number): Promise<Profile> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    pending.get(m.id)?.(m.result);
    pending.delete(m.id);
  };
  const call = (method: string, params: unknown = {}) =>
    new Promise<unknown>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await call("Profiler.stop") as { profile: Profile };
  ws.close();
  return profile;
}

/** Self and inclusive sample counts per function (a function counted once per stack). */
export function summarize(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const name = (n: ProfileNode) => {
    const f = n.callFrame;
    const where = f.url.replace(/^.*\/(lib|bench|tests)\//, "$1/");
    return `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  for (const [id, c] of counts) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") {
      idle += c;
      continue;
    }
    self.set(name(node), (self.get(name(node)) ?? 0) + c);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = name(byId.get(at)!);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + c);
      seen.add(k);
    }
  }
  return { total: profile.samples.length, idle, self, inclusive };
}

if (import.meta.main) {
  const o = parseArgs(Deno.args);
  const platform = await BenchPlatform.start();
  const dir = await Deno.makeTempDir({ prefix: "fdr-profile-" });
  await Deno.mkdir(join(dir, "ws"));
  await Deno.writeFile(join(dir, "ws", "1k.txt"), new Uint8Array(1024).fill(0x61));
  await Deno.writeTextFile(
    join(dir, "config.yaml"),
    `permission:\n  bash:\n    "*": deny\n    ${JSON.stringify(o.command)}: allow\n`,
  );
  const port = 9229 + Math.floor(Math.random() * 500);
  const args = runnerArgs(platform, {
    main: join(HERE, "..", "main.ts"),
    workspace: join(dir, "ws"),
    config: join(dir, "config.yaml"),
    logLevel: "warn",
    denoFlags: [`--inspect=127.0.0.1:${port}`],
  });
  const runner = new Deno.Command(Deno.execPath(), {
    args: [...args, "--no-sandbox"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await platform.firstHeartbeat.promise;
    const task = () =>
      o.task === "read"
        ? platform.request("read", { path: "1k.txt" })
        : platform.request("bash", { command: o.command });
    for (let i = 0; i < 50; i++) await task(); // past the first task's loading
    const end = Date.now() + (o.seconds + 1) * 1000;
    let done = 0;
    const lane = async () => {
      while (Date.now() < end) {
        const r = await task();
        if (!r.success) throw new Error(`the ${o.task} task failed: ${JSON.stringify(r)}`);
        done++;
      }
    };
    const [profile] = await Promise.all([
      profileFor(port, o.seconds),
      ...Array.from({ length: o.lanes }, lane),
    ]);
    if (o.out) await Deno.writeTextFile(o.out, JSON.stringify(profile));
    const { total, idle, self, inclusive } = summarize(profile);
    const busy = total - idle;
    const pct = (n: number) => `${(n / busy * 100).toFixed(1).padStart(5)}%`;
    console.log(
      `${o.task} ${o.task === "bash" ? o.command : "1k.txt"}: ${done} tasks, ${total} samples, ` +
        `${(idle / total * 100).toFixed(1)}% idle; shares of the busy samples`,
    );
    console.log("-- self");
    for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, o.top)) {
      console.log(pct(n), k);
    }
    console.log("-- inclusive, lib/");
    const ours = [...inclusive].filter(([k]) => / lib\//.test(k));
    for (const [k, n] of ours.sort((a, b) => b[1] - a[1]).slice(0, o.top)) console.log(pct(n), k);
  } finally {
    runner.kill("SIGTERM");
    await runner.status;
    await platform.close();
    await Deno.remove(dir, { recursive: true });
  }
}
