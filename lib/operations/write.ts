import { Args, decodeBase64 } from "../tasks/args.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { WriteResult } from "../wire/protocol.ts";

/**
 * `write {path, content: base64}` -> `{success: true}`. Parents are
 * created; the file is replaced atomically (WorkspaceFs.writeAtomic), through
 * descriptors, so no directory swapped for a symlink is followed out, never half-written.
 */
export const write: OperationHandler = async (rawArgs, ctx): Promise<WriteResult> => {
  const args = Args.of("write", rawArgs);
  const path = args.string("path");
  // decoded before anything on disk is touched: bad input changes nothing
  const data = decodeBase64("write", "content", args.string("content"));
  const ws = ctx.workspace;
  await ws.fs.writeAtomic(ws.lexical(path), data, path);
  return { success: true };
};
