/**
 * `--metrics-addr HOST:PORT` (off by default; loopback when the host is
 * omitted): Prometheus `/metrics`, `/readyz` (200 only while connected and
 * welcomed by the platform) and `/healthz` (200 while the process serves).
 *
 * Counters are fed by the dispatcher's onTaskEnd (data flows one way);
 * gauges (queue depth, outbox size, connected, reconnects) are read from
 * their owners when scraped, so nothing is kept twice.
 */
import type { TaskEnd } from "../tasks/dispatcher.ts";
import { auditRecord } from "./audit_log.ts";
import { VERSION } from "./version.ts";

/** What the gauges read at scrape time. */
export interface MetricsSources {
  running(): number;
  queued(): number;
  outboxSize(): number;
  connected(): boolean;
  welcomed(): boolean;
  /** connections made so far: reconnects are this minus one */
  connects(): number;
}

type Prom = typeof import("../deps/metrics.ts");

export class RunnerMetrics {
  readonly registry: InstanceType<Prom["Registry"]>;
  private readonly tasks: InstanceType<Prom["Counter"]>;
  private readonly denials: InstanceType<Prom["Counter"]>;
  private readonly duration: InstanceType<Prom["Histogram"]>;

  /** Loads the Prometheus client (only a runner with --metrics-addr does). */
  static async create(sources: MetricsSources): Promise<RunnerMetrics> {
    return new RunnerMetrics(await import("../deps/metrics.ts"), sources);
  }

  private constructor(prom: Prom, sources: MetricsSources) {
    const { Counter: PromCounter, Gauge: PromGauge, Histogram: PromHistogram } = prom;
    this.registry = new prom.Registry();
    const registers = [this.registry];
    this.tasks = new PromCounter({
      name: "flashduty_runner_tasks_total",
      help: "Tasks finished, by operation and outcome (success, failure, denied).",
      labelNames: ["operation", "outcome"],
      registers,
    });
    this.denials = new PromCounter({
      name: "flashduty_runner_denials_total",
      help: "Tasks refused, by the rule that decided (or the built-in check).",
      labelNames: ["operation", "rule"],
      registers,
    });
    this.duration = new PromHistogram({
      name: "flashduty_runner_task_duration_seconds",
      help: "How long tasks ran, by operation.",
      labelNames: ["operation"],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new PromGauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge("flashduty_runner_tasks_running", "Tasks running now.", sources.running);
    gauge("flashduty_runner_tasks_queued", "Tasks waiting for a free slot.", sources.queued);
    gauge(
      "flashduty_runner_outbox_messages",
      "Results waiting for the connection to deliver them.",
      sources.outboxSize,
    );
    gauge(
      "flashduty_runner_connected",
      "1 while connected to the platform and welcomed, else 0.",
      () => sources.connected() && sources.welcomed() ? 1 : 0,
    );
    // A counter whose value lives in the connection: read when scraped.
    new PromCounter({
      name: "flashduty_runner_reconnects_total",
      help: "Connections made after the first one.",
      registers,
      collect() {
        this.reset();
        this.inc(Math.max(0, sources.connects() - 1));
      },
    });
    new PromGauge({
      name: "flashduty_runner_build_info",
      help: "Always 1; the labels say which runner this is.",
      labelNames: ["version"],
      registers,
    }).set({ version: VERSION }, 1);
  }

  /** The dispatcher's onTaskEnd. */
  taskEnded(end: TaskEnd): void {
    const { decision, rule } = auditRecord(end);
    const outcome = decision === "allowed"
      ? "success"
      : decision === "denied"
      ? "denied"
      : "failure";
    const operation = end.operation || "(none)";
    this.tasks.inc({ operation, outcome });
    if (decision === "denied") this.denials.inc({ operation, rule: rule ?? "" });
    if (end.startedAt !== undefined) this.duration.observe({ operation }, end.durationMs / 1000);
  }
}

export interface MetricsServer {
  addr: { hostname: string; port: number };
  close(): Promise<void>;
}

/** Serves /metrics, /readyz and /healthz; resolves once listening. */
export async function serveMetrics(
  metrics: RunnerMetrics,
  sources: Pick<MetricsSources, "connected" | "welcomed">,
  addr: { hostname: string; port: number },
): Promise<MetricsServer> {
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    onListen: () => listening.resolve(),
    onError: () => new Response("internal error\n", { status: 500 }),
  }, async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    switch (new URL(req.url).pathname) {
      case "/metrics":
        return new Response(await metrics.registry.metrics(), {
          headers: { "content-type": metrics.registry.contentType },
        });
      case "/readyz": {
        const ready = sources.connected() && sources.welcomed();
        return new Response(ready ? "ready\n" : "not connected to the platform\n", {
          status: ready ? 200 : 503,
        });
      }
      case "/healthz":
        return new Response("ok\n");
      default:
        return new Response("not found: try /metrics, /readyz or /healthz\n", { status: 404 });
    }
  });
  await listening.promise;
  return {
    addr: { hostname: server.addr.hostname, port: server.addr.port },
    close: () => server.shutdown(),
  };
}
