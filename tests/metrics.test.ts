/**
 * `--metrics-addr`: /metrics, /readyz and /healthz scraped over HTTP from
 * the real runner (sandboxed: the listener's net grant is derived) while
 * the simulator connects, drops it, refuses it and lets it back.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { parseListenAddress } from "../lib/settings.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of one sample line, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("metrics: /metrics, /readyz and /healthz follow tasks and the connection", async () => {
  const sim = await PlatformSimulator.start();
  const port = freePort();
  const runner = await startRunner({
    url: sim.url,
    token: sim.token,
    config: `permission:\n  bash:\n    "echo *": allow\n    "rm *": deny\n`,
    args: ["--metrics-addr", `:${port}`],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await runner.waitForLog(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, 30_000);
    expect(runner.logs()).toMatch(/running the runner with Deno permissions/);
    expect((await get(`${base}/healthz`)).status).toBe(200);
    await sim.waitForConnection(30_000);
    await until("ready", async () => (await get(`${base}/readyz`)).status === 200);

    expect((await sim.request("bash", { command: "echo a" })).success).toBe(true);
    expect((await sim.request("bash", { command: "echo b" })).success).toBe(true);
    expect((await sim.request("bash", { command: "rm -rf x" })).success).toBe(false);
    expect((await sim.request("nope", {})).success).toBe(false);

    let m = await get(`${base}/metrics`);
    expect(m.status).toBe(200);
    const t = m.text;
    expect(sample(t, 'flashduty_runner_tasks_total{operation="bash",outcome="success"}')).toBe(2);
    expect(sample(t, 'flashduty_runner_tasks_total{operation="bash",outcome="denied"}')).toBe(1);
    expect(sample(t, 'flashduty_runner_tasks_total{operation="nope",outcome="failure"}')).toBe(1);
    expect(sample(t, 'flashduty_runner_denials_total{operation="bash",rule="rm *"}')).toBe(1);
    expect(sample(t, 'flashduty_runner_task_duration_seconds_count{operation="bash"}')).toBe(3);
    expect(sample(t, "flashduty_runner_tasks_running")).toBe(0);
    expect(sample(t, "flashduty_runner_tasks_queued")).toBe(0);
    expect(sample(t, "flashduty_runner_outbox_messages")).toBe(0);
    expect(sample(t, "flashduty_runner_connected")).toBe(1);
    expect(sample(t, "flashduty_runner_reconnects_total")).toBe(0);
    expect(t).toMatch(/flashduty_runner_build_info\{version="[^"]+"\} 1/);

    // The platform drops the runner and refuses it: not ready, not connected.
    sim.rejectAll = true;
    sim.dropConnection();
    await until("not ready", async () => (await get(`${base}/readyz`)).status === 503);
    m = await get(`${base}/metrics`);
    expect(sample(m.text, "flashduty_runner_connected")).toBe(0);
    expect((await get(`${base}/healthz`)).status).toBe(200);

    // Let back in: ready again, one reconnect counted.
    sim.rejectAll = false;
    await until("ready again", async () => (await get(`${base}/readyz`)).status === 200, 60_000);
    m = await get(`${base}/metrics`);
    expect(sample(m.text, "flashduty_runner_connected")).toBe(1);
    expect(sample(m.text, "flashduty_runner_reconnects_total")).toBe(1);

    expect((await get(`${base}/nothing`)).status).toBe(404);
    expect(
      await fetch(`${base}/metrics`, { method: "POST" }).then((r) =>
        r.body?.cancel().then(() => r.status)
      ),
    ).toBe(405);
  } finally {
    await runner.stop();
    await sim.close();
  }
});

Deno.test("metrics: off unless asked; `:PORT` means loopback; bad addresses are refused", () => {
  expect(parseListenAddress(":9464")).toEqual({ hostname: "127.0.0.1", port: 9464 });
  expect(parseListenAddress("9464")).toEqual({ hostname: "127.0.0.1", port: 9464 });
  expect(parseListenAddress("0.0.0.0:9464")).toEqual({ hostname: "0.0.0.0", port: 9464 });
  expect(parseListenAddress("[::1]:9464")).toEqual({ hostname: "::1", port: 9464 });
  for (const bad of ["", "host", "host:", ":0", ":70000", "a:b:c"]) {
    expect(() => parseListenAddress(bad)).toThrow(/invalid --metrics-addr/);
  }
});
