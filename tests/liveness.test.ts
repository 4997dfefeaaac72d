/**
 * Dead peer: the platform goes silent (no FIN, no RST) through a proxy.
 * Liveness (a transport ping on its own timer) must notice within two ping
 * intervals whether the runner is idle or streaming output into a socket
 * whose writes never complete, then reconnect. The interval is set to 1 s
 * here (FLASHDUTY_RUNNER_PING_INTERVAL_MS); by default it is 30 s, so the
 * runner notices within 60 s (the goal is 90 s).
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { SilentProxy } from "./support/silent_proxy.ts";

const PING_MS = 1000;
// two intervals is the design; the rest is slack for a loaded machine
const NOTICE_WITHIN_MS = 15_000;

async function silentPeer(busy: boolean) {
  const sim = await PlatformSimulator.start();
  const proxy = SilentProxy.start(sim.port);
  const runner = await startRunner({
    url: `ws://127.0.0.1:${proxy.port}${sim.path}`,
    token: sim.token,
    config: `permission:\n  bash:\n    "*": allow\n`,
    env: { FLASHDUTY_RUNNER_PING_INTERVAL_MS: String(PING_MS) },
  });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 30_000);
    let flood = "";
    if (busy) {
      // a flood of live output: once the peer is silent, every write stalls
      flood = sim.sendTask("bash", { command: "yes 'output that never arrives'", timeout: 600 });
      await sim.waitFor((e) => e.type === "task.output" && e.payload.task_id === flood, 30_000);
    }
    const connects = sim.upgrades.length;
    const silentAt = Date.now();
    proxy.silence();
    await runner.waitForLog(
      /no pong from the platform within \d+ ms; dropping the connection/,
      NOTICE_WITHIN_MS,
    );
    const noticedMs = Date.now() - silentAt;
    // and it comes back on a fresh connection
    for (let i = 0; i < 300 && sim.upgrades.length === connects; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sim.upgrades.length).toBeGreaterThan(connects);
    if (flood) {
      await sim.waitForConnection(30_000);
      sim.cancel(flood); // so stopping does not wait out the shutdown grace
    }
    return noticedMs;
  } finally {
    await runner.stop();
    proxy.close();
    await sim.close();
    await Deno.remove(runner.workspace, { recursive: true });
  }
}

Deno.test("silent peer, idle: noticed by the ping, then reconnected", async () => {
  const ms = await silentPeer(false);
  expect(ms).toBeLessThan(NOTICE_WITHIN_MS);
});

Deno.test("silent peer while output streams: the ping does not wait behind stalled writes", async () => {
  const ms = await silentPeer(true);
  expect(ms).toBeLessThan(NOTICE_WITHIN_MS);
});
