import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { type LogFormat, parseLogLevel } from "./log.ts";
import type { LogLevel } from "./deps.ts";
import type { RunnerConfig } from "./config.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./wire/limits.ts";

export const DEFAULT_URL = "wss://api.flashcat.cloud/safari/worknode/ws";
export const ENV = {
  token: "FLASHDUTY_RUNNER_TOKEN",
  url: "FLASHDUTY_RUNNER_URL",
  workspace: "FLASHDUTY_RUNNER_WORKSPACE",
  logLevel: "FLASHDUTY_RUNNER_LOG_LEVEL",
  logFormat: "FLASHDUTY_RUNNER_LOG_FORMAT",
  config: "FLASHDUTY_RUNNER_CONFIG",
  maxConcurrent: "FLASHDUTY_RUNNER_MAX_CONCURRENT_TASKS",
  transport: "FLASHDUTY_RUNNER_TRANSPORT",
  maxFrameBytes: "FLASHDUTY_RUNNER_MAX_FRAME_BYTES",
  auditLog: "FLASHDUTY_RUNNER_AUDIT_LOG",
  metricsAddr: "FLASHDUTY_RUNNER_METRICS_ADDR",
  pingIntervalMs: "FLASHDUTY_RUNNER_PING_INTERVAL_MS",
} as const;

/**
 * The WebSocket clients `--transport` names (lib/wire/transport.ts dials
 * them). Listed here, not there, so that resolving the settings (the
 * supervisor does) loads no transport code.
 */
export type TransportName = "tcp" | "ws" | "native";
export const TRANSPORTS: readonly TransportName[] = ["tcp", "ws", "native"];

export interface RunFlags {
  token?: string;
  /** a file whose first line is the token */
  tokenFile?: string;
  url?: string;
  workspace?: string;
  config?: string;
  logLevel?: string;
  logFormat?: string;
  maxConcurrentTasks?: string;
  transport?: string;
  auditLog?: string;
  metricsAddr?: string;
}

export interface RunSettings {
  token: string;
  url: string;
  workspace: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  maxConcurrent: number;
  transport: TransportName;
  /** a frame larger than this closes the connection (1009) instead of exhausting memory */
  maxFrameBytes: number;
  /** `--audit-log`: where one JSON line per task goes; undefined means off */
  auditLog?: { path: string; maxBytes?: number; keep?: number };
  /** `--metrics-addr`: where /metrics, /readyz and /healthz listen; undefined means off */
  metricsAddr?: { hostname: string; port: number };
  /** `redact.values` from the config (the token is added to them at start) */
  redactValues: string[];
  /** liveness: a ping this often; one unanswered when the next is due drops the connection */
  pingIntervalMs: number;
}

/** An environment variable, or undefined when unset or not readable (no --allow-env for it). */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A problem with how the runner was started: one line, exit code 2. */
export class UsageError extends Error {}

export function defaultWorkspace(): string {
  return join(homedir(), ".flashduty-runner", "workspace");
}

/** Precedence: flag, then environment variable, then config file, then default. */
export function resolveSettings(
  flags: RunFlags,
  env: (name: string) => string | undefined,
  config: RunnerConfig,
): RunSettings {
  const pick = (flag: string | undefined, envName: string, fromConfig?: string) =>
    flag ?? (env(envName) || undefined) ?? fromConfig;
  // --token, --token-file, the environment, systemd's LoadCredential=token, the config.
  const token = flags.token ??
    (flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile, "--token-file") : undefined) ??
    (env(ENV.token) || undefined) ?? credential(env) ?? config.token;
  if (!token) {
    throw new UsageError(
      `missing token: pass --token or set ${ENV.token} (or --token-file FILE)`,
    );
  }
  const url = pick(flags.url, ENV.url, config.url) ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid --url ${JSON.stringify(url)}: not a URL`);
  }
  if (parsed.protocol !== "wss:" && parsed.protocol !== "ws:") {
    throw new UsageError(`invalid --url: the scheme must be wss:// (or ws:// for a local test)`);
  }
  let logLevel: LogLevel;
  try {
    logLevel = parseLogLevel(pick(flags.logLevel, ENV.logLevel, config.logLevel) ?? "info");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logFormat = pick(flags.logFormat, ENV.logFormat) ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`unknown log format ${JSON.stringify(logFormat)} (use text or json)`);
  }
  const max = pick(flags.maxConcurrentTasks, ENV.maxConcurrent) ??
    String(config.maxConcurrentTasks ?? 16);
  const maxConcurrent = Number(max);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new UsageError(
      `--max-concurrent-tasks must be a positive integer, got ${JSON.stringify(max)}`,
    );
  }
  const transport = pick(flags.transport, ENV.transport) ?? "tcp";
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    throw new UsageError(
      `unknown transport ${JSON.stringify(transport)} (use ${TRANSPORTS.join(", ")})`,
    );
  }
  const maxFrame = Number(env(ENV.maxFrameBytes) || DEFAULT_MAX_FRAME_BYTES);
  if (!Number.isInteger(maxFrame) || maxFrame < 1024) {
    throw new UsageError(`${ENV.maxFrameBytes} must be an integer of at least 1024`);
  }
  const auditPath = pick(flags.auditLog, ENV.auditLog);
  const auditLog = auditPath
    ? { ...config.auditLog, path: absolutePath(auditPath) }
    : config.auditLog
    ? { ...config.auditLog, path: absolutePath(config.auditLog.path) }
    : undefined;
  const metricsText = pick(flags.metricsAddr, ENV.metricsAddr, config.metricsAddr);
  const pingIntervalMs = Number(env(ENV.pingIntervalMs) || 30_000);
  if (!Number.isInteger(pingIntervalMs) || pingIntervalMs < 100) {
    throw new UsageError(`${ENV.pingIntervalMs} must be an integer of at least 100`);
  }
  return {
    token,
    url,
    workspace: pick(flags.workspace, ENV.workspace, config.workspace) ?? defaultWorkspace(),
    logLevel,
    logFormat,
    maxConcurrent,
    transport: transport as TransportName,
    maxFrameBytes: maxFrame,
    auditLog,
    metricsAddr: metricsText ? parseListenAddress(metricsText) : undefined,
    redactValues: config.redactValues ?? [],
    pingIntervalMs,
  };
}

function absolutePath(path: string): string {
  return isAbsolute(path) ? path : join(Deno.cwd(), path);
}

/**
 * `HOST:PORT`, `:PORT` or `PORT` (loopback when the host is omitted:
 * metrics are off the network unless an operator names an address).
 */
export function parseListenAddress(text: string): { hostname: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]*):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(
      `invalid --metrics-addr ${JSON.stringify(text)}: use HOST:PORT, or :PORT for loopback`,
    );
  }
  const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
  return { hostname: host === "" ? "127.0.0.1" : host, port };
}

/** The first line of a token file, trimmed; a UsageError names the file when it cannot be read. */
export function readTokenFile(path: string, what: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new UsageError(`${what} ${path}: cannot read: ${(err as Error).message}`);
  }
  const token = text.split("\n")[0].trim();
  if (token === "") throw new UsageError(`${what} ${path}: the file is empty`);
  return token;
}

/** systemd's `LoadCredential=token:...`: $CREDENTIALS_DIRECTORY/token, when it exists. */
function credential(env: (name: string) => string | undefined): string | undefined {
  const dir = env("CREDENTIALS_DIRECTORY");
  if (!dir) return undefined;
  const path = join(dir, "token");
  try {
    Deno.statSync(path);
  } catch {
    return undefined;
  }
  return readTokenFile(path, "systemd credential");
}
