import type { RunnerConfig } from "../config.ts";
import type { RunSettings } from "../settings.ts";
import { Redactor } from "./redactor.ts";

/** The operator's `redact.values` and the runner's own token: never sent, logged or audited. */
export function runnerRedactor(settings: RunSettings, config: RunnerConfig): Redactor {
  return new Redactor([...(config.redactValues ?? settings.redactValues), settings.token]);
}
