import type { RunnerConfig } from "./config.ts";
import { Connection } from "./wire/connection.ts";
import { Dispatcher } from "./tasks/dispatcher.ts";
import { environmentInfo, MetricsSampler } from "./wire/host_info.ts";
import { logger } from "./log.ts";
import { openServices } from "./tasks/services.ts";
import { compilePolicy, type Policy } from "./policy/mod.ts";
import type { RunSettings } from "./settings.ts";
import { dialer } from "./wire/transport.ts";
import { VERSION } from "./version.ts";
import { Workspace } from "./fs/workspace.ts";

const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Wires the parts together and runs until SIGINT/SIGTERM: connection ->
 * dispatcher -> operations -> results back through the connection.
 * Resolves with the process exit code.
 */
export async function runRunner(settings: RunSettings, config: RunnerConfig): Promise<number> {
  const log = logger("runner");
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
  const current: { policy: Policy } = { policy: compilePolicy(config) };
  const services = openServices({ log: logger("mcp") });
  const metrics = new MetricsSampler(workspace.root);

  const connection = new Connection({
    url: settings.url,
    token: settings.token,
    dial: dialer(settings.transport),
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
      metrics: await metrics.sample(),
    }),
  });
  const dispatcher = new Dispatcher({
    workspace,
    policy: () => current.policy,
    services,
    log: logger("task"),
    maxConcurrent: settings.maxConcurrent,
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
  connection.start();

  const stop = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => stop.resolve(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const signal = await stop.promise;
  log.info("{signal} received: finishing running tasks (up to {s} s)", {
    signal,
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
  log.info("stopped");
  return 0;
}
