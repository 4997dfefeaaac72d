/**
 * `flashduty-runner doctor` against the platform simulator: the real CLI in
 * a child process, the runner's own dialer, a real WebSocket server.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { MAIN } from "./support/runner.ts";
import { ConnectProxy } from "./support/connect_proxy.ts";
import { emptyConfig, parseConfig } from "../lib/config.ts";
import { resolveSettings } from "../lib/settings.ts";
import { dialer } from "../lib/wire/transport.ts";
import { doctorText, runDoctor } from "../lib/ops/doctor.ts";

async function doctor(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "doctor", ...args],
    // No proxy variables from the host: the simulator is on loopback.
    env: { NO_COLOR: "1", NO_PROXY: "*", no_proxy: "*", ...env },
    clearEnv: false,
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** The flags that point doctor at the simulator with its token and a workspace. */
function against(sim: PlatformSimulator, workspace: string): string[] {
  return ["--token", sim.token, "--url", sim.url, "--workspace", workspace];
}

function line(stdout: string, check: string): string {
  return stdout.split("\n").find((l) => /^(ok|warn|fail) /.test(l) && l.includes(` ${check}: `)) ??
    "";
}

Deno.test("doctor: every check ok against the simulator, exit 0", async () => {
  const sim = await PlatformSimulator.start();
  const ws = await Deno.makeTempDir();
  try {
    const audit = `${ws}/audit.jsonl`;
    const r = await doctor([...against(sim, ws), "--audit-log", audit]);
    expect(r.stderr).toBe("");
    expect(line(r.stdout, "audit log")).toBe(`ok audit log: ${audit} opens for appending`);
    for (const l of r.stdout.trimEnd().split("\n")) expect(l).toMatch(/^(ok|warn) [a-z ]+: /);
    expect(r.stdout).not.toMatch(/^fail /m);
    expect(line(r.stdout, "token")).toMatch(/^ok token: accepted; welcomed as wn_sim_1/);
    expect(line(r.stdout, "reach")).toMatch(/^ok reach: TCP to 127\.0\.0\.1:/);
    expect(line(r.stdout, "workspace")).toMatch(/^ok workspace: /);
    // The simulator's welcome carries its send time: the same clock, so no skew.
    expect(line(r.stdout, "clock")).toMatch(/^ok clock: /);
    expect(r.code).toBe(0);
    // The token went in the upgrade, as the runner sends it; it is never printed.
    expect(sim.upgrades.at(-1)?.authorization).toBe(`Bearer ${sim.token}`);
    expect(r.stdout).not.toContain(sim.token);
  } finally {
    await sim.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: a token the platform rejects is `fail token: authentication failed`, exit 1", async () => {
  const sim = await PlatformSimulator.start();
  const ws = await Deno.makeTempDir();
  try {
    const r = await doctor(["--token", "wnt_wrong", "--url", sim.url, "--workspace", ws]);
    expect(line(r.stdout, "token")).toMatch(/^fail token: authentication failed: .*HTTP 401/);
    expect(line(r.stdout, "clock")).toMatch(/^warn clock: not checked/);
    expect(r.stdout).not.toContain("wnt_wrong");
    expect(r.code).toBe(1);
  } finally {
    await sim.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: a workspace that is a file is a fail line, exit 1", async () => {
  const sim = await PlatformSimulator.start();
  const dir = await Deno.makeTempDir();
  // Named like the token: the fail line that quotes the path must still not print it.
  const file = `${dir}/${sim.token}`;
  await Deno.writeTextFile(file, "x");
  try {
    const r = await doctor([...against(sim, file), "--audit-log", `${file}/audit.jsonl`]);
    expect(line(r.stdout, "workspace")).toMatch(/^fail workspace: .*exists and is a file/);
    // The audit log under that file cannot open either: the start-up check's reason.
    expect(line(r.stdout, "audit log")).toMatch(/^fail audit log: invalid --audit-log .*/);
    expect(r.stdout).not.toContain(sim.token);
    // The other checks still run: the token line is there.
    expect(line(r.stdout, "token")).toMatch(/^ok token: /);
    expect(r.code).toBe(1);
  } finally {
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor: an unreachable platform is `fail reach: failed to connect`, exit 1", async () => {
  // A port that was just free: bind, note it, close.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const ws = await Deno.makeTempDir();
  try {
    const r = await doctor([
      "--token",
      "t",
      "--url",
      `ws://127.0.0.1:${port}/safari/worknode/ws`,
      "--workspace",
      ws,
    ]);
    expect(line(r.stdout, "reach")).toMatch(/^fail reach: failed to connect to 127\.0\.0\.1:\d+/);
    expect(r.code).toBe(1);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: no flags for the token is a bad invocation, exit 2", async () => {
  const ws = await Deno.makeTempDir();
  try {
    const r = await doctor(["--url", "ws://127.0.0.1:9/x", "--workspace", ws], {
      FLASHDUTY_RUNNER_TOKEN: "",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^flashduty-runner: .*token/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: sandbox: require without the kernel layer fails; auto warns; missing programs warn", async () => {
  const sim = await PlatformSimulator.start();
  const ws = await Deno.makeTempDir();
  const missing = () => ({ available: false as const, reason: "this kernel has no Landlock" });
  try {
    const rules = `permission:\n  bash:\n    "*": deny\n    "ls *": allow\n` +
      `    "no-such-program-xyz *": allow\n`;
    const settings = (config = emptyConfig()) =>
      resolveSettings({ token: sim.token, url: sim.url, workspace: ws }, () => undefined, config);
    const run = async (text: string) => {
      const config = parseConfig(text);
      return doctorText(
        await runDoctor({
          config,
          settings: settings(config),
          dial: dialer("ws"),
          probeKernel: missing,
        }),
      );
    };
    const required = await run(`sandbox: require\n${rules}`);
    expect(line(required, "kernel layer")).toBe(
      "fail kernel layer: missing: this kernel has no Landlock",
    );
    expect(line(required, "programs")).toMatch(/^warn programs: .*no-such-program-xyz/);
    expect(line(required, "programs")).not.toMatch(/\bls\b/);
    const auto = await run(rules);
    expect(line(auto, "kernel layer")).toMatch(/^warn kernel layer: missing: /);
    expect(auto).not.toMatch(/^fail /m);
  } finally {
    await sim.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: HTTP_PROXY applies: reach and the token go through the proxy, credentials unprinted", async () => {
  const sim = await PlatformSimulator.start();
  const proxy = ConnectProxy.start();
  const ws = await Deno.makeTempDir();
  try {
    const r = await doctor(against(sim, ws), {
      NO_PROXY: "",
      no_proxy: "",
      HTTP_PROXY: proxy.url("ops:pr0xy-s3cret"),
    });
    expect(line(r.stdout, "reach")).toBe(
      `ok reach: TCP to 127.0.0.1:${proxy.port} through the proxy http://127.0.0.1:${proxy.port}`,
    );
    expect(line(r.stdout, "token")).toMatch(/^ok token: accepted/);
    // The upgrade was tunnelled (CONNECT to the platform), not sent directly.
    expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${sim.port}`]);
    expect(r.stdout + r.stderr).not.toContain("pr0xy-s3cret");
    expect(r.code).toBe(0);
  } finally {
    await proxy.close();
    await sim.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor: a platform clock 5 minutes off is `warn clock`, still exit 0", async () => {
  const sim = await PlatformSimulator.start({ clockOffsetMs: -5 * 60_000 });
  const ws = await Deno.makeTempDir();
  try {
    const r = await doctor(against(sim, ws));
    expect(line(r.stdout, "clock")).toMatch(/^warn clock: ahead of the platform by 3\d{5} ms$/);
    expect(r.code).toBe(0);
  } finally {
    await sim.close();
    await Deno.remove(ws, { recursive: true });
  }
});
