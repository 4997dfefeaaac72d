import { join } from "node:path";
import { Args, decodeBase64 } from "../tasks/args.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationHandler } from "../tasks/context.ts";
import type { SyncSkillArgs, SyncSkillResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";
import { extractEntries } from "../skill/extract.ts";
import { replaceDirectory, withDirectoryLock } from "../skill/replace_directory.ts";
import { readZipDirectory, type ZipLimits } from "../skill/zip_directory.ts";

export const SKILL_LIMITS: ZipLimits = {
  maxEntries: 10_000,
  maxTotalBytes: 100 * 1024 * 1024,
};
export const CHECKSUM_FILE = ".checksum";

/**
 * `sync_skill {skill_name, skill_dir, zip_data, checksum}` -> `{success, path}`.
 * The archive is checked whole (lib/skill/zip_directory.ts), extracted beside
 * the skill directory with sizes counted as it inflates, and swapped in only
 * when every entry was good; a refused archive leaves the old skill as it was.
 * The `.checksum` file is written for the platform and for people; the
 * runner never trusts it to skip a sync.
 */
export const sync_skill: OperationHandler = async (raw, ctx): Promise<SyncSkillResult> => {
  const args = syncSkillArgs(raw);
  const skillName = args.skill_name ?? "";
  const skillDir = args.skill_dir;
  const zipData = args.zip_data;
  const checksum = args.checksum ?? "";
  const target = await ctx.workspace.resolve(skillDir);
  if (target === ctx.workspace.root) {
    throw new TaskError(
      "invalid args for sync_skill: `skill_dir` must be a directory inside the workspace, " +
        "not the workspace root",
    );
  }
  return await withDirectoryLock(target, async () => {
    // Always extracted, even when `.checksum` already says this checksum: the
    // directory is in the workspace, where commands and `write` can change
    // any file and the `.checksum` beside it (issue 12). A sync leaves exactly
    // the archive's content, whatever was there.
    const zip = decodeBase64("sync_skill", "zip_data", zipData);
    await verifyDigest(zip, checksum);
    const entries = readZipDirectory(zip, SKILL_LIMITS);
    await replaceDirectory(target, async (dir) => {
      await extractEntries(zip, entries, dir, SKILL_LIMITS.maxTotalBytes, ctx.signal);
      // The runner's marker wins over anything the archive put at that name.
      const marker = join(dir, CHECKSUM_FILE);
      await Deno.remove(marker, { recursive: true }).catch(() => {});
      await Deno.writeTextFile(marker, checksum, { createNew: true });
    });
    ctx.log.info("skill {skill} synced into {dir}: {count} entries", {
      skill: skillName,
      dir: skillDir,
      count: entries.length,
    });
    return { success: true, path: skillDir };
  });
};

export function syncSkillArgs(raw: unknown): SyncSkillArgs {
  const args = Args.of("sync_skill", raw);
  return {
    skill_name: args.optionalString("skill_name", FIELD_LIMITS.path),
    skill_dir: args.nonEmptyString("skill_dir", FIELD_LIMITS.path),
    zip_data: args.string("zip_data", FIELD_LIMITS.archive),
    checksum: args.optionalString("checksum", FIELD_LIMITS.checksum),
  };
}

/** A checksum that looks like a SHA-256 digest must be the archive's; other forms are opaque labels. */
async function verifyDigest(zip: Uint8Array, checksum: string): Promise<void> {
  const m = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(checksum.trim());
  if (!m) return;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", zip as BufferSource));
  const actual = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (actual !== m[1].toLowerCase()) {
    throw new TaskError(
      `checksum mismatch: the archive's sha256 is ${actual}, the request says ${
        m[1].toLowerCase()
      }`,
    );
  }
}
