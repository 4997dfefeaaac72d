/**
 * SIGHUP reloads the config file's rules: the file is read and compiled
 * again, and the new policy replaces the old one for tasks started after
 * it (a running task keeps the policy it started with). A file that does
 * not read or compile keeps the old rules; the log line says file:line.
 * Logged either way.
 *
 * Only the rules are reloaded. Settings fixed at start (token, URL,
 * workspace, concurrency) and the sandbox's Deno permissions (fixed when
 * the process started) need a restart; a reload that would need them says
 * so at warn.
 */
import type { Logger } from "../deps.ts";
import type { RunnerConfig } from "../config.ts";
import { compilePolicy, type Policy } from "../policy/mod.ts";

/** What a reload swaps: the one place the current rules live (lib/runner.ts). */
export interface PolicyHolder {
  policy: Policy;
  config: RunnerConfig;
}

/** Settings a reload does not apply, by config key. */
const FIXED_AT_START: (keyof RunnerConfig)[] = [
  "token",
  "url",
  "workspace",
  "logLevel",
  "name",
  "labels",
  "maxConcurrentTasks",
];

export interface ReloadOptions {
  holder: PolicyHolder;
  /** the config file; none means nothing to reload */
  path: string | undefined;
  log: Logger;
  /** extra work after a successful swap (e.g. the redaction values); its errors are logged */
  onReloaded?: (config: RunnerConfig) => void;
  /**
   * Applies the new rules to the sandbox layers as far as a running process
   * can (the kernel layer narrows, never widens); returns what the layers
   * (Deno's permissions, the kernel's domain) cannot grant until a restart.
   */
  sandboxGaps?: (config: RunnerConfig) => string[];
}

/** Reads and compiles the file; swaps the policy when both succeed. Never throws. */
export async function reloadConfig(opts: ReloadOptions): Promise<boolean> {
  const { holder, path, log } = opts;
  if (!path) {
    log.warn("SIGHUP: no config file was given (--config); nothing to reload, rules unchanged");
    return false;
  }
  let config: RunnerConfig;
  let policy: Policy;
  try {
    // The YAML parser loads here, on the first reload: the supervised runner
    // child got its config already parsed (lib/sandbox/handoff.ts).
    const { loadConfig } = await import("../config.ts");
    config = await loadConfig(path);
    policy = compilePolicy(config);
  } catch (err) {
    log.error("SIGHUP: config reload failed; keeping the old rules: {error}", {
      error: (err as Error).message,
    });
    return false;
  }
  const before = holder.config;
  holder.config = config;
  holder.policy = policy;
  log.info(
    "SIGHUP: config reloaded from {path}: {bash} bash rule(s), {webfetch} webfetch rule(s); " +
      "tasks started from now on use them",
    {
      path,
      bash: config.permission.bash.length,
      webfetch: config.permission.webfetch?.length ?? "built-in",
    },
  );
  const changed = FIXED_AT_START.filter((k) =>
    JSON.stringify(before[k]) !== JSON.stringify(config[k])
  );
  if (changed.length > 0) {
    log.warn("SIGHUP: {keys} changed in the file but apply only after a restart", {
      keys: changed.join(", "),
    });
  }
  try {
    opts.onReloaded?.(config);
    for (const gap of opts.sandboxGaps?.(config) ?? []) {
      log.warn("SIGHUP: {gap}; restart the runner to grant it", { gap });
    }
  } catch (err) {
    log.error("SIGHUP: after the reload: {error}", { error: (err as Error).message });
  }
  return true;
}

/** Calls `reload` on every SIGHUP, one at a time; returns the function that stops listening. */
export function listenForReload(reload: () => Promise<unknown>): () => void {
  if (Deno.build.os === "windows") return () => {};
  let running: Promise<unknown> = Promise.resolve();
  const handler = () => {
    running = running.then(reload, reload);
  };
  Deno.addSignalListener("SIGHUP", handler);
  return () => Deno.removeSignalListener("SIGHUP", handler);
}
