/**
 * An error whose message is meant for the platform (and the model behind it):
 * it becomes a `success: false` result's `error` verbatim. Anything else
 * thrown inside an operation becomes the error text too (errorMessage), but
 * is logged at error level with its stack, as a bug. `cause` keeps the
 * underlying error for the log without putting it in the result.
 */
export class TaskError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TaskError";
  }
}

/** The phrase users grep for; every confinement failure carries it. */
export const PATH_ESCAPES = "path escapes workspace";

export class PathEscapeError extends TaskError {
  constructor(path: string) {
    super(`${PATH_ESCAPES}: ${JSON.stringify(path)}`);
    this.name = "PathEscapeError";
  }
}

/** Turns anything thrown into a one-line message for a result's `error`. */
export function errorMessage(err: unknown): string {
  if (err instanceof TaskError) return err.message;
  if (err instanceof Deno.errors.NotFound) return `not found: ${stripOs(err.message)}`;
  if (err instanceof Deno.errors.NotCapable) {
    return `blocked by the runner's Deno permissions (second sandbox layer): ${err.message}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

// Deno's fs errors read "No such file or directory (os error 2): stat '/x'".
function stripOs(message: string): string {
  return message.replace(/ \(os error \d+\)/, "");
}
