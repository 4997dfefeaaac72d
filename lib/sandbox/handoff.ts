/**
 * The supervisor's hand-off to its sandboxed runner child: one JSON line on
 * the child's stdin pipe holding the settings the supervisor resolved (the
 * token among them: never in the child's argv or environment) and the
 * config it parsed. The child thus parses no flags and no YAML, and loads
 * neither parser (commander, yaml: ~20 MB of idle RSS and a second module
 * load at start, docs/benchmarks.md). The pipe stays open after the line;
 * its EOF tells the child the supervisor is gone (watchSupervisor).
 */
import type { RunnerConfig } from "../config.ts";
import { readEnv, type RunSettings, UsageError } from "../settings.ts";

/**
 * Set in the sandboxed child's environment (to the supervisor's pid), so it
 * runs the runner instead of re-executing again. Commands never see it:
 * lib/bash/run.ts removes FLASHDUTY_* from their environment.
 */
export const SANDBOX_ENV = "FLASHDUTY_RUNNER_SANDBOXED";

export interface Handoff {
  settings: RunSettings;
  config: RunnerConfig;
}

/** A hand-off line longer than this is refused (a config of thousands of rules fits). */
export const MAX_HANDOFF_BYTES = 16 << 20;

/**
 * Whether this process is a runner child started by its supervisor (which
 * is our parent and holds our stdin): then its hand-off waits on stdin.
 */
export function isSupervisedChild(): boolean {
  return readEnv(SANDBOX_ENV) === String(Deno.ppid) && !Deno.stdin.isTerminal();
}

export function encodeHandoff(h: Handoff): string {
  // JSON escapes every newline inside strings: the line is the whole hand-off.
  return JSON.stringify({ settings: h.settings, config: h.config });
}

/** Decodes the line, failing closed (UsageError) on anything but the shape encodeHandoff writes. */
export function decodeHandoff(line: string): Handoff {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UsageError("the supervisor's hand-off on stdin is not JSON");
  }
  const bad = (what: string): never => {
    throw new UsageError(`the supervisor's hand-off on stdin is malformed: ${what}`);
  };
  const obj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!obj(value) || !obj(value.settings) || !obj(value.config)) bad("not {settings, config}");
  const { settings, config } = value as {
    settings: Record<string, unknown>;
    config: Handoff["config"];
  };
  for (const k of ["token", "url", "workspace", "logLevel", "logFormat", "transport"]) {
    if (typeof settings[k] !== "string" || settings[k] === "") bad(`settings.${k}`);
  }
  for (const k of ["maxConcurrent", "maxFrameBytes", "pingIntervalMs"]) {
    if (!Number.isInteger(settings[k])) bad(`settings.${k}`);
  }
  if (!Array.isArray(settings.redactValues)) bad("settings.redactValues");
  const rules = (r: unknown, name: string) => {
    if (r === undefined && name === "webfetch") return;
    if (
      !Array.isArray(r) ||
      r.some((x) =>
        !obj(x) || typeof x.pattern !== "string" || !/^(allow|deny)$/.test(x.action as string)
      )
    ) bad(`config.permission.${name}`);
  };
  if (!obj(config.permission)) bad("config.permission");
  rules(config.permission.bash, "bash");
  rules(config.permission.webfetch, "webfetch");
  return { settings: settings as unknown as RunSettings, config };
}

/**
 * In the supervised child: reads the hand-off line from stdin (up to the
 * newline; the supervisor writes nothing after it) and decodes it.
 */
export async function receiveHandoff(
  stdin: { read(p: Uint8Array): Promise<number | null> } = Deno.stdin,
): Promise<Handoff> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await stdin.read(buf);
    if (n === null) break;
    const nl = buf.subarray(0, n).indexOf(0x0a);
    chunks.push(buf.slice(0, nl === -1 ? n : nl));
    size += nl === -1 ? n : nl;
    if (size > MAX_HANDOFF_BYTES) throw new UsageError("the supervisor's hand-off is too long");
    if (nl !== -1) break;
  }
  if (size === 0) throw new UsageError("no hand-off from the supervisor on stdin");
  const line = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    line.set(c, at);
    at += c.length;
  }
  return decodeHandoff(new TextDecoder().decode(line));
}
