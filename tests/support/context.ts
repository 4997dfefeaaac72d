/**
 * The one way tests build an OperationContext: the defaults an operation sees
 * in a runner with no rules (nothing allowed), overridden field by field.
 */
import { logger } from "../../lib/log.ts";
import { compilePolicy } from "../../lib/policy/mod.ts";
import { openServices } from "../../lib/tasks/services.ts";
import type { OperationContext } from "../../lib/tasks/context.ts";
import type { Workspace } from "../../lib/fs/workspace.ts";

export function fakeContext(
  overrides: Partial<OperationContext> & { workspace: Workspace },
): OperationContext {
  return {
    policy: compilePolicy({ permission: { bash: [] } }),
    signal: new AbortController().signal,
    log: logger("test"),
    taskId: "task_test",
    output: () => {},
    services: overrides.services ?? openServices({ log: logger("test") }),
    ...overrides,
  };
}
