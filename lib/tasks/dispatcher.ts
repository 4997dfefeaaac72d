import { withDeadline } from "../async/deadline.ts";
import type { Logger } from "../deps.ts";
import type { Policy } from "../policy/mod.ts";
import { errorMessage, TaskError } from "./errors.ts";
import type { OperationContext, OperationHandler, Services } from "./context.ts";
import { OPERATIONS } from "../operations/mod.ts";
import { OutputCoalescer } from "./output_stream.ts";
import {
  type Inbound,
  type McpResultPayload,
  type TaskOutputPayload,
  taskResult,
  type TaskResultPayload,
} from "../wire/protocol.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { Redactor, RedactStream } from "../redact/redactor.ts";
import { ResultStore, type StoredResult } from "./result_store.ts";

/** An answer handed to the connection: its size, and when it left the outbox. */
export interface Delivery {
  bytes: number;
  settled: Promise<unknown>;
}

/**
 * Where the dispatcher's messages go: results reliably, live output
 * best-effort. A sink that returns nothing has delivered at once.
 */
export interface DispatchSink {
  result(payload: TaskResultPayload): Delivery | void;
  mcpResult(payload: McpResultPayload): Delivery | void;
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
  /** how long a finished task's id is remembered, whatever the count (default 10 minutes) */
  rememberMs?: number;
  /** bytes of remembered results kept to answer re-sends; past it the oldest keep only id and size */
  resultBudgetBytes?: number;
  /** requests waiting for a slot, at most; past it a request is answered `runner busy` at once */
  maxQueued?: number;
  operations?: Readonly<Record<string, OperationHandler>>;
  /**
   * Told once per task that ran or was refused, after its result went to the
   * sink (the audit log and the metrics listen here). Observers only read:
   * data flows one way, and an observer's error never reaches the task.
   */
  onTaskEnd?: (end: TaskEnd) => void;
  /**
   * Masks secrets in everything sent: streamed output (across chunk
   * boundaries) and results. Read when each task starts (a reload swaps it).
   */
  redactor?: () => Redactor;
}

export type Outcome = { success: true; result: unknown } | { success: false; error: string };

/** What `onTaskEnd` is told about a finished task. */
export interface TaskEnd {
  kind: "task" | "mcp";
  id: string;
  traceId: string;
  operation: string;
  args: unknown;
  outcome: Outcome;
  /** when it started running (epoch ms); undefined if it never ran (cancelled while queued) */
  startedAt?: number;
  durationMs: number;
  /** bytes of live output streamed plus bytes of the result's JSON */
  bytesOut: number;
  /** the rules that allowed what the operation started (bash), as it reported them */
  allowedBy: readonly string[];
}

interface Job {
  key: string;
  kind: "task" | "mcp";
  id: string;
  traceId: string;
  operation: string;
  args: unknown;
  /** made when the operation first reads its signal, or on a cancel (most tasks never need one) */
  controller?: AbortController;
  /** source_instance_id of every request for this id still waiting for an answer */
  waiting: (string | undefined)[];
  state: "queued" | "running";
  startedAt?: number;
  outputBytes: number;
  allowedBy: string[];
}

/** A finished request, remembered to answer a re-send without running it again. */
interface Remembered {
  at: number;
  /** the outcome, packed (ResultStore); dropped for the oldest to stay within the byte budget: id and size stay */
  stored?: StoredResult;
  bytes: number;
  /** its answer is still in the outbox: a re-send gets that one answer, not a second */
  queued: boolean;
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
  private readonly finished = new Map<string, Remembered>();
  private readonly results = new ResultStore();
  /** keys of remembered entries still holding their outcome, oldest first */
  private readonly kept: string[] = [];
  private keptHead = 0;
  private keptBytes = 0;
  private running = 0;
  private accepting = true;
  private idle?: () => void;
  private readonly maxConcurrent: number;
  private readonly rememberMs: number;
  private readonly resultBudgetBytes: number;
  private readonly maxQueued: number;
  private readonly operations: Readonly<Record<string, OperationHandler>>;

  constructor(private readonly opts: DispatcherOptions) {
    this.maxConcurrent = opts.maxConcurrent ?? 16;
    this.rememberMs = opts.rememberMs ?? 10 * 60 * 1000;
    this.resultBudgetBytes = opts.resultBudgetBytes ?? 64 * 1024 * 1024;
    this.maxQueued = opts.maxQueued ?? 10_000;
    this.operations = opts.operations ?? OPERATIONS;
  }

  get activeCount(): number {
    return this.running + this.queue.length;
  }

  /** Takes one decoded frame from the connection. Never throws. */
  handle(msg: Inbound): void {
    switch (msg.kind) {
      case "welcome": // the connection's business
        return;
      case "task": {
        const r = msg.request;
        this.submit({
          kind: "task",
          id: r.task_id,
          traceId: r.trace_id,
          sourceInstanceId: r.source_instance_id,
          operation: r.operation,
          args: r.args,
        });
        return;
      }
      case "mcp": {
        const c = msg.call;
        // An mcp.call is an mcp_call task in another envelope (docs/protocol.md).
        this.submit({
          kind: "mcp",
          id: c.call_id,
          traceId: "",
          operation: "mcp_call",
          args: { server: c.server, tool_name: c.tool_name, args: c.arguments },
        });
        return;
      }
      case "cancel":
        this.cancel(msg.task_id);
        return;
      case "unknown":
        this.opts.log.warn("ignored a message of unknown type {type}", { type: msg.type });
        return;
      case "invalid":
        if (!msg.reply) {
          this.opts.log.warn("dropped a malformed frame (nothing to answer to): {reason}", {
            reason: msg.reason,
          });
          return;
        }
        this.opts.log.warn("refused {id}: {reason}", { id: msg.reply.id, reason: msg.reason });
        this.answer(msg.reply.kind, msg.reply.id, msg.reply.source_instance_id, {
          success: false,
          error: msg.reason,
        });
        return;
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
      // a second asker (another instance) gets its own answer; the same one asking again does not
      if (!existing.waiting.includes(req.sourceInstanceId)) {
        existing.waiting.push(req.sourceInstanceId);
      }
      return;
    }
    const done = this.finished.get(key);
    if (done) {
      this.answerResend(req.kind, req.id, req.sourceInstanceId, done);
      return;
    }
    if (!this.accepting) {
      this.answer(req.kind, req.id, req.sourceInstanceId, { success: false, error: SHUTTING_DOWN });
      return;
    }
    if (this.running >= this.maxConcurrent && this.queue.length >= this.maxQueued) {
      this.opts.log.warn("runner busy: refused {id} ({n} requests queued)", {
        id: req.id,
        n: this.queue.length,
      });
      this.answer(req.kind, req.id, req.sourceInstanceId, {
        success: false,
        error: `runner busy: ${this.queue.length} requests are already queued; send it again later`,
      });
      return;
    }
    const job: Job = {
      key,
      kind: req.kind,
      id: req.id,
      traceId: req.traceId,
      operation: req.operation,
      args: req.args,
      waiting: [req.sourceInstanceId],
      state: "queued",
      outputBytes: 0,
      allowedBy: NO_RULES,
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
      controllerOf(job).abort(new TaskError(CANCELLED));
    }
  }

  private start(job: Job): void {
    job.state = "running";
    job.startedAt = Date.now();
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
    const handler = Object.hasOwn(this.operations, job.operation)
      ? this.operations[job.operation]
      : undefined;
    // the one redactor in force when the task starts
    const ctx = new TaskContext(job, this.opts, this.opts.policy(), this.opts.redactor?.());
    if (!handler) {
      const known = Object.keys(this.operations).join(", ");
      const error = `unknown operation ${JSON.stringify(job.operation)} (supported: ${known})`;
      ctx.log.warn("{error}", { error });
      return { success: false, error };
    }
    const info = this.opts.log.isEnabledFor("info");
    const started = info ? performance.now() : 0; // only an info line reads it
    if (info) ctx.log.info("task started");
    try {
      const result = await handler(job.args, ctx);
      ctx.flush();
      if (job.controller?.signal.aborted) throw job.controller.signal.reason;
      if (info) {
        ctx.log.info("task succeeded in {ms} ms", { ms: Math.round(performance.now() - started) });
      }
      return { success: true, result };
    } catch (err) {
      ctx.flush();
      const reason = job.controller?.signal.aborted ? job.controller.signal.reason : err;
      const error = errorMessage(reason);
      if (reason instanceof TaskError) ctx.log.info("task failed: {error}", { error });
      else {ctx.log.error("task failed unexpectedly: {error}", {
          error,
          stack: (reason as Error)?.stack,
        });}
      return { success: false, error };
    }
  }

  private finish(job: Job, raw: Outcome): void {
    // Redacted once, here: the result sent, the one kept for re-sent requests and the audit agree.
    const outcome = this.opts.redactor ? this.opts.redactor().redactDeep(raw) : raw;
    this.jobs.delete(job.key);
    // The observer (the audit log) runs before the answer goes out: the platform never sees a
    // result the audit log does not hold yet.
    if (this.opts.onTaskEnd) {
      try {
        this.opts.onTaskEnd({
          kind: job.kind,
          id: job.id,
          traceId: job.traceId,
          operation: job.operation,
          args: job.args,
          outcome,
          startedAt: job.startedAt,
          durationMs: job.startedAt === undefined ? 0 : Date.now() - job.startedAt,
          // counted only when an observer reads it (the audit log, metrics): it takes one
          // more JSON of the whole result, on every task of a runner that has neither
          get bytesOut() {
            return job.outputBytes + resultBytes(outcome);
          },
          allowedBy: job.allowedBy,
        });
      } catch (err) {
        this.opts.log.error("a task-end observer failed: {error}", { error: errorMessage(err) });
      }
    }
    const deliveries = job.waiting.map((sourceInstanceId) =>
      this.answer(job.kind, job.id, sourceInstanceId, outcome)
    );
    this.remember(job.key, outcome, deliveries);
  }

  /** Keeps the id (and, within the byte budget, the outcome) to answer a re-send. */
  private remember(key: string, outcome: Outcome, deliveries: (Delivery | void)[]): void {
    const pending = deliveries.filter((d): d is Delivery => d !== undefined);
    const bytes = pending[0]?.bytes ?? JSON.stringify(outcome).length;
    const entry: Remembered = {
      at: performance.now(),
      stored: this.results.put(outcome),
      bytes,
      queued: pending.length > 0,
    };
    const previous = this.finished.get(key);
    if (previous?.stored) this.keptBytes -= previous.bytes;
    this.finished.delete(key); // re-inserted: insertion order stays age order
    this.finished.set(key, entry);
    if (entry.queued) {
      // one delivery, nearly always: no Promise.all for it
      const settled = pending.length === 1
        ? pending[0].settled
        : Promise.all(pending.map((d) => d.settled));
      void settled.then(() => entry.queued = false);
    }
    if (entry.stored) {
      this.kept.push(key);
      this.keptBytes += bytes;
    }
    while (this.keptBytes > this.resultBudgetBytes && this.keptHead < this.kept.length) {
      const old = this.finished.get(this.kept[this.keptHead++]);
      if (old?.stored) {
        old.stored = undefined;
        this.keptBytes -= old.bytes;
      }
    }
    if (this.keptHead > 1024 && this.keptHead * 2 > this.kept.length) {
      this.kept.splice(0, this.keptHead);
      this.keptHead = 0;
    }
  }

  /** Tasks waiting for a free slot (the metrics' queue depth). */
  get queued(): number {
    return this.queue.length;
  }

  private answerResend(
    kind: "task" | "mcp",
    id: string,
    sourceInstanceId: string | undefined,
    done: Remembered,
  ): void {
    const log = this.opts.log;
    if (done.queued) {
      log.info("{id} finished; its answer is still queued and goes out once, not twice", { id });
      return;
    }
    if (done.stored) {
      log.info("{id} finished recently; answering with its result again", { id });
      this.answer(kind, id, sourceInstanceId, this.results.get(done.stored) as Outcome);
      return;
    }
    const ago = Math.round((performance.now() - done.at) / 1000);
    log.info("{id} finished {s} s ago; its result is no longer kept; not running it again", {
      id,
      s: ago,
    });
    this.answer(kind, id, sourceInstanceId, {
      success: false,
      error: `${id} already ran ${ago} s ago and is not run twice; its result ` +
        `(${done.bytes} bytes) is no longer kept`,
    });
  }

  private answer(
    kind: "task" | "mcp",
    id: string,
    sourceInstanceId: string | undefined,
    o: Outcome,
  ): Delivery | void {
    if (kind === "mcp") {
      return this.opts.sink.mcpResult(
        o.success
          ? { call_id: id, success: true, result: o.result }
          : { call_id: id, success: false, error: o.error },
      );
    }
    return this.opts.sink.result(taskResult(
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

  /** Forgets ids older than rememberMs, whatever their count (insertion order is age order). */
  private forgetOld(): void {
    const cutoff = performance.now() - this.rememberMs;
    for (const [key, old] of this.finished) {
      if (old.at >= cutoff) break;
      this.finished.delete(key);
      if (old.stored) this.keptBytes -= old.bytes;
      old.stored = undefined; // its key may still sit in `kept`; nothing is counted twice
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
    const graceOver = await withDeadline(idle.then(() => false), graceMs, () => true);
    if (!graceOver) return;
    this.opts.log.warn("{n} task(s) still running after {ms} ms; cancelling them", {
      n: this.running,
      ms: graceMs,
    });
    for (const job of this.jobs.values()) {
      controllerOf(job).abort(new TaskError(`${CANCELLED}: ${SHUTTING_DOWN}`));
    }
    // An operation that ignores its signal must not keep the process alive forever.
    const stuck = await withDeadline(idle.then(() => false), ABORT_WAIT_MS, () => true);
    if (stuck) {
      this.opts.log.error("{n} task(s) did not stop after cancel; exiting without their results", {
        n: this.running,
      });
    }
  }
}

/** The job's controller, made on first use. */
function controllerOf(job: Job): AbortController {
  return job.controller ??= new AbortController();
}

/** A job's `allowedBy` until an operation reports a rule (shared, never written). */
const NO_RULES: string[] = [];

/**
 * What an operation gets (OperationContext) for one task. A class rather
 * than an object of closures, and what a task does not use is not made:
 * the logger, the live output and the AbortController come on first use
 * (a read uses none of them).
 */
class TaskContext implements OperationContext {
  #log?: Logger;
  #out?: LiveOutput;

  constructor(
    private readonly job: Job,
    private readonly opts: DispatcherOptions,
    readonly policy: Policy,
    private readonly redactor: Redactor | undefined,
  ) {}

  get workspace(): Workspace {
    return this.opts.workspace;
  }

  get services(): Services {
    return this.opts.services;
  }

  get taskId(): string {
    return this.job.id;
  }

  get signal(): AbortSignal {
    return controllerOf(this.job).signal;
  }

  get log(): Logger {
    return this.#log ??= this.opts.log.with({
      task_id: this.job.id,
      trace_id: this.job.traceId,
      operation: this.job.operation,
    });
  }

  // The three callbacks are made on first use, bound: operations pass them on detached
  // (lib/bash/run.ts hands ctx.output to its captures).
  #output?: OperationContext["output"];
  #outputRoom?: NonNullable<OperationContext["outputRoom"]>;
  #allowedBy?: NonNullable<OperationContext["allowedBy"]>;

  get output(): OperationContext["output"] {
    return this.#output ??= (stream, data) => {
      this.job.outputBytes += utf8Length(data);
      this.#out ??= new LiveOutput(this.job.id, this.opts.sink, this.redactor);
      this.#out.write(stream, data);
    };
  }

  get outputRoom(): NonNullable<OperationContext["outputRoom"]> {
    return this.#outputRoom ??= (signal) =>
      this.opts.sink.outputRoom?.(signal ?? this.signal) ?? Promise.resolve();
  }

  get allowedBy(): NonNullable<OperationContext["allowedBy"]> {
    return this.#allowedBy ??= (rules) => {
      const job = this.job;
      for (const r of rules) {
        if (job.allowedBy.includes(r)) continue;
        if (job.allowedBy === NO_RULES) job.allowedBy = [];
        job.allowedBy.push(r);
      }
    };
  }

  /** the live output still held (redaction tails, coalesced chunks), sent */
  flush(): void {
    this.#out?.flush();
  }
}

/**
 * One task's live output: redacted per stream (across chunk boundaries) and
 * coalesced into `task.output` frames. Made on a task's first output.
 */
class LiveOutput {
  private readonly coalescer: OutputCoalescer;
  private readonly streams?: Record<"stdout" | "stderr", RedactStream>;

  constructor(taskId: string, sink: DispatchSink, redactor: Redactor | undefined) {
    this.coalescer = new OutputCoalescer(taskId, (p) => sink.output(p));
    if (redactor) this.streams = { stdout: redactor.stream(), stderr: redactor.stream() };
  }

  write(stream: "stdout" | "stderr", data: string): void {
    this.coalescer.write(stream, this.streams ? this.streams[stream].write(data) : data);
  }

  /** what the redacting streams still hold, then everything coalesced */
  flush(): void {
    if (this.streams) {
      this.coalescer.write("stdout", this.streams.stdout.end());
      this.coalescer.write("stderr", this.streams.stderr.end());
    }
    this.coalescer.flush();
  }
}

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  // ASCII, the common case, needs no encoding to count.
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}

function resultBytes(o: Outcome): number {
  try {
    return utf8Length(JSON.stringify(o.success ? o.result ?? null : o.error));
  } catch {
    return 0;
  }
}
