import type { RunnerConfig } from "./config.ts";
import { Connection } from "./wire/connection.ts";
import { Dispatcher } from "./tasks/dispatcher.ts";
import { environmentInfo, MetricsSampler } from "./wire/host_info.ts";
import { logger } from "./log.ts";
import { openServices } from "./tasks/services.ts";
import { compilePolicy } from "./policy/mod.ts";
import { type RunSettings, UsageError } from "./settings.ts";
import { osReason } from "./ops/startup_check.ts";
import { VERSION } from "./ops/version.ts";
import { Workspace } from "./fs/workspace.ts";
import { listenForReload, type PolicyHolder, reloadConfig } from "./ops/reload.ts";
import type { Redactor } from "./redact/redactor.ts";
import { runnerRedactor } from "./redact/runner_redactor.ts";
import { platformDialer } from "./wire/platform_dial.ts";
import { startSystemdNotify } from "./ops/sd_notify.ts";
import { AuditLog } from "./ops/audit_log.ts";
import { setLogRedactor } from "./log.ts";
import { type MetricsServer, RunnerMetrics, serveMetrics } from "./ops/metrics.ts";
import { sandboxMode } from "./sandbox/supervised.ts";
import type { KernelLayerOnReload } from "./sandbox/kernel_reload.ts";
import { operatorGrants } from "./ops/grants.ts";
import { probeLandlock } from "./sandbox/landlock.ts";
import { freezeChildEnv } from "./proc/child_env.ts";

const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Wires the parts together and runs until SIGINT/SIGTERM: connection ->
 * dispatcher -> operations -> results back through the connection.
 * Resolves with the process exit code.
 */
export async function runRunner(settings: RunSettings, config: RunnerConfig): Promise<number> {
  const log = logger("runner");
  // Start-up has settled the environment (the token is out of it): what programs inherit is taken once.
  freezeChildEnv();
  const workspace = await Workspace.open(settings.workspace);
  if (workspace.fs.kind === "path") {
    log.warn(
      "workspace files are opened by path (no glibc or no --allow-ffi for it): a symlink " +
        "swapped in while a task runs can be followed (docs/file-safety.md)",
    );
  } else {log.info("workspace files are opened through descriptors ({kind})", {
      kind: workspace.fs.kind,
    });}
  // Compiled once here. `current.policy` is the one place the current policy
  // lives: a reload assigns a new compiled object; tasks started after it see it.
  const current: PolicyHolder & { redactor: Redactor } = {
    policy: compilePolicy(config),
    config,
    redactor: runnerRedactor(settings, config),
  };
  setLogRedactor((line) => current.redactor.redact(line));
  const audit = settings.auditLog &&
    AuditLog.open({ ...settings.auditLog, redact: (line) => current.redactor.redact(line) });
  const services = openServices({ log: logger("mcp") });
  const sampler = new MetricsSampler(workspace.root);

  // The kernel layer our supervisor applied, derived again from the start config the
  // same way (lib/sandbox/supervisor.ts kernelLayer) on the first reload: a reload
  // narrows it further, or says what it cannot widen to (lib/sandbox/kernel_reload.ts).
  const kernelOnReload = sandboxMode() === "sandboxed" && (config.sandbox ?? "auto") !== "off" &&
    probeLandlock().available;
  let kernel: KernelLayerOnReload | undefined;

  const systemd = startSystemdNotify();
  // the connection cannot go on in this process: the runner stops and exits 1, and its
  // supervisor (or the service manager) starts a fresh one
  const exhausted = Promise.withResolvers<"exhausted">();
  const connection = new Connection({
    onWelcomed: () => systemd.ready(),
    onExhausted: () => exhausted.resolve("exhausted"),
    url: settings.url,
    token: settings.token,
    dial: await platformDialer(settings),
    log: logger("connection"),
    maxFrameBytes: settings.maxFrameBytes,
    pingIntervalMs: settings.pingIntervalMs,
    // frames only arrive after start(), by which time the dispatcher exists
    onMessage: (env) => dispatcher.handle(env),
    heartbeat: async (identity, first) => ({
      worknode_id: identity.worknode_id,
      name: identity.name,
      labels: identity.labels,
      version: VERSION,
      ...(first ? { environment: environmentInfo(workspace.root) } : {}),
      metrics: await sampler.sample(),
    }),
  });
  const dispatcher = new Dispatcher({
    workspace,
    policy: () => current.policy,
    services,
    log: logger("task"),
    maxConcurrent: settings.maxConcurrent,
    redactor: () => current.redactor,
    onTaskEnd: (end) => {
      audit?.write(end);
      metrics?.taskEnded(end);
    },
    sink: {
      result: (p) => connection.deliver("task.result", p),
      mcpResult: (p) => connection.deliver("mcp.result", p),
      output: (p) => connection.sendNow("task.output", p),
      outputRoom: (signal) => connection.outputRoom(signal),
    },
  });

  log.info("flashduty-runner {version} starting; workspace {workspace}; {rules} bash rule(s)", {
    version: VERSION,
    workspace: workspace.root,
    rules: config.permission.bash.length,
  });
  let metrics: RunnerMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  if (settings.metricsAddr) {
    const sources = {
      running: () => dispatcher.activeCount - dispatcher.queued,
      queued: () => dispatcher.queued,
      outboxSize: () => connection.outbox.size,
      connected: () => connection.connected,
      welcomed: () => connection.welcomed,
      connects: () => connection.connects,
    };
    metrics = await RunnerMetrics.create(sources);
    try {
      metricsServer = await serveMetrics(metrics, sources, settings.metricsAddr);
    } catch (err) {
      const { hostname, port } = settings.metricsAddr;
      throw new UsageError(
        `invalid --metrics-addr ${hostname}:${port}: cannot listen: ${osReason(err)}`,
      );
    }
    log.info("metrics on http://{addr}/metrics (/readyz, /healthz)", {
      addr: `${settings.metricsAddr.hostname}:${metricsServer.addr.port}`,
    });
  }
  if (!config.path) {
    log.warn("no config file (--config): every command is denied; see docs/security-model.md");
  }
  connection.start();
  // What only a reload needs (the permission and kernel-rule derivations) loads on the
  // first SIGHUP, not at start (start-up time, docs/benchmarks.md).
  const loadSandboxGaps = async (): Promise<(next: RunnerConfig) => string[]> => {
    const [{ missingGrants, sandboxInput }, { derivePermissions }, { deriveKernelRules }] =
      await Promise.all([
        import("./sandbox/supervisor.ts"),
        import("./sandbox/permissions.ts"),
        import("./sandbox/landlock_rules.ts"),
      ]);
    if (kernelOnReload && !kernel) {
      const { KernelLayerOnReload } = await import("./sandbox/kernel_reload.ts");
      kernel = new KernelLayerOnReload(
        config,
        (c) =>
          deriveKernelRules({
            config: c,
            workspace: settings.workspace,
            operatorFiles: operatorGrants(settings).write,
          }),
        logger("reload"),
      );
    }
    return (next) => [
      ...missingGrants(derivePermissions(sandboxInput({
        config: next,
        configPath: next.path,
        workspace: settings.workspace,
        platformUrl: settings.url,
      }))),
      // called on the main thread (a signal listener), which starts every program
      ...(kernel?.reload(next) ?? []),
    ];
  };
  const stopReload = listenForReload(async () => {
    let sandboxGaps: (next: RunnerConfig) => string[];
    try {
      sandboxGaps = await loadSandboxGaps();
    } catch (err) {
      // a reload never throws: the runner goes on with the rules it has
      logger("reload").error("SIGHUP: config reload failed; keeping the old rules: {error}", {
        error: (err as Error).message,
      });
      return false;
    }
    return await reloadConfig({
      holder: current,
      path: config.path,
      log: logger("reload"),
      onReloaded: (next) => current.redactor = runnerRedactor(settings, next),
      sandboxGaps,
    });
  });

  const stop = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => stop.resolve(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const signal = await Promise.race([stop.promise, exhausted.promise]);
  stopReload();
  systemd.stop();
  log.info("{signal}: finishing running tasks (up to {s} s)", {
    signal: signal === "exhausted"
      ? "the connection cannot go on in this process"
      : `${signal} received`,
    s: SHUTDOWN_GRACE_MS / 1000,
  });
  // A second signal while draining means "now".
  for (const [sig, h] of handlers) {
    Deno.removeSignalListener(sig, h);
    Deno.addSignalListener(sig, () => Deno.exit(130));
  }
  await dispatcher.drain(SHUTDOWN_GRACE_MS);
  if (connection.connected) await connection.drained(5000);
  await connection.stop();
  await services[Symbol.asyncDispose]();
  audit?.close();
  await metricsServer?.close();
  log.info("stopped");
  return signal === "exhausted" ? 1 : 0;
}
