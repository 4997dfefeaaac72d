import { TaskError } from "../tasks/errors.ts";
import type { OperationHandler } from "../tasks/context.ts";

/** Placeholder for an operation whose module has not landed yet. */
export function notImplemented(op: string): OperationHandler {
  return () => Promise.reject(new TaskError(`operation ${op} is not implemented yet`));
}
