import { TaskError } from "../tasks/errors.ts";
import type { GrepJob, GrepReply } from "./grep_job.ts";

export type GrepOutcome = Extract<GrepReply, { ok: true }>;

export interface GrepRunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** the whole search's budget, when the caller spent some of it already (for the message) */
  budgetMs?: number;
}

/** What a grep that ran out of time says. */
export function grepTimedOut(budgetMs: number): string {
  return `grep timed out after ${budgetMs / 1000} s and was stopped: there is too much ` +
    `to search; narrow it with include or a more specific pattern`;
}

/**
 * The Web Workers grep matches in, kept for reuse: starting one costs about
 * 0.3 s (it loads lib/deps.ts), a search on a warm one a few milliseconds.
 * A search runs on an idle worker (or a new one); on timeout or cancel the
 * caller gets its error at once and the worker's stop flag is raised. The
 * worker checks that flag before every line and comes back idle; one that
 * does not come back within `graceMs` is terminated and dropped.
 */
export class GrepWorkers {
  #idle: Worker[] = [];
  #busy = new Set<Worker>();
  #closed = false;

  constructor(readonly maxIdle = 2, readonly graceMs = 10_000) {}

  /** workers waiting for a job (for tests and metrics) */
  get idleCount(): number {
    return this.#idle.length;
  }

  run(job: Omit<GrepJob, "stop">, opts: GrepRunOptions): Promise<GrepOutcome> {
    const { signal, timeoutMs } = opts;
    if (signal?.aborted) return Promise.reject(new TaskError("grep cancelled"));
    if (this.#closed) return Promise.reject(new TaskError("grep is shut down"));
    const worker = this.#idle.pop() ?? spawn();
    this.#busy.add(worker);
    const stop = new SharedArrayBuffer(4);
    return new Promise<GrepOutcome>((resolve, reject) => {
      let settled = false;
      let grace: ReturnType<typeof setTimeout> | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const halt = (err: TaskError) => {
        Atomics.store(new Int32Array(stop), 0, 1);
        settle(() => reject(err));
        const drop = setTimeout(() => this.#drop(worker), this.graceMs);
        Deno.unrefTimer(drop); // a stuck worker must not hold the process open
        grace = drop;
      };
      const onAbort = () => halt(new TaskError("grep cancelled"));
      const timer = setTimeout(
        () => halt(new TaskError(grepTimedOut(opts.budgetMs ?? timeoutMs))),
        timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.onmessage = (e: MessageEvent<GrepReply>) => {
        clearTimeout(grace);
        this.#release(worker); // it answered, so it is idle again
        const reply = e.data;
        settle(() => {
          if (reply.ok) resolve(reply);
          else {reject(
              new TaskError("error" in reply ? `grep failed: ${reply.error}` : "grep stopped"),
            );}
        });
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        clearTimeout(grace);
        this.#drop(worker);
        settle(() => reject(new TaskError(`grep failed: ${e.message}`)));
      };
      worker.postMessage({ ...job, stop });
    });
  }

  /** Terminates every worker; later runs are refused. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  /** Terminates every worker; later runs are refused. */
  closeAll(): Promise<void> {
    this.#closed = true;
    for (const w of [...this.#idle, ...this.#busy]) w.terminate();
    this.#idle = [];
    this.#busy.clear();
    return Promise.resolve();
  }

  #release(worker: Worker): void {
    this.#busy.delete(worker);
    worker.onmessage = null;
    worker.onerror = null;
    if (!this.#closed && this.#idle.length < this.maxIdle) this.#idle.push(worker);
    else worker.terminate();
  }

  #drop(worker: Worker): void {
    this.#busy.delete(worker);
    this.#idle = this.#idle.filter((w) => w !== worker);
    worker.terminate();
  }
}

function spawn(): Worker {
  return new Worker(new URL("./grep_worker.ts", import.meta.url).href, { type: "module" });
}

/**
 * Loads the worker's module graph once and stops it. Run before the kernel
 * layer confines the runner: a runner started from a URL caches a lazily
 * loaded module in Deno's cache on first use, a write the kernel refuses
 * once confined (lib/sandbox/supervisor.ts).
 */
export function preloadGrepWorker(timeoutMs = 60_000): Promise<void> {
  const worker = spawn();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      worker.terminate();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    worker.onmessage = done; // a null job answers with an error: the graph is loaded
    worker.onerror = (e) => {
      e.preventDefault();
      done();
    };
    worker.postMessage(null);
  });
}
