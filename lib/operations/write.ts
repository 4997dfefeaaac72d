import { Args, decodeBase64 } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { WriteArgs, WriteResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/**
 * `write {path, content: base64}` -> `{success: true}`. Parents are
 * created; the file is replaced atomically (WorkspaceFs.writeAtomic), through
 * descriptors, so no directory swapped for a symlink is followed out, never half-written.
 */
export const write: OperationHandler = async (rawArgs, ctx): Promise<WriteResult> => {
  const { path, content } = writeArgs(rawArgs);
  // decoded before anything on disk is touched: bad input changes nothing
  const data = decodeBase64("write", "content", content);
  const ws = ctx.workspace;
  await ws.fs.writeAtomic(ws.lexical(path), data, path);
  return { success: true };
};

export function writeArgs(raw: unknown): WriteArgs {
  const args = Args.of("write", raw);
  return {
    path: args.string("path", FIELD_LIMITS.path),
    content: args.string("content", FIELD_LIMITS.content),
  };
}
