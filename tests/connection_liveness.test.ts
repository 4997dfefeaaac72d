/**
 * The Connection alone (real simulator, real ws transport, a proxy that can
 * go silent): a result whose send stalls on a silent peer is not lost and
 * does not hold the outbox; it goes out on the next connection, once.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { SilentProxy } from "./support/silent_proxy.ts";
import { Connection } from "../lib/wire/connection.ts";
import { dialWs } from "../lib/wire/transport.ts";
import { Backoff } from "../lib/wire/backoff.ts";
import { logger } from "../lib/log.ts";

Deno.test("connection: a result stalled on a silent peer goes out once, on the next connection", async () => {
  const sim = await PlatformSimulator.start();
  const proxy = SilentProxy.start(sim.port);
  const conn = new Connection({
    url: `ws://127.0.0.1:${proxy.port}${sim.path}`,
    token: sim.token,
    dial: dialWs,
    log: logger("test"),
    heartbeat: (id) => Promise.resolve({ ...id, version: "test" }),
    onMessage: () => {},
    pingIntervalMs: 300,
    backoff: new Backoff(50, 200),
  });
  try {
    conn.start();
    await sim.waitFor((e) => e.type === "heartbeat", 30_000);
    const connects = conn.connects;
    proxy.silence();
    // big enough that its write cannot complete into a peer that reads nothing
    const big = "z".repeat(8 * 1024 * 1024);
    const first = conn.deliver("task.result", { task_id: "stalled", success: true, result: big });
    const small = conn.deliver("task.result", { task_id: "after", success: true });
    const from = sim.received.length;
    await sim.waitFor(
      (e) => e.type === "task.result" && e.payload.task_id === "after",
      30_000,
      "the results after the reconnect",
      from,
    );
    expect(conn.connects).toBeGreaterThan(connects);
    expect(await first.settled).toBe("sent");
    expect(await small.settled).toBe("sent");
    await new Promise((r) => setTimeout(r, 300));
    const got = sim.received.filter((e) => e.type === "task.result").map((e) => e.payload.task_id);
    expect(got).toEqual(["stalled", "after"]); // in order, each once
  } finally {
    await conn.stop();
    proxy.close();
    await sim.close();
  }
});
