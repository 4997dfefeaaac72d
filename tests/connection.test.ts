import { expect } from "./deps.ts";
import { fileURLToPath } from "node:url";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import type { HeartbeatPayload } from "../lib/wire/protocol.ts";

Deno.test("connects with token in query and Bearer header, heartbeats with environment and metrics", async () => {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token });
  try {
    // generous: on a loaded machine the supervisor and its sandboxed child take a while to start
    const hb = await sim.waitFor<HeartbeatPayload>((e) => e.type === "heartbeat", 60_000);
    expect(sim.upgrades[0]).toEqual({
      token: sim.token,
      authorization: `Bearer ${sim.token}`,
      accepted: true,
    });
    expect(hb.id).toMatch(/^msg_[2-9A-HJ-NP-Za-km-z]{22}$/);
    expect(typeof hb.timestamp).toBe("number");
    const p = hb.payload;
    expect(p.worknode_id).toBe("wn_sim_1");
    expect(p.name).toBe("simulated-runner");
    expect(p.labels).toEqual(["sim"]);
    expect(p.version).toMatch(/^\d+\.\d+\.\d+/);
    const env = p.environment!;
    expect(env.os).toBe(Deno.build.os);
    expect(["amd64", "arm64"]).toContain(env.arch);
    expect(env.workspace_root).toBe(await Deno.realPath(runner.workspace));
    expect(env.num_cpu).toBeGreaterThan(0);
    expect(env.total_memory_mb).toBeGreaterThan(0);
    expect(env.utc_offset).toMatch(/^[+-]\d\d:\d\d$/);
    expect(env.current_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(Object.keys(env).sort()).toEqual([
      "arch",
      "current_time",
      "home_dir",
      "hostname",
      "num_cpu",
      "os",
      "os_version",
      "shell",
      "timezone",
      "total_memory_mb",
      "username",
      "utc_offset",
      "workspace_root",
    ]);
    for (const k of ["cpu_percent", "memory_percent", "disk_percent"] as const) {
      expect(p.metrics![k]).toBeGreaterThanOrEqual(0);
      expect(p.metrics![k]).toBeLessThanOrEqual(100);
    }
    // the token never appears in a log line
    await runner.waitForLog(/connected to ws:\/\/127\.0\.0\.1/);
    expect(runner.logs()).not.toContain(sim.token);
  } finally {
    expect(await runner.stop()).toBe(0);
    await sim.close();
  }
});

Deno.test("reconnects after the platform drops the connection and sends environment again", async () => {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 60_000);
    sim.dropConnection();
    const from = sim.received.length;
    const hb = await sim.waitFor<HeartbeatPayload>(
      (e) => e.type === "heartbeat",
      60_000,
      "second heartbeat",
      from,
    );
    expect(hb.payload.environment).toBeDefined();
    expect(sim.upgrades.filter((u) => u.accepted).length).toBe(2);
    await runner.waitForLog(/connection lost/);
  } finally {
    await runner.stop();
    await sim.close();
  }
});

Deno.test("a rejected token logs `authentication failed` and keeps retrying without printing it", async () => {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: "wnt_wrong_secret" });
  try {
    await runner.waitForLog(/authentication failed/);
    expect(runner.logs()).toMatch(/HTTP 401/);
    expect(runner.logs()).not.toContain("wnt_wrong_secret");
  } finally {
    expect(await runner.stop()).toBe(0);
    await sim.close();
  }
});

Deno.test("an unreachable platform logs `failed to connect`", async () => {
  // A port that was just free: nothing listens there.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const runner = await startRunner({ url: `ws://127.0.0.1:${port}/ws`, token: "wnt_x" });
  try {
    await runner.waitForLog(/failed to connect to ws:\/\/127\.0\.0\.1:\d+\/ws/, 60_000);
    expect(runner.logs()).not.toContain("wnt_x");
  } finally {
    expect(await runner.stop()).toBe(0);
  }
});

Deno.test("without a welcome the runner warns after 5 s and still heartbeats with an empty identity", async () => {
  const sim = await PlatformSimulator.start({ welcome: null });
  const runner = await startRunner({ url: sim.url, token: sim.token });
  try {
    const hb = await sim.waitFor<HeartbeatPayload>((e) => e.type === "heartbeat", 60_000);
    expect(hb.payload.worknode_id).toBe("");
    await runner.waitForLog(/no welcome from the platform/);
  } finally {
    await runner.stop();
    await sim.close();
  }
});

Deno.test("wss://: every transport connects over TLS and verify the server certificate", async () => {
  const dir = new URL("./fixtures/tls/", import.meta.url);
  const tls = {
    cert: await Deno.readTextFile(new URL("server.pem", dir)),
    key: await Deno.readTextFile(new URL("server.key", dir)),
  };
  const ca = fileURLToPath(new URL("ca.pem", dir));
  const sim = await PlatformSimulator.start({ tls });
  expect(sim.url).toMatch(/^wss:\/\//);
  try {
    for (const transport of ["tcp", "ws", "native"]) {
      const from = sim.received.length;
      const runner = await startRunner({
        url: sim.url,
        token: sim.token,
        args: ["--transport", transport],
        env: { DENO_CERT: ca },
      });
      await sim.waitFor((e) => e.type === "heartbeat", 60_000, `${transport} heartbeat`, from);
      expect(await runner.stop()).toBe(0);
    }
    // Without the CA the certificate is refused: TLS is really verified.
    const untrusting = await startRunner({ url: sim.url, token: sim.token });
    await untrusting.waitForLog(
      /failed to connect to wss:\/\/127\.0\.0\.1:\d+\/safari\/worknode\/ws: .*certificate/,
    );
    await untrusting.stop();
  } finally {
    await sim.close();
  }
});
