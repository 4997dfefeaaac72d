/**
 * lib/sandbox/supervisor.ts with real processes: a stand-in main module
 * (written per test) re-executes itself through superviseSelf exactly as
 * main.ts does, and its sandboxed half records what it was given and then
 * crashes, fails or serves until a signal, as each test's plan says.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { RUNNER_V8_FLAGS, runnerV8Flags } from "../lib/sandbox/v8_flags.ts";

const SUPERVISOR = new URL("../lib/sandbox/supervisor.ts", import.meta.url).href;
const PERMISSIONS = new URL("../lib/sandbox/permissions.ts", import.meta.url).href;
const LOG = new URL("../lib/log.ts", import.meta.url).href;

/**
 * The stand-in runner. Supervisor half: derives the permissions for a
 * config that allows no command and no fetch (so every grant is scoped) and
 * supervises itself with a fast backoff. Sandboxed half:
 * run n writes runs/<n>.json, then does plan[n] (the last entry repeats):
 * "crash" exits 1, "usage" exits 2, "serve:<code>" waits for SIGINT/SIGTERM
 * and exits with <code>.
 */
const FIXTURE = `
import { SANDBOX_ENV, superviseSelf, watchSupervisor } from ${JSON.stringify(SUPERVISOR)};
import { derivePermissions } from ${JSON.stringify(PERMISSIONS)};
import { setupLogging } from ${JSON.stringify(LOG)};
const [workspace, backoffMs] = Deno.args;
await setupLogging("debug", "text");
if (!Deno.env.get(SANDBOX_ENV)) {
  const permissions = derivePermissions({
    config: { permission: { bash: [], webfetch: [{ pattern: "*", action: "deny" }] } },
    workspace,
    platformUrl: "ws://127.0.0.1:9/ws",
  });
  const ms = Number(backoffMs);
  Deno.exit(await superviseSelf({
    permissions,
    args: Deno.args,
    backoff: { initialMs: ms, maxMs: ms * 2, stableMs: 600_000 },
  }));
}
watchSupervisor();
const plan = JSON.parse(await Deno.readTextFile(workspace + "/plan.json"));
await Deno.mkdir(workspace + "/runs", { recursive: true });
const n = [...Deno.readDirSync(workspace + "/runs")].length;
const q = (d) => Deno.permissions.querySync(d).state;
let outside;
try { outside = Deno.readTextFileSync("/etc/hostname") && "read"; } catch (e) { outside = e.constructor.name; }
// What a flood of output does to the heap: 64 KiB reads decoded and framed, garbage at once.
// How far the heap grows says which V8 heap sizing the runner was started with.
const bytes = new Uint8Array(60 * 1024).fill(0x61);
const heapBefore = Deno.memoryUsage().heapTotal / 1048576;
let framed = 0, heapMb = 0;
for (let i = 0; i < 3000; i++) {
  bytes[i % bytes.length] = 0x62;
  framed += JSON.stringify({ data: new TextDecoder().decode(bytes) }).length;
  if (i % 20 === 0) heapMb = Math.max(heapMb, Deno.memoryUsage().heapTotal / 1048576);
}
Deno.writeTextFileSync(workspace + "/runs/" + n + ".json", JSON.stringify({
  heapGrowthMb: heapMb - heapBefore,
  framed,
  pid: Deno.pid,
  marker: Deno.env.get(SANDBOX_ENV),
  read: q({ name: "read" }),
  readWorkspace: q({ name: "read", path: workspace }),
  run: q({ name: "run" }),
  net: q({ name: "net" }),
  env: q({ name: "env" }),
  outside,
  args: Deno.args,
}));
const step = plan[Math.min(n, plan.length - 1)];
if (step === "crash") throw new Error("simulated crash");
if (step === "usage") Deno.exit(2);
const code = Number(step.split(":")[1]);
const got = await new Promise((resolve) => {
  for (const sig of ["SIGINT", "SIGTERM"]) Deno.addSignalListener(sig, () => resolve(sig));
});
Deno.writeTextFileSync(workspace + "/runs/" + n + ".signal", got);
Deno.exit(code);
`;

interface Supervised extends AsyncDisposable {
  workspace: string;
  child: Deno.ChildProcess;
  /** the record of run n, once it exists */
  run(n: number): Promise<Record<string, unknown>>;
  runs(): number;
  logs(): string;
  waitForLog(pattern: RegExp): Promise<void>;
  exited: Promise<{ code: number; logs: string }>;
}

async function supervise(
  plan: string[],
  backoffMs = 100,
  env: Record<string, string> = {},
): Promise<Supervised> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_supervisor_" }));
  const workspace = join(dir, "ws");
  await Deno.mkdir(workspace);
  await Deno.writeTextFile(join(workspace, "plan.json"), JSON.stringify(plan));
  const script = join(dir, "runner.ts");
  await Deno.writeTextFile(script, FIXTURE);
  // Started with every permission, as a careless operator would: the child must not keep them.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, workspace, String(backoffMs)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let text = "";
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const drain = child.stdout.pipeTo(new WritableStream());
  const exited = child.status.then(async (s) => {
    await pump;
    await drain;
    return { code: s.code, logs: text };
  });
  const until = async <T>(what: string, f: () => T | undefined): Promise<T> => {
    const deadline = Date.now() + 30_000;
    while (true) {
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const runsDir = join(workspace, "runs");
  const readRun = (n: number) => {
    try {
      return JSON.parse(Deno.readTextFileSync(join(runsDir, `${n}.json`)));
    } catch {
      return undefined;
    }
  };
  return {
    workspace,
    child,
    run: (n) => until(`run ${n}`, () => readRun(n)),
    runs: () => {
      try {
        return [...Deno.readDirSync(runsDir)].filter((e) => e.name.endsWith(".json")).length;
      } catch {
        return 0;
      }
    },
    logs: () => text,
    waitForLog: (pattern) =>
      until(`log ${pattern}`, () => pattern.test(text) || undefined).then(() => {}),
    exited,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await exited;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // a no-op for a live process, an error for a gone one
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test("supervisor: the runner is re-executed with the derived flags, not the ones it was given", async () => {
  await using s = await supervise(["serve:0"]);
  const run = await s.run(0);
  expect(run).toMatchObject({
    marker: String(s.child.pid),
    read: "prompt", // not unscoped: --allow-read lists the workspace only
    readWorkspace: "granted",
    run: "prompt",
    net: "prompt", // the platform's host:port only
    env: "prompt",
    outside: "NotCapable",
  });
  expect(run.args).toEqual([s.workspace, "100"]);
  s.child.kill("SIGTERM");
  const { code, logs } = await s.exited;
  expect(code).toBe(0);
  expect(Deno.readTextFileSync(join(s.workspace, "runs", "0.signal"))).toBe("SIGTERM");
  expect(logs).toMatch(/sandbox: running the runner with Deno permissions --allow-read=\S+ws /);
  expect(s.runs()).toBe(1);
});

Deno.test("supervisor: the runner's V8 heap is sized for output floods; an operator's DENO_V8_FLAGS replaces that", async () => {
  {
    await using s = await supervise(["serve:0"]);
    // the fixture's churn grows V8's default heap by about 15 MB; RUNNER_V8_FLAGS's by under 1
    // (with an operator's 16 MB young generation, below: by about 32 MB)
    expect((await s.run(0)).heapGrowthMb).toBeLessThan(5);
  }
  {
    await using s = await supervise(["serve:0"], 100, {
      DENO_V8_FLAGS: "--min-semi-space-size=16",
    });
    expect((await s.run(0)).heapGrowthMb).toBeGreaterThan(8);
  }
});

Deno.test("runnerV8Flags: the operator's DENO_V8_FLAGS if set, else the runner's", () => {
  expect(runnerV8Flags(undefined)).toBe(RUNNER_V8_FLAGS);
  expect(runnerV8Flags(" ")).toBe(RUNNER_V8_FLAGS);
  expect(runnerV8Flags("--max-semi-space-size=8")).toBe("--max-semi-space-size=8");
  expect(RUNNER_V8_FLAGS).toBe("--max-semi-space-size=1,--heap-growing-percent=50");
});

Deno.test("supervisor: once its first runner is started, it collects its start-up garbage, once", async () => {
  await using s = await supervise(["crash", "serve:0"]);
  await s.run(1);
  const line = /start-up over: collected garbage, V8 heap ([\d.]+) -> ([\d.]+) MB/;
  await s.waitForLog(line);
  // past a second launch's settle time too: a restart does not collect again
  await new Promise((r) => setTimeout(r, 1_500));
  const found = [...s.logs().matchAll(new RegExp(line, "g"))];
  expect(found.length).toBe(1);
  expect(Number(found[0][2])).toBeLessThanOrEqual(Number(found[0][1]));
});

Deno.test("supervisor: SIGINT is forwarded once and the runner's exit code is passed on", async () => {
  await using s = await supervise(["serve:7"]);
  await s.run(0);
  s.child.kill("SIGINT");
  expect((await s.exited).code).toBe(7);
  expect(Deno.readTextFileSync(join(s.workspace, "runs", "0.signal"))).toBe("SIGINT");
  expect(s.runs()).toBe(1);
});

Deno.test("supervisor: a crash is logged and restarted with a growing delay", async () => {
  await using s = await supervise(["crash", "crash", "serve:0"]);
  const third = await s.run(2);
  await s.waitForLog(/crash 2 in a row/);
  const logs = s.logs();
  expect(logs).toMatch(
    /ERROR sandbox: the runner exited with code 1; restarting in 0\.1 s \(crash 1 in a row\)/,
  );
  expect(logs).toMatch(/restarting in 0\.2 s \(crash 2 in a row\)/);
  expect(logs).toMatch(/simulated crash/); // the runner's own stderr is passed through
  expect(third.pid).not.toBe((await s.run(0)).pid);
  s.child.kill("SIGTERM");
  expect((await s.exited).code).toBe(0);
  expect(s.runs()).toBe(3);
});

Deno.test("supervisor: a runner killed by a signal it was not sent is a crash", async () => {
  await using s = await supervise(["serve:0"]);
  const first = await s.run(0);
  Deno.kill(first.pid as number, "SIGKILL");
  const second = await s.run(1);
  expect(second.pid).not.toBe(first.pid);
  expect(s.logs()).toMatch(/the runner was killed by SIGKILL; restarting/);
  s.child.kill("SIGTERM");
  expect((await s.exited).code).toBe(0);
});

Deno.test("supervisor: a usage or config error (exit 2) is passed on, not restarted", async () => {
  await using s = await supervise(["usage"]);
  expect((await s.exited).code).toBe(2);
  expect(s.runs()).toBe(1);
  expect(s.logs()).not.toMatch(/restarting/);
});

Deno.test("supervisor: a stop signal during the restart delay stops at once", async () => {
  await using s = await supervise(["crash"], 600_000);
  await s.waitForLog(/restarting in 600 s/);
  s.child.kill("SIGTERM");
  const { code, logs } = await s.exited;
  expect(code).toBe(0);
  expect(logs).toMatch(/SIGTERM while waiting to restart: stopped/);
  expect(s.runs()).toBe(1);
});

Deno.test("supervisor: a supervisor killed outright takes its sandboxed runner with it", async () => {
  await using s = await supervise(["serve:0"]);
  const run = await s.run(0);
  s.child.kill("SIGKILL");
  await s.exited;
  expect(await gone(run.pid as number)).toBe(true);
});

Deno.test("broaderThanNeeded: names each unscoped grant the config does not need, and none under the derived set", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_broader_" }));
  try {
    const workspace = join(dir, "ws");
    await Deno.mkdir(workspace);
    const script = join(dir, "check.ts");
    await Deno.writeTextFile(
      script,
      `import { broaderThanNeeded } from ${JSON.stringify(SUPERVISOR)};
import { derivePermissions, toDenoFlags } from ${JSON.stringify(PERMISSIONS)};
const derived = derivePermissions({
  config: { permission: { bash: [], webfetch: [{ pattern: "*", action: "deny" }] } },
  workspace: ${JSON.stringify(workspace)},
  platformUrl: "ws://127.0.0.1:9/ws",
});
if (Deno.args[0] === "flags") console.log(JSON.stringify(toDenoFlags(derived)));
else console.log(JSON.stringify(broaderThanNeeded(derived)));
`,
    );
    const run = async (flags: string[], arg = "check") => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags, script, arg],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      expect(out.code).toBe(0);
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    const flags: string[] = await run(["--allow-all"], "flags");
    expect(await run(flags)).toEqual([]);
    const all: string[] = await run(["--allow-all"]);
    expect(all).toEqual([
      `--allow-read is unscoped; this config needs ${workspace}`,
      `--allow-write is unscoped; this config needs ${workspace}`,
      "--allow-run is unscoped; this config needs none",
      "--allow-net is unscoped; this config needs 127.0.0.1:9",
      expect.stringMatching(
        /^--allow-env is unscoped; this config needs FLASHDUTY_RUNNER_\*,HOME,/,
      ),
      expect.stringMatching(/^--allow-sys is unscoped; this config needs hostname,/),
      expect.stringMatching(/^--allow-ffi is unscoped; this config needs \/\S*libc\.so\.6$/),
    ]);
    expect(await run([`--allow-read=/,${workspace}`, "--allow-env", "--allow-sys"])).toEqual([
      `--allow-read includes /; this config needs ${workspace}`,
      expect.stringMatching(/^--allow-env is unscoped/),
      expect.stringMatching(/^--allow-sys is unscoped/),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
