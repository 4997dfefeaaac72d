import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import type { HeartbeatPayload } from "../lib/wire/protocol.ts";

const b64 = (s: string) => btoa(s);

async function connected(opts: { config?: string; env?: Record<string, string> } = {}) {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token, ...opts });
  // generous: a loaded machine takes ~10 s to start the supervisor and its child
  await sim.waitFor((e) => e.type === "heartbeat", 60_000);
  return {
    sim,
    runner,
    async close() {
      const code = await runner.stop();
      await sim.close();
      await Deno.remove(runner.workspace, { recursive: true });
      return code;
    },
  };
}

Deno.test("malformed frames, unknown types and bad args are survived; nothing is lost", async () => {
  const { sim, runner, close } = await connected();
  try {
    for (
      const junk of [
        "not json at all",
        "[1,2,3]",
        '{"payload":{}}',
        '{"type":"task.request","payload":"string"}',
        '{"type":"task.request","payload":{"operation":"read"}}',
        '{"type":42}',
        "",
        "\u0000\u0001",
      ]
    ) sim.sendRaw(junk);
    sim.send("platform.future_feature", { anything: true });
    const wrongTypes = await sim.request("write", { path: 42, content: "x" });
    expect(wrongTypes.success).toBe(false);
    expect(wrongTypes.error).toMatch(/invalid args for write: `path` must be a string/);
    const argsNotObject = await sim.request("read", "etc/passwd");
    expect(argsNotObject.error).toMatch(/args must be a JSON object/);
    // and the runner still serves real work
    const ok = await sim.request("write", { path: "still/alive.txt", content: b64("yes") });
    expect(ok).toEqual({ task_id: ok.task_id, success: true, result: { success: true } });
    const logs = runner.logs();
    expect(logs).toMatch(/dropped a malformed frame \(nothing to answer to\): invalid JSON/);
    expect(logs).toMatch(/ignored a message of unknown type platform\.future_feature/);
    expect(logs).toMatch(/invalid task\.request: `task_id` must be a non-empty string/);
  } finally {
    expect(await close()).toBe(0);
  }
});

Deno.test("every task log line carries task_id, trace_id and operation", async () => {
  const { sim, runner, close } = await connected();
  try {
    await sim.request("list", { path: "." }, { trace_id: "trace-abc" });
    await runner.waitForLog(/task succeeded/);
    const line = runner.logs().split("\n").find((l) => l.includes("task succeeded"))!;
    expect(line).toMatch(/task_id=task_\w+/);
    expect(line).toContain("trace_id=trace-abc");
    expect(line).toContain("operation=list");
  } finally {
    await close();
  }
});

Deno.test("a frame over the size limit drops the connection, not the runner", async () => {
  const { sim, runner, close } = await connected({
    env: { FLASHDUTY_RUNNER_MAX_FRAME_BYTES: String(64 * 1024) },
  });
  try {
    const from = sim.received.length;
    sim.sendTask("write", { path: "huge.bin", content: "A".repeat(200 * 1024) });
    await sim.waitFor<HeartbeatPayload>(
      (e) => e.type === "heartbeat" && !!(e.payload as Record<string, unknown>).environment,
      20_000,
      "a heartbeat after reconnecting",
      from,
    );
    await runner.waitForLog(/connection lost \(\d+: Max payload size exceeded\)/);
    const r = await sim.request("read", { path: "huge.bin" });
    expect(r.success).toBe(false); // never written: the frame was refused whole
    expect(await Deno.stat(`${runner.workspace}/huge.bin`).catch(() => null)).toBeNull();
  } finally {
    await close();
  }
});

Deno.test("a result produced while disconnected is delivered after the reconnect", async () => {
  const { sim, runner, close } = await connected({
    config: `permission:\n  bash:\n    "*": allow\n`,
  });
  try {
    const id = sim.sendTask("bash", { command: "sleep 1; echo finished-offline" });
    await runner.waitForLog(/task started/);
    sim.rejectAll = true; // the platform is "down" for a moment
    sim.dropConnection();
    await runner.waitForLog(/authentication failed|failed to connect/);
    sim.rejectAll = false;
    const r = await sim.result(id, 30_000);
    expect(r.success).toBe(true);
    expect((r.result as { stdout: string }).stdout).toBe("finished-offline\n");
    await runner.waitForLog(/connection lost/);
  } finally {
    await close();
  }
});

Deno.test("a re-sent task.request after a reconnect is answered with the same result, not re-run", async () => {
  const { sim, close } = await connected();
  try {
    const id = sim.sendTask("write", { path: "once.txt", content: b64("1") });
    const first = await sim.result(id);
    sim.dropConnection();
    await sim.waitForConnection(20_000);
    const from = sim.received.length;
    sim.sendTask("write", { path: "once.txt", content: b64("2") }, { task_id: id });
    const second = await sim.result(id, 30_000, from);
    expect(second).toEqual(first);
    const read = await sim.request("read", { path: "once.txt" });
    expect(atob((read.result as { content: string }).content)).toBe("1");
  } finally {
    await close();
  }
});

Deno.test("graceful shutdown: a task in flight finishes and its result is sent before exit 0", async () => {
  const { sim, runner, close } = await connected({
    config: `permission:\n  bash:\n    "*": allow\n`,
  });
  try {
    const id = sim.sendTask("bash", { command: "sleep 1; echo done" });
    await runner.waitForLog(/task started/);
    runner.child.kill("SIGTERM");
    const r = await sim.result(id, 20_000);
    expect(r.success).toBe(true);
    expect((r.result as { stdout: string }).stdout).toBe("done\n");
    expect((await runner.exited).code).toBe(0);
    expect(runner.logs()).toMatch(/SIGTERM received: finishing running tasks/);
  } finally {
    await close();
  }
});

Deno.test("task.cancel through the platform ends a running command", async () => {
  const { sim, close } = await connected({ config: `permission:\n  bash:\n    "*": allow\n` });
  try {
    const id = sim.sendTask("bash", { command: "sleep 30" });
    await new Promise((r) => setTimeout(r, 300));
    sim.cancel(id);
    const r = await sim.result(id, 15_000);
    expect(r).toEqual({ task_id: id, success: false, error: "task cancelled", exit_code: 1 });
  } finally {
    await close();
  }
});
