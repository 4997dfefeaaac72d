import { expect } from "../../tests/deps.ts";
import { errorMessage, PATH_ESCAPES, PathEscapeError, TaskError } from "./errors.ts";

Deno.test("TaskError keeps its cause, and its message reaches the platform verbatim", () => {
  const cause = new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x'");
  const err = new TaskError("cannot read x", { cause });
  expect(err.cause).toBe(cause);
  expect(err.name).toBe("TaskError");
  expect(errorMessage(err)).toBe("cannot read x");
  expect(new TaskError("no cause").cause).toBeUndefined();
});

Deno.test("errorMessage: the phrases users grep for, and no OS error numbers", () => {
  expect(errorMessage(new PathEscapeError("../x"))).toBe(`${PATH_ESCAPES}: "../x"`);
  expect(new PathEscapeError("../x")).toBeInstanceOf(TaskError);
  expect(
    errorMessage(new Deno.errors.NotFound("No such file or directory (os error 2): stat '/w/a'")),
  )
    .toBe("not found: No such file or directory: stat '/w/a'");
  expect(errorMessage(new Deno.errors.NotCapable('Requires read access to "/etc/passwd"')))
    .toMatch(/^blocked by the runner's Deno permissions \(second sandbox layer\): Requires read/);
  expect(errorMessage(new Error("plain"))).toBe("plain");
  expect(errorMessage("a string")).toBe("a string");
});
