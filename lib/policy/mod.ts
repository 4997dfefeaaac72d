/**
 * The runner's compiled policy: what operations consult, built once from
 * the config at start (and again on reload; the holder swaps the whole
 * object, so a task sees one policy from start to end).
 *
 * Operations get `ctx.policy`, never the config: the config carries
 * nothing an operation needs beyond the rules, and the token never reaches
 * an operation at all.
 */
import type { RunnerConfig } from "../config.ts";
import { type CommandPolicy, compileCommandPolicy } from "./command_policy.ts";
import { compileUrlPolicy, type UrlPolicy } from "./url_policy.ts";

export type { CommandPolicy } from "./command_policy.ts";
export type { UrlPolicy } from "./url_policy.ts";

/** Both rule sets, compiled. */
export interface Policy {
  /** `permission.bash`: commands, and the launch of stdio MCP servers */
  readonly command: CommandPolicy;
  /** `permission.webfetch` plus the metadata block: webfetch and HTTP MCP servers */
  readonly url: UrlPolicy;
}

/** Compiles `config.permission`; throws UrlRuleError for a webfetch rule that is not a URL pattern. */
export function compilePolicy(config: Pick<RunnerConfig, "permission">): Policy {
  return Object.freeze({
    command: compileCommandPolicy(config.permission.bash),
    url: compileUrlPolicy(config.permission.webfetch),
  });
}
