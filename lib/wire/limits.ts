/**
 * How big an inbound message and each of its fields may be: one definition,
 * read by the transport (frame size), the decoder (ids) and every operation's
 * args (lib/tasks/args.ts). A value over its limit is a clear error result,
 * never a crash and never a silently cut value. docs/wire.md explains each.
 */

const MiB = 1024 * 1024;

/** Characters of standard base64 (with padding) that encode `bytes` bytes. */
export function base64Chars(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

/**
 * The largest legitimate message is a `sync_skill` archive; a skill bigger
 * than this is refused (its unpacked size has its own cap in SKILL_LIMITS).
 */
export const MAX_SKILL_ARCHIVE_BYTES = 96 * MiB;

/** A `write` carries at most this many bytes of file content. */
export const MAX_WRITE_BYTES = 64 * MiB;

/**
 * The default frame limit: the largest archive, base64-encoded, plus room for
 * the envelope and the other fields. A larger frame closes the connection
 * (1009) before it is read; anything smaller is read and, if a field is too
 * long, answered with an error. Large enough that a 100 MiB field still gets
 * its error result.
 */
export const DEFAULT_MAX_FRAME_BYTES = base64Chars(MAX_SKILL_ARCHIVE_BYTES) + MiB;

/** Characters per field. */
export const FIELD_LIMITS = {
  /** task_id, call_id, trace_id, source_instance_id: echoed and remembered for 10 minutes */
  id: 1024,
  /** a bash command; Linux caps one exec argument at 128 KiB, a script may be longer */
  command: 1 * MiB,
  /**
   * path, workdir, skill_dir, skill_name. PATH_MAX is 4096 bytes, but `.` and
   * `..` segments are resolved here before the kernel sees the path, so the
   * raw text may be longer (and a long `../../…` still gets `path escapes workspace`).
   */
  path: 16_384,
  /** a glob or grep pattern, one ignore or include pattern (a glob may spell a long path) */
  pattern: 16_384,
  /** how many ignore / include patterns */
  patterns: 1024,
  /** a webfetch URL (what common servers accept in a request line) */
  url: 8192,
  /** operation and tool names, an MCP server's name, format */
  name: 1024,
  /** `write` content, base64 */
  content: base64Chars(MAX_WRITE_BYTES),
  /** `sync_skill` zip_data, base64 */
  archive: base64Chars(MAX_SKILL_ARCHIVE_BYTES),
  /** a checksum label */
  checksum: 1024,
} as const;
