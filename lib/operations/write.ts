import { Args, decodeBase64 } from "../tasks/args.ts";
import { atomicWrite } from "../fs/atomic_write.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { WriteArgs, WriteResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/**
 * `write {path, content: base64}` -> `{success: true}`. Parents are
 * created; the file is replaced atomically (atomicWrite), never half-written.
 */
export const write: OperationHandler = async (rawArgs, ctx): Promise<WriteResult> => {
  const { path, content } = writeArgs(rawArgs);
  // decoded before anything on disk is touched: bad input changes nothing
  const data = decodeBase64("write", "content", content);
  const real = await ctx.workspace.resolve(path);
  await atomicWrite(ctx.workspace, real, data, path);
  return { success: true };
};

export function writeArgs(raw: unknown): WriteArgs {
  const args = Args.of("write", raw);
  return {
    path: args.string("path", FIELD_LIMITS.path),
    content: args.string("content", FIELD_LIMITS.content),
  };
}
