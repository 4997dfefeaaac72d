import { openServices } from "../lib/tasks/services.ts";
import { compilePolicy } from "../lib/policy/mod.ts";
import { expect } from "./deps.ts";
import { Dispatcher } from "../lib/tasks/dispatcher.ts";
import { emptyConfig } from "../lib/config.ts";
import { logger } from "../lib/log.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import {
  decodeEnvelope,
  envelope,
  type McpResultPayload,
  type TaskOutputPayload,
  type TaskResultPayload,
} from "../lib/wire/protocol.ts";
import type { OperationHandler } from "../lib/tasks/context.ts";

/**
 * The real dispatcher with small test operations plugged into its registry
 * (the production operations are tested through the simulator elsewhere).
 */
async function setup(maxConcurrent = 2) {
  const dir = await Deno.makeTempDir();
  const workspace = await Workspace.open(dir);
  const results: TaskResultPayload[] = [];
  const mcp: McpResultPayload[] = [];
  const outputs: TaskOutputPayload[] = [];
  const order: string[] = [];
  let executions = 0;
  const gates = new Map<string, PromiseWithResolvers<void>>();
  const operations: Record<string, OperationHandler> = {
    // waits until released or aborted
    wait: async (args, ctx) => {
      executions++;
      const name = (args as { name: string }).name;
      order.push(`start:${name}`);
      const gate = Promise.withResolvers<void>();
      gates.set(name, gate);
      ctx.signal.addEventListener("abort", () => gate.reject(ctx.signal.reason));
      await gate.promise;
      order.push(`end:${name}`);
      return { name };
    },
    // waits until released without looking at its signal; then says what the signal says
    late: async (args, ctx) => {
      const name = (args as { name: string }).name;
      order.push(`start:${name}`);
      const gate = Promise.withResolvers<void>();
      gates.set(name, gate);
      await gate.promise;
      order.push(`aborted:${ctx.signal.aborted}`);
      return { name };
    },
    echo: async (args, ctx) => {
      executions++;
      ctx.output("stdout", "a");
      // passed on detached, as lib/bash/run.ts does: they must not need `ctx` as `this`
      const { output, outputRoom, allowedBy } = ctx;
      output("stdout", "b");
      output("stderr", "c");
      await outputRoom?.();
      allowedBy?.(["echo *"]);
      return { args };
    },
    fail: () => Promise.reject(new TaskError("it failed on purpose")),
    crash: () => Promise.reject(new RangeError("internal bug")),
    mcp_call: (args) => Promise.resolve({ content: JSON.stringify(args) }),
  };
  const d = new Dispatcher({
    workspace,
    policy: () => compilePolicy(emptyConfig()),
    services: openServices({ log: logger("test") }),
    log: logger("test"),
    maxConcurrent,
    operations,
    sink: {
      result: (p) => void results.push(p),
      mcpResult: (p) => void mcp.push(p),
      output: (p) => outputs.push(p),
    },
  });
  const task = (task_id: string, operation: string, args: unknown = {}, extra = {}) =>
    d.handle(inbound("task.request", { task_id, operation, args, ...extra }));
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    if (!cond()) throw new Error("condition never became true");
  };
  const release = (name: string) => gates.get(name)!.resolve();
  const cleanup = () => Deno.remove(dir, { recursive: true });
  return {
    d,
    results,
    mcp,
    outputs,
    order,
    task,
    until,
    release,
    cleanup,
    executions: () => executions,
  };
}

/** A frame as the connection hands it over: decoded once, at the edge. */
function inbound(type: string, payload: unknown) {
  return decodeEnvelope(envelope(type as "task.request", payload));
}

Deno.test("results echo source_instance_id and leave zero values out (omitempty)", async () => {
  const t = await setup();
  t.task("t1", "echo", { x: 1 }, { source_instance_id: "inst-9", trace_id: "tr" });
  t.task("t2", "fail");
  t.task("t3", "crash");
  await t.until(() => t.results.length === 3);
  expect(t.results.find((r) => r.task_id === "t1")).toEqual({
    task_id: "t1",
    source_instance_id: "inst-9",
    success: true,
    result: { args: { x: 1 } },
  });
  expect(t.results.find((r) => r.task_id === "t2")).toEqual({
    task_id: "t2",
    success: false,
    error: "it failed on purpose",
    exit_code: 1,
  });
  expect(t.results.find((r) => r.task_id === "t3")?.error).toBe("internal bug");
  await t.cleanup();
});

Deno.test("live output is coalesced and flushed before the result", async () => {
  const t = await setup();
  t.task("t1", "echo");
  await t.until(() => t.results.length === 1);
  expect(t.outputs).toEqual([
    { task_id: "t1", stream: "stdout", data: "ab" },
    { task_id: "t1", stream: "stderr", data: "c" },
  ]);
  await t.cleanup();
});

Deno.test("unknown operation, missing operation and missing task_id", async () => {
  const t = await setup();
  t.task("t1", "rm_everything");
  t.d.handle(inbound("task.request", { task_id: "t2" }));
  t.d.handle(inbound("task.request", { operation: "echo" }));
  t.d.handle(inbound("something.new" as "welcome", { a: 1 }));
  await t.until(() => t.results.length === 2);
  const error = (id: string) => t.results.find((r) => r.task_id === id)?.error;
  expect(error("t1")).toMatch(/^unknown operation "rm_everything" \(supported: /);
  expect(error("t2")).toMatch(/`operation` must be a non-empty string/);
  expect(t.executions()).toBe(0);
  await t.cleanup();
});

Deno.test("concurrency limit queues the rest in arrival order", async () => {
  const t = await setup(2);
  for (const n of ["a", "b", "c", "d"]) t.task(n, "wait", { name: n });
  await t.until(() => t.order.length === 2);
  expect(t.order).toEqual(["start:a", "start:b"]);
  expect(t.d.activeCount).toBe(4);
  t.release("a");
  await t.until(() => t.order.includes("start:c"));
  expect(t.order).not.toContain("start:d");
  t.release("b");
  await t.until(() => t.order.includes("start:d"));
  t.release("c");
  t.release("d");
  await t.until(() => t.results.length === 4);
  expect(t.results.map((r) => r.task_id)).toEqual(["a", "b", "c", "d"]);
  await t.cleanup();
});

Deno.test("task.cancel stops a running task and removes a queued one", async () => {
  const t = await setup(1);
  t.task("run", "wait", { name: "run" });
  t.task("queued", "wait", { name: "queued" });
  await t.until(() => t.order.length === 1);
  t.d.handle(inbound("task.cancel", { task_id: "queued" }));
  t.d.handle(inbound("task.cancel", { task_id: "run" }));
  t.d.handle(inbound("task.cancel", { task_id: "never-heard-of" }));
  await t.until(() => t.results.length === 2);
  expect(t.results.map((r) => [r.task_id, r.success, r.error])).toEqual([
    ["queued", false, "task cancelled"],
    ["run", false, "task cancelled"],
  ]);
  expect(t.order).toEqual(["start:run"]);
  await t.cleanup();
});

Deno.test("task.cancel reaches a task that had not looked at its signal yet (it is made on first use)", async () => {
  const t = await setup(1);
  t.task("late", "late", { name: "late" });
  t.task("plain", "late", { name: "plain" });
  await t.until(() => t.order.length === 1);
  t.d.handle(inbound("task.cancel", { task_id: "late" }));
  t.release("late");
  await t.until(() => t.order.length === 3);
  t.release("plain");
  await t.until(() => t.results.length === 2);
  expect(t.results.map((r) => [r.task_id, r.success, r.error])).toEqual([
    ["late", false, "task cancelled"],
    ["plain", true, undefined],
  ]);
  // the operation saw the cancel on its first look; the next task's signal is its own
  expect(t.order).toEqual(["start:late", "aborted:true", "start:plain", "aborted:false"]);
  await t.cleanup();
});

Deno.test("a re-sent task_id is answered, never executed twice", async () => {
  const t = await setup();
  t.task("dup", "wait", { name: "dup" }, { source_instance_id: "first" });
  t.task("dup", "wait", { name: "dup" }, { source_instance_id: "second" }); // while running
  await t.until(() => t.order.length === 1);
  t.release("dup");
  await t.until(() => t.results.length === 2);
  t.task("dup", "wait", { name: "dup" }); // after it finished
  await t.until(() => t.results.length === 3);
  expect(t.executions()).toBe(1);
  expect(t.results.map((r) => r.source_instance_id)).toEqual(["first", "second", undefined]);
  expect(t.results.every((r) => r.success && (r.result as { name: string }).name === "dup")).toBe(
    true,
  );
  await t.cleanup();
});

Deno.test("remembered results expire", async () => {
  const dir = await Deno.makeTempDir();
  let runs = 0;
  const results: TaskResultPayload[] = [];
  const d = new Dispatcher({
    workspace: await Workspace.open(dir),
    policy: () => compilePolicy(emptyConfig()),
    services: openServices({ log: logger("test") }),
    log: logger("test"),
    rememberMs: 0,
    operations: { count: () => Promise.resolve({ n: ++runs }) },
    sink: { result: (p) => void results.push(p), mcpResult: () => {}, output: () => {} },
  });
  d.handle(inbound("task.request", { task_id: "x", operation: "count" }));
  await new Promise((r) => setTimeout(r, 20));
  d.handle(inbound("task.request", { task_id: "x", operation: "count" }));
  await new Promise((r) => setTimeout(r, 20));
  expect(runs).toBe(2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mcp.call becomes an mcp_call and is answered with mcp.result", async () => {
  const t = await setup();
  t.d.handle(
    inbound("mcp.call", {
      call_id: "c1",
      server: { name: "s" },
      tool_name: "tool",
      arguments: { q: 1 },
    }),
  );
  await t.until(() => t.mcp.length === 1);
  expect(t.mcp[0]).toEqual({
    call_id: "c1",
    success: true,
    result: {
      content: JSON.stringify({ server: { name: "s" }, tool_name: "tool", args: { q: 1 } }),
    },
  });
  expect(t.results).toEqual([]);
  await t.cleanup();
});

Deno.test("drain waits for running tasks, refuses new ones, and cancels after the grace", async () => {
  const t = await setup(1);
  t.task("slow", "wait", { name: "slow" });
  t.task("queued", "wait", { name: "queued" });
  await t.until(() => t.order.length === 1);
  const drained = t.d.drain(50);
  t.task("late", "echo");
  await drained;
  const byId = Object.fromEntries(t.results.map((r) => [r.task_id, r.error]));
  expect(byId).toEqual({
    queued: "runner is shutting down",
    late: "runner is shutting down",
    slow: "task cancelled: runner is shutting down",
  });
  await t.cleanup();
});

Deno.test("drain lets a task that finishes within the grace succeed", async () => {
  const t = await setup(1);
  t.task("quick", "wait", { name: "quick" });
  await t.until(() => t.order.length === 1);
  const drained = t.d.drain(10_000);
  setTimeout(() => t.release("quick"), 30);
  await drained;
  expect(t.results).toEqual([{ task_id: "quick", success: true, result: { name: "quick" } }]);
  await t.cleanup();
});

/** A dispatcher whose sink holds each answer "in the outbox" until released. */
async function queuedSetup(
  opts: { resultBudgetBytes?: number; maxQueued?: number; maxConcurrent?: number } = {},
) {
  const dir = await Deno.makeTempDir();
  const results: TaskResultPayload[] = [];
  const held: (() => void)[] = [];
  let runs = 0;
  const gate = Promise.withResolvers<void>();
  const d = new Dispatcher({
    workspace: await Workspace.open(dir),
    policy: () => compilePolicy(emptyConfig()),
    services: openServices({ log: logger("test") }),
    log: logger("test"),
    ...opts,
    operations: {
      count: () => Promise.resolve({ n: ++runs, pad: "x".repeat(100) }),
      block: () => gate.promise.then(() => ({})),
    },
    sink: {
      result: (p) => {
        results.push(p);
        const settled = Promise.withResolvers<void>();
        held.push(settled.resolve);
        return { bytes: JSON.stringify(p).length, settled: settled.promise };
      },
      mcpResult: () => {},
      output: () => {},
    },
  });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    if (!cond()) throw new Error("condition never became true");
  };
  const send = (task_id: string, operation = "count") =>
    d.handle(inbound("task.request", { task_id, operation }));
  return {
    d,
    results,
    until,
    send,
    runs: () => runs,
    deliverAll: async () => {
      for (const r of held.splice(0)) r();
      await new Promise((r) => setTimeout(r, 10));
    },
    unblock: () => gate.resolve(),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("a re-send whose answer is still queued gets no second answer; once sent, it gets the same again", async () => {
  const t = await queuedSetup();
  t.send("q");
  await t.until(() => t.results.length === 1);
  t.send("q"); // the first answer has not left the outbox
  await new Promise((r) => setTimeout(r, 30));
  expect(t.results.length).toBe(1);
  await t.deliverAll();
  t.send("q"); // sent, maybe lost with the connection: answered again
  await t.until(() => t.results.length === 2);
  expect(t.results[1]).toEqual(t.results[0]);
  expect(t.runs()).toBe(1);
  await t.cleanup();
});

Deno.test("past the result budget a re-send gets `already ran`, never a second run", async () => {
  const t = await queuedSetup({ resultBudgetBytes: 400 });
  for (const id of ["a", "b", "c", "d", "e"]) t.send(id);
  await t.until(() => t.results.length === 5);
  await t.deliverAll();
  t.send("a"); // its answer was let go to stay within 400 bytes
  await t.until(() => t.results.length === 6);
  expect(t.results[5]).toMatchObject({ task_id: "a", success: false });
  expect(t.results[5].error).toMatch(
    /^a already ran \d+ s ago and is not run twice; its result \(\d+ bytes\) is no longer kept$/,
  );
  t.send("e"); // the newest is still kept
  await t.until(() => t.results.length === 7);
  expect(t.results[6].success).toBe(true);
  expect(t.runs()).toBe(5);
  await t.cleanup();
});

Deno.test("past the queue bound a request is answered `runner busy` at once", async () => {
  const t = await queuedSetup({ maxConcurrent: 1, maxQueued: 2 });
  t.send("run", "block");
  t.send("w1", "block");
  t.send("w2", "block");
  t.send("over", "block");
  await t.until(() => t.results.length === 1);
  expect(t.results[0]).toMatchObject({ task_id: "over", success: false });
  expect(t.results[0].error).toMatch(/^runner busy: 2 requests are already queued/);
  t.unblock();
  await t.until(() => t.results.length === 4);
  await t.cleanup();
});
