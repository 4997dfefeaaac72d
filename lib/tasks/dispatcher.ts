import type { Logger } from "../deps.ts";
import type { Policy } from "../policy/mod.ts";
import { errorMessage, TaskError } from "./errors.ts";
import type { OperationContext, OperationHandler, Services } from "./context.ts";
import { OPERATIONS } from "../operations/mod.ts";
import { OutputCoalescer } from "./output_stream.ts";
import {
  type Envelope,
  type McpResultPayload,
  type TaskOutputPayload,
  taskResult,
  type TaskResultPayload,
} from "../wire/protocol.ts";
import type { Workspace } from "../fs/workspace.ts";

/** Where the dispatcher's messages go: results reliably, live output best-effort. */
export interface DispatchSink {
  result(payload: TaskResultPayload): void;
  mcpResult(payload: McpResultPayload): void;
  output(payload: TaskOutputPayload): void;
  /** resolves when more live output may be sent (backpressure); absent: at once */
  outputRoom?(signal?: AbortSignal): Promise<void>;
}

export interface DispatcherOptions {
  workspace: Workspace;
  /** the current compiled policy; read when each task starts (a reload swaps what it returns) */
  policy: () => Policy;
  services: Services;
  log: Logger;
  sink: DispatchSink;
  maxConcurrent?: number;
  /** how long a finished task's result is kept to answer a re-sent request */
  rememberMs?: number;
  operations?: Readonly<Record<string, OperationHandler>>;
}

type Outcome = { success: true; result: unknown } | { success: false; error: string };

interface Job {
  key: string;
  kind: "task" | "mcp";
  id: string;
  traceId: string;
  operation: string;
  args: unknown;
  controller: AbortController;
  /** source_instance_id of every request for this id still waiting for an answer */
  waiting: (string | undefined)[];
  state: "queued" | "running";
}

const CANCELLED = "task cancelled";
const SHUTTING_DOWN = "runner is shutting down";
const ABORT_WAIT_MS = 10_000;

/**
 * Runs `task.request` and `mcp.call` messages concurrently up to a limit
 * (the rest queue in arrival order), cancels them on `task.cancel`, and makes
 * sure every request gets exactly one answer. A re-sent request for a task
 * that is running or finished recently is answered, never executed twice.
 */
export class Dispatcher {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly finished = new Map<string, { outcome: Outcome; at: number }>();
  private running = 0;
  private accepting = true;
  private idle?: () => void;
  private readonly maxConcurrent: number;
  private readonly rememberMs: number;
  private readonly operations: Readonly<Record<string, OperationHandler>>;

  constructor(private readonly opts: DispatcherOptions) {
    this.maxConcurrent = opts.maxConcurrent ?? 16;
    this.rememberMs = opts.rememberMs ?? 10 * 60 * 1000;
    this.operations = opts.operations ?? OPERATIONS;
  }

  get activeCount(): number {
    return this.running + this.queue.length;
  }

  /** Takes one parsed frame from the connection. Never throws. */
  handle(env: Envelope<Record<string, unknown>>): void {
    const p = env.payload;
    switch (env.type) {
      case "task.request":
        if (typeof p.task_id !== "string" || p.task_id === "") {
          this.opts.log.warn("dropped a task.request without a task_id (nothing to answer to)");
          return;
        }
        this.submit({
          kind: "task",
          id: p.task_id,
          traceId: typeof p.trace_id === "string" ? p.trace_id : "",
          sourceInstanceId: typeof p.source_instance_id === "string"
            ? p.source_instance_id
            : undefined,
          operation: typeof p.operation === "string" ? p.operation : "",
          args: p.args,
        });
        return;
      case "mcp.call":
        if (typeof p.call_id !== "string" || p.call_id === "") {
          this.opts.log.warn("dropped an mcp.call without a call_id (nothing to answer to)");
          return;
        }
        // An mcp.call is an mcp_call task in another envelope (docs/protocol.md).
        this.submit({
          kind: "mcp",
          id: p.call_id,
          traceId: "",
          operation: "mcp_call",
          args: { server: p.server, tool_name: p.tool_name, args: p.arguments ?? {} },
        });
        return;
      case "task.cancel":
        if (typeof p.task_id === "string") this.cancel(p.task_id);
        return;
      default:
        this.opts.log.warn("ignored a message of unknown type {type}", { type: env.type });
    }
  }

  private submit(req: {
    kind: "task" | "mcp";
    id: string;
    traceId: string;
    sourceInstanceId?: string;
    operation: string;
    args: unknown;
  }): void {
    const key = `${req.kind}:${req.id}`;
    this.forgetOld();
    const existing = this.jobs.get(key);
    if (existing) {
      this.opts.log.info("{id} is already {state}; it will be answered once, not run twice", {
        id: req.id,
        state: existing.state,
      });
      existing.waiting.push(req.sourceInstanceId);
      return;
    }
    const done = this.finished.get(key);
    if (done) {
      this.opts.log.info("{id} finished recently; answering with its result again", { id: req.id });
      this.answer(req.kind, req.id, req.sourceInstanceId, done.outcome);
      return;
    }
    if (!this.accepting) {
      this.answer(req.kind, req.id, req.sourceInstanceId, { success: false, error: SHUTTING_DOWN });
      return;
    }
    const job: Job = {
      key,
      kind: req.kind,
      id: req.id,
      traceId: req.traceId,
      operation: req.operation,
      args: req.args,
      controller: new AbortController(),
      waiting: [req.sourceInstanceId],
      state: "queued",
    };
    this.jobs.set(key, job);
    if (this.running < this.maxConcurrent) this.start(job);
    else this.queue.push(job);
  }

  cancel(taskId: string): void {
    const job = this.jobs.get(`task:${taskId}`) ?? this.jobs.get(`mcp:${taskId}`);
    if (!job) {
      this.opts.log.debug("cancel for {task_id}, which is not running", { task_id: taskId });
      return;
    }
    this.opts.log.info("cancelling {task_id}", { task_id: taskId });
    if (job.state === "queued") {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.finish(job, { success: false, error: CANCELLED });
    } else {
      job.controller.abort(new TaskError(CANCELLED));
    }
  }

  private start(job: Job): void {
    job.state = "running";
    this.running++;
    void this.execute(job).then((outcome) => {
      this.running--;
      this.finish(job, outcome);
      const next = this.queue.shift();
      if (next) this.start(next);
      else if (this.running === 0) this.idle?.();
    });
  }

  private async execute(job: Job): Promise<Outcome> {
    const log = this.opts.log.with({
      task_id: job.id,
      trace_id: job.traceId,
      operation: job.operation,
    });
    const handler = Object.hasOwn(this.operations, job.operation)
      ? this.operations[job.operation]
      : undefined;
    if (!handler) {
      const known = Object.keys(this.operations).join(", ");
      const error = job.operation === ""
        ? `invalid task.request: \`operation\` must be a non-empty string (supported: ${known})`
        : `unknown operation ${JSON.stringify(job.operation)} (supported: ${known})`;
      log.warn(error);
      return { success: false, error };
    }
    const coalescer = new OutputCoalescer(job.id, (p) => this.opts.sink.output(p));
    const ctx: OperationContext = {
      workspace: this.opts.workspace,
      policy: this.opts.policy(),
      signal: job.controller.signal,
      log,
      taskId: job.id,
      output: (stream, data) => coalescer.write(stream, data),
      outputRoom: (signal) =>
        this.opts.sink.outputRoom?.(signal ?? job.controller.signal) ?? Promise.resolve(),
      services: this.opts.services,
    };
    const started = performance.now();
    log.info("task started");
    try {
      const result = await handler(job.args, ctx);
      coalescer.flush();
      if (job.controller.signal.aborted) throw job.controller.signal.reason;
      log.info("task succeeded in {ms} ms", { ms: Math.round(performance.now() - started) });
      return { success: true, result };
    } catch (err) {
      coalescer.flush();
      const reason = job.controller.signal.aborted ? job.controller.signal.reason : err;
      const error = errorMessage(reason);
      if (reason instanceof TaskError) log.info("task failed: {error}", { error });
      else {log.error("task failed unexpectedly: {error}", {
          error,
          stack: (reason as Error)?.stack,
        });}
      return { success: false, error };
    }
  }

  private finish(job: Job, outcome: Outcome): void {
    this.jobs.delete(job.key);
    this.finished.set(job.key, { outcome, at: Date.now() });
    for (const sourceInstanceId of job.waiting) {
      this.answer(job.kind, job.id, sourceInstanceId, outcome);
    }
  }

  private answer(
    kind: "task" | "mcp",
    id: string,
    sourceInstanceId: string | undefined,
    o: Outcome,
  ) {
    if (kind === "mcp") {
      this.opts.sink.mcpResult(
        o.success
          ? { call_id: id, success: true, result: o.result }
          : { call_id: id, success: false, error: o.error },
      );
      return;
    }
    this.opts.sink.result(taskResult(
      o.success
        ? { task_id: id, source_instance_id: sourceInstanceId, success: true, result: o.result }
        : {
          task_id: id,
          source_instance_id: sourceInstanceId,
          success: false,
          error: o.error,
          exit_code: 1,
        },
    ));
  }

  private forgetOld(): void {
    const cutoff = Date.now() - this.rememberMs;
    for (const [key, { at }] of this.finished) {
      if (at >= cutoff && this.finished.size <= 10_000) break; // insertion order = age order
      this.finished.delete(key);
    }
  }

  /**
   * Graceful shutdown: new requests are answered "shutting down", running
   * tasks get `graceMs` to finish, then are cancelled; resolves when every
   * task has produced its result.
   */
  async drain(graceMs: number): Promise<void> {
    this.accepting = false;
    for (const job of this.queue.splice(0)) {
      this.finish(job, { success: false, error: SHUTTING_DOWN });
    }
    if (this.running === 0) return;
    const idle = new Promise<void>((r) => this.idle = r);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), graceMs)),
    ]);
    clearTimeout(timer);
    if (!graceOver) return;
    this.opts.log.warn("{n} task(s) still running after {ms} ms; cancelling them", {
      n: this.running,
      ms: graceMs,
    });
    for (const job of this.jobs.values()) {
      job.controller.abort(new TaskError(`${CANCELLED}: ${SHUTTING_DOWN}`));
    }
    // An operation that ignores its signal must not keep the process alive forever.
    const stuck = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), ABORT_WAIT_MS)),
    ]);
    clearTimeout(timer);
    if (stuck) {
      this.opts.log.error("{n} task(s) did not stop after cancel; exiting without their results", {
        n: this.running,
      });
    }
  }
}
