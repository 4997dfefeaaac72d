import { Args } from "../tasks/args.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { ReadArgs, ReadResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";

/** One read's cap: its base64 must still fit in a sane WebSocket frame. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

/**
 * `read {path, offset?, limit?}` -> `{content: base64, total_size}`. Offset
 * and limit are bytes; offset < 0 counts as 0, limit <= 0 means to the end.
 * The file is opened below the workspace root's descriptor (ws.fs): a
 * directory swapped for a symlink mid-read is never followed out.
 */
export const read: OperationHandler = async (rawArgs, ctx): Promise<ReadResult> => {
  const args = readArgs(rawArgs);
  const path = args.path;
  const offset = Math.max(0, Math.floor(args.offset ?? 0));
  const limit = Math.floor(args.limit ?? 0);
  const ws = ctx.workspace;
  let file;
  try {
    file = await ws.fs.openFile(ws.lexical(path), path, "read");
  } catch (err) {
    throw err instanceof Deno.errors.NotFound ? new TaskError(`file not found: ${path}`) : err;
  }
  const size = file.size;
  try {
    if (offset >= size) return { content: "", total_size: size };
    const want = limit > 0 ? Math.min(limit, size - offset) : size - offset;
    if (want > MAX_READ_BYTES) {
      throw new TaskError(
        `read of ${want} bytes from ${path} exceeds the ${MAX_READ_BYTES} byte (16 MiB) limit ` +
          `of one read (total_size ${size}); use offset and limit to read it in parts`,
      );
    }
    // encoded where the bytes lie: a small read allocates no buffer for them
    const content = await file.readWith(offset, want, (bytes) => bytes.toBase64());
    return { content, total_size: size };
  } finally {
    file.close();
  }
};

export function readArgs(raw: unknown): ReadArgs {
  const args = Args.of("read", raw);
  return {
    path: args.string("path", FIELD_LIMITS.path),
    offset: args.optionalNumber("offset"),
    limit: args.optionalNumber("limit"),
  };
}
