/**
 * Huge input: every field has a length limit (lib/wire/limits.ts), checked
 * before any work is done on it, and the default frame limit is sized so the
 * largest legitimate message fits while a 100 MiB field still gets an error
 * result instead of a crash.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { decodeInbound, envelope } from "../lib/wire/protocol.ts";
import {
  base64Chars,
  DEFAULT_MAX_FRAME_BYTES,
  FIELD_LIMITS,
  MAX_SKILL_ARCHIVE_BYTES,
} from "../lib/wire/limits.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import { bashArgs } from "../lib/operations/bash.ts";
import { readArgs } from "../lib/operations/read.ts";
import { writeArgs } from "../lib/operations/write.ts";
import { listArgs } from "../lib/operations/list.ts";
import { globArgs } from "../lib/operations/glob.ts";
import { grepArgs } from "../lib/operations/grep.ts";
import { webfetchArgs } from "../lib/operations/webfetch.ts";
import { mcpCallArgs } from "../lib/operations/mcp_call.ts";
import { syncSkillArgs } from "../lib/operations/sync_skill.ts";

const frame = (type: string, payload: unknown) =>
  JSON.stringify(envelope(type as "task.request", payload));

Deno.test("the default frame holds the largest archive, base64, with its envelope", () => {
  const archive = "A".repeat(1); // shape only; the size is arithmetic
  const envelopeBytes = frame("task.request", {
    task_id: "t".repeat(FIELD_LIMITS.id),
    operation: "sync_skill",
    args: { skill_dir: "s".repeat(FIELD_LIMITS.path), zip_data: archive, checksum: "c" },
  }).length;
  expect(DEFAULT_MAX_FRAME_BYTES).toBeGreaterThanOrEqual(
    base64Chars(MAX_SKILL_ARCHIVE_BYTES) + envelopeBytes,
  );
  expect(FIELD_LIMITS.archive).toBe(base64Chars(MAX_SKILL_ARCHIVE_BYTES));
  // and a 100 MiB field still fits in a frame, so it is answered, not dropped
  expect(DEFAULT_MAX_FRAME_BYTES).toBeGreaterThan(100 * 1024 * 1024 + 1024);
});

Deno.test("every string field of every operation is refused one character over its limit", () => {
  const over = (n: number) => "x".repeat(n + 1);
  const cases: [string, () => unknown][] = [
    ["command", () => bashArgs({ command: over(FIELD_LIMITS.command) })],
    ["workdir", () => bashArgs({ command: "ls", workdir: over(FIELD_LIMITS.path) })],
    ["path", () => readArgs({ path: over(FIELD_LIMITS.path) })],
    ["path", () => writeArgs({ path: over(FIELD_LIMITS.path), content: "" })],
    ["content", () => writeArgs({ path: "a", content: over(FIELD_LIMITS.content) })],
    ["path", () => listArgs({ path: over(FIELD_LIMITS.path) })],
    ["ignore[]", () => listArgs({ ignore: [over(FIELD_LIMITS.pattern)] })],
    ["pattern", () => globArgs({ pattern: over(FIELD_LIMITS.pattern) })],
    ["pattern", () => grepArgs({ pattern: over(FIELD_LIMITS.pattern) })],
    ["include[]", () => grepArgs({ pattern: "a", include: [over(FIELD_LIMITS.pattern)] })],
    ["url", () => webfetchArgs({ url: over(FIELD_LIMITS.url) })],
    ["tool_name", () => mcpCallArgs({ server: {}, tool_name: over(FIELD_LIMITS.name) })],
    ["skill_dir", () => syncSkillArgs({ skill_dir: over(FIELD_LIMITS.path), zip_data: "" })],
    ["zip_data", () => syncSkillArgs({ skill_dir: "s", zip_data: over(FIELD_LIMITS.archive) })],
  ];
  for (const [field, decode] of cases) {
    let err: unknown;
    try {
      decode();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TaskError);
    expect((err as Error).message).toContain(`\`${field}\` is `);
    expect((err as Error).message).toMatch(/characters long; the limit is \d+$/);
  }
  // too many patterns is refused as well
  expect(() => grepArgs({ pattern: "a", include: Array(FIELD_LIMITS.patterns + 1).fill("*") }))
    .toThrow(/at most 1024 strings/);
  // and at the limit, nothing is refused
  expect(bashArgs({ command: "x".repeat(FIELD_LIMITS.command) }).command.length)
    .toBe(FIELD_LIMITS.command);
});

Deno.test("ids over their limit are refused at the edge; the request is answered when it can be", () => {
  const long = "i".repeat(FIELD_LIMITS.id + 1);
  const noId = decodeInbound(frame("task.request", { task_id: long, operation: "read" }));
  expect(noId).toMatchObject({ kind: "invalid", reply: undefined });
  const badTrace = decodeInbound(
    frame("task.request", { task_id: "t1", trace_id: long, operation: "read" }),
  );
  expect(badTrace).toMatchObject({ kind: "invalid", reply: { kind: "task", id: "t1" } });
  const badTool = decodeInbound(
    frame("mcp.call", { call_id: "c1", server: {}, tool_name: 42 }),
  );
  expect(badTool).toMatchObject({ kind: "invalid", reply: { kind: "mcp", id: "c1" } });
  const ok = decodeInbound(frame("task.request", { task_id: "t2", operation: "read", args: {} }));
  expect(ok).toEqual({
    kind: "task",
    request: { task_id: "t2", trace_id: "", operation: "read", args: {} },
  });
});

Deno.test("a 100 MiB command gets an error result; the runner keeps serving", async () => {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({
    url: sim.url,
    token: sim.token,
    config: `permission:\n  bash:\n    "*": allow\n`,
  });
  try {
    await sim.waitFor((e) => e.type === "heartbeat");
    const huge = await sim.request("bash", { command: "echo ".padEnd(100 * 1024 * 1024, "x") }, {
      timeoutMs: 120_000,
    });
    expect(huge.success).toBe(false);
    expect(huge.error).toMatch(
      /^invalid args for bash: `command` is 104857600 characters long; the limit is 1048576$/,
    );
    const after = await sim.request("bash", { command: "echo still here" });
    expect(after.success).toBe(true);
    expect((after.result as { stdout: string }).stdout).toBe("still here\n");
    expect(runner.logs()).not.toMatch(/out of memory|restarting/i);
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(runner.workspace, { recursive: true });
  }
});
