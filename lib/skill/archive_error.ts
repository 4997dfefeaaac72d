import { TaskError } from "../tasks/errors.ts";

/** Why an archive was refused; nothing has been written when it is thrown. */
export class ArchiveError extends TaskError {
  constructor(reason: string) {
    super(`invalid skill archive: ${reason}`);
    this.name = "ArchiveError";
  }
}
