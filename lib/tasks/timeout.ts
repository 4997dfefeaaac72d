/**
 * The one rule for a request's `timeout`, shared by every operation that takes
 * one (bash, webfetch, mcp_call, mcp_list_tools):
 *
 * - it is in seconds;
 * - missing, null, zero or negative means the operation's default;
 * - more than the operation's maximum is capped at that maximum, never an
 *   error: a platform asking for "long" gets the longest the runner allows,
 *   the same answer for every operation.
 *
 * The defaults and maxima differ by operation because what they wait on
 * differs (a command may legitimately run for hours; a web page may not), and
 * they are listed here, in one place, and in docs/protocol.md.
 *
 * @module
 */

/** An operation's default and maximum, in seconds. */
export interface TimeoutRule {
  readonly defaultS: number;
  readonly maxS: number;
}

export const TIMEOUTS = {
  /** the Go runner's default; a day at most (a long-running investigation, never forever) */
  bash: { defaultS: 120, maxS: 86_400 },
  /** PROTOCOL: default 30 s, at most 120 s */
  webfetch: { defaultS: 30, maxS: 120 },
  /** the MCP call timeout of the protocol (60 s), an hour at most */
  mcp: { defaultS: 60, maxS: 3_600 },
} as const satisfies Record<string, TimeoutRule>;

/** The timeout in seconds a request gets under `rule`. */
export function timeoutSeconds(rule: TimeoutRule, requested: number | null | undefined): number {
  if (requested === undefined || requested === null || !(requested > 0)) return rule.defaultS;
  return Math.min(requested, rule.maxS);
}
