/**
 * `--audit-log`: one JSON line per task with the decision and the rule that
 * decided, appended and rotated by size (also under the sandbox, whose
 * write grant must name the rotations), and never the token or a secret
 * a command printed or carried.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { AuditLog, type AuditRecord } from "../lib/ops/audit_log.ts";

const TOKEN = "wnt_audit_token_5f3a9c";

function readLines(path: string): AuditRecord[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    );
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

Deno.test("audit: one line per task, decision and rule, rotated, no token, secrets redacted", async () => {
  const sim = await PlatformSimulator.start({ token: TOKEN });
  const dir = await Deno.makeTempDir({ prefix: "fdr-audit-" });
  const log = join(dir, "audit.jsonl");
  const runner = await startRunner({
    url: sim.url,
    token: TOKEN,
    config: `permission:\n  bash:\n    "echo *": allow\n    "rm *": deny\n` +
      `audit_log:\n  path: ${join(dir, "ignored-flag-wins.jsonl")}\n  max_bytes: 2000\n  keep: 2\n`,
    args: ["--audit-log", log],
  });
  try {
    await sim.waitForConnection(30_000);
    const ok = await sim.request("bash", { command: "echo hello" }, { trace_id: "tr-1" });
    expect(ok.success).toBe(true);
    const denied = await sim.request("bash", { command: "rm -rf /tmp/nothing" });
    expect(denied.success).toBe(false);
    const unruled = await sim.request("bash", { command: "uptime" });
    expect(unruled.success).toBe(false);
    const escaped = await sim.request("read", { path: "../../etc/passwd" });
    expect(escaped.error).toMatch(/path escapes workspace/);
    // the token and a password, typed into a command: neither in the result nor the audit
    const leaky = await sim.request("bash", { command: `echo ${TOKEN} password=hunter2x` });
    expect(leaky.success).toBe(true);
    expect(JSON.stringify(leaky)).not.toContain(TOKEN);
    expect(JSON.stringify(leaky)).not.toContain("hunter2x");
    expect(JSON.stringify(leaky)).toContain("[REDACTED]");

    const lines = readLines(log);
    expect(lines.length).toBe(5);
    expect(lines[0]).toMatchObject({
      task_id: expect.any(String),
      trace_id: "tr-1",
      operation: "bash",
      command: "echo hello",
      decision: "allowed",
      rule: "echo *",
      exit_code: 0,
      duration_ms: expect.any(Number),
      bytes_out: expect.any(Number),
    });
    expect(lines[0].bytes_out).toBeGreaterThan("hello".length);
    expect(Date.now() - Date.parse(lines[0].time)).toBeLessThan(120_000);
    expect(lines[1]).toMatchObject({
      decision: "denied",
      rule: "rm *",
      command: "rm -rf /tmp/nothing",
    });
    expect(lines[2]).toMatchObject({ decision: "denied", rule: "(no rule allowed it)" });
    expect(lines[3]).toMatchObject({
      operation: "read",
      path: "../../etc/passwd",
      decision: "denied",
      rule: "(workspace confinement)",
    });
    expect(lines[4].command).toContain("[REDACTED]");

    // rotation under the sandbox: 2000 bytes a file, two kept
    for (let k = 0; k < 20; k++) {
      expect((await sim.request("bash", { command: `echo round ${k}` })).success).toBe(true);
    }
    const all = [log, `${log}.1`, `${log}.2`].map(readLines);
    expect(all[1].length).toBeGreaterThan(0);
    expect(all[2].length).toBeGreaterThan(0);
    for (const f of [log, `${log}.1`, `${log}.2`]) {
      expect(Deno.statSync(f).size).toBeLessThanOrEqual(2000);
    }
    await expect(Deno.stat(`${log}.3`)).rejects.toThrow();
    // the newest line is in the live file, and no line was torn
    expect(all[0].at(-1)!.command).toBe("echo round 19");
    expect(runner.logs()).toMatch(/running the runner with Deno permissions/);
    for (const f of [log, `${log}.1`, `${log}.2`]) {
      expect(Deno.readTextFileSync(f)).not.toContain(TOKEN);
    }
    expect(runner.logs()).not.toContain(TOKEN);
    expect(runner.logs()).not.toContain("hunter2x");
    expect(Deno.statSync(log).mode! & 0o777).toBe(0o600);
  } finally {
    await runner.stop();
    await sim.close();
  }
});

Deno.test("audit: rotation keeps `keep` files of at most max_bytes, newest first", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.jsonl");
  const audit = AuditLog.open({ path, maxBytes: 400, keep: 2 });
  for (let k = 0; k < 40; k++) {
    audit.writeRecord({
      time: new Date(0).toISOString(),
      task_id: `t${k}`,
      kind: "task",
      operation: "bash",
      command: "x",
      decision: "allowed",
      duration_ms: 1,
      bytes_out: 1,
    });
  }
  audit.close();
  const ids = (p: string) => readLines(p).map((r) => Number(r.task_id.slice(1)));
  const [live, one, two] = [ids(path), ids(`${path}.1`), ids(`${path}.2`)];
  expect(live.at(-1)).toBe(39);
  expect(one.at(-1)! + 1).toBe(live[0]);
  expect(two.at(-1)! + 1).toBe(one[0]);
  for (const p of [path, `${path}.1`, `${path}.2`]) {
    expect(Deno.statSync(p).size).toBeLessThanOrEqual(400);
  }
  await expect(Deno.stat(`${path}.3`)).rejects.toThrow();
  // reopened, it appends rather than truncating
  const again = AuditLog.open({ path, maxBytes: 100_000 });
  again.writeRecord({ ...readLines(path)[0], task_id: "t40" });
  again.close();
  expect(ids(path)).toEqual([...live, 40]);
});

Deno.test("audit: an audit log that cannot be opened is one line at start, exit 2", async () => {
  const file = await Deno.makeTempFile();
  const { MAIN } = await import("./support/runner.ts");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      "run",
      "--token",
      "t",
      "--url",
      "ws://127.0.0.1:9/ws",
      "--workspace",
      await Deno.makeTempDir(),
      "--audit-log",
      `${file}/audit.jsonl`,
    ],
    stdin: "null",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim();
  expect(out.code).toBe(2);
  expect(err.split("\n")).toEqual([
    expect.stringMatching(/^flashduty-runner: invalid --audit-log/),
  ]);
});
