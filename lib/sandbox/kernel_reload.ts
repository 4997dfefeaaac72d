/**
 * The kernel layer across SIGHUP reloads. A Landlock domain can be narrowed
 * but never widened, and the supervisor that applied the first one lives in
 * it too, so:
 * - rules that allow less: the runner's main thread (from which every
 *   command and stdio MCP server starts) stacks a new domain built from the
 *   new rules, so programs started after the reload are held by the kernel
 *   to the new rules as well as by the rules themselves;
 * - rules that allow more: what no domain on the stack lets through is
 *   reported (`kernelRuleGaps`), to be granted by a restart.
 *
 * Landlock stacks at most 16 domains; past that the reload says the kernel
 * layer stayed as it was, and the rules alone apply the narrowing.
 *
 * @module
 */
import type { Logger } from "../deps.ts";
import type { RunnerConfig } from "../config.ts";
import { kernelRuleGaps, type KernelRules } from "./landlock_rules.ts";
import { restrictThisThread } from "./landlock.ts";

export class KernelLayerOnReload {
  /**
   * the domains in force on this thread: the supervisor's (derived again from
   * the start config on the first reload, not at start: a runner that is never
   * reloaded never pays for it), then each reload's
   */
  #layers?: KernelRules[];

  constructor(
    private readonly startConfig: RunnerConfig,
    private readonly derive: (config: RunnerConfig) => KernelRules,
    private readonly log: Logger,
    private readonly restrict: (rules: KernelRules) => unknown = restrictThisThread,
  ) {}

  /** domains in force (1 = only the one applied at start) */
  get depth(): number {
    return this.#layers?.length ?? 1;
  }

  /**
   * Applies `config` to the kernel layer as far as the kernel allows: narrows
   * when the new rules allow less than every domain in force; returns what
   * they need that some domain in force refuses (for the reload's warnings).
   * Call it on the thread that starts programs. Never throws.
   */
  reload(config: RunnerConfig): string[] {
    const layers = this.#layers ??= [this.derive(this.startConfig)];
    const next = this.derive(config);
    const gaps = [...new Set(layers.flatMap((l) => kernelRuleGaps(l, next)))];
    // A domain that allows all `next` allows already holds nothing back: stacking it adds nothing.
    const narrows = layers.every((l) => kernelRuleGaps(next, l).length > 0);
    if (narrows) {
      try {
        this.restrict(next);
        layers.push(next);
        this.log.info(
          "SIGHUP: kernel layer (Landlock) narrowed to the new rules for programs started from now on",
        );
      } catch (err) {
        this.log.warn(
          "SIGHUP: the kernel layer stays as it was ({reason}); the new rules still refuse what " +
            "they do not allow",
          { reason: (err as Error).message },
        );
      }
    }
    return gaps;
  }
}
