import { fakeContext } from "./support/context.ts";
/**
 * The hostile-archive corpus (tests/redteam/zip_archives.json) against the
 * real sync_skill operation on real directories: every refused archive must
 * leave the whole tree (old skill, workspace, a directory outside it)
 * exactly as it was; every good one must replace the old skill completely.
 */

import { expect } from "./deps.ts";
import { join } from "node:path";
import { TaskError } from "../lib/tasks/errors.ts";

import type { OperationContext } from "../lib/tasks/context.ts";
import { sync_skill } from "../lib/operations/sync_skill.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { buildZip, type ZipSpec } from "./support/zip_builder.ts";

interface Case {
  name: string;
  description: string;
  spec: ZipSpec;
  checksum?: string;
  expect: {
    error?: string;
    files?: Record<string, string>;
    executable?: string[];
    dirs?: string[];
    fileCount?: number;
  };
}

const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/zip_archives.json", import.meta.url)),
) as { archives: Case[] };

const SKILL_DIR = "skills/demo";
// Extracted files get 0755/0644 as the process umask allows (as any file the runner creates).
const UMASK = Deno.umask();
const DIR_MODE = (0o755 & ~UMASK).toString(8);
const mode = (executable: boolean) => ((executable ? 0o755 : 0o644) & ~UMASK).toString(8);
const OLD_CHECKSUM = "old-checksum";

/** Every path under `dir` (symlinks not followed) with its kind, mode and content. */
async function snapshot(dir: string, prefix = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const info = await Deno.lstat(join(dir, rel));
    const mode = ((info.mode ?? 0) & 0o777).toString(8);
    if (info.isSymlink) out[rel] = `link -> ${await Deno.readLink(join(dir, rel))}`;
    else if (info.isDirectory) {
      out[rel] = `dir ${mode}`;
      Object.assign(out, await snapshot(dir, rel));
    } else out[rel] = `file ${mode} ${await Deno.readTextFile(join(dir, rel))}`;
  }
  return out;
}

interface Tree {
  root: string;
  ctx: OperationContext;
  skill: string;
}

/** root/ws is the workspace (with an old skill unless `fresh`), root/outside is not. */
async function withTree(fresh: boolean, fn: (t: Tree) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "sync_skill_redteam_" });
  try {
    const ws = join(root, "ws");
    const skill = join(ws, SKILL_DIR);
    await Deno.mkdir(join(root, "outside"), { recursive: true });
    await Deno.writeTextFile(join(root, "outside", "keep.txt"), "outside the workspace");
    await Deno.mkdir(join(ws, "skills", "other"), { recursive: true });
    await Deno.writeTextFile(join(ws, "skills", "other", "SKILL.md"), "# another skill");
    if (!fresh) {
      await Deno.mkdir(join(skill, "scripts"), { recursive: true });
      await Deno.writeTextFile(join(skill, "SKILL.md"), "# old skill");
      await Deno.writeTextFile(join(skill, "only-in-old.md"), "gone after a good sync");
      await Deno.writeTextFile(join(skill, "scripts", "run.sh"), "echo old", { mode: 0o755 });
      await Deno.chmod(join(skill, "scripts", "run.sh"), 0o755);
      await Deno.writeTextFile(join(skill, ".checksum"), OLD_CHECKSUM);
    }
    const ctx = fakeContext({ workspace: await Workspace.open(ws) });
    await fn({ root, ctx, skill });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function checksumFor(c: Case, zip: Uint8Array): Promise<string> {
  if (c.checksum === undefined) return `label-${c.name}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", zip as BufferSource));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  return c.checksum.replace("$sha256", hex);
}

function syncDemo(ctx: OperationContext, zip: Uint8Array, checksum: string): Promise<unknown> {
  return sync_skill(
    { skill_name: "demo", skill_dir: SKILL_DIR, zip_data: zip.toBase64(), checksum },
    ctx,
  );
}

function without(tree: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tree).filter(([k]) => k !== prefix && !k.startsWith(prefix + "/")),
  );
}

Deno.test("the corpus covers what the brief lists", () => {
  const names = corpus.archives.map((c) => c.name);
  for (
    const n of [
      "dotdot_top",
      "absolute_unix",
      "absolute_drive_backslash",
      "backslash_dotdot",
      "symlink_absolute",
      "duplicate_exact",
      "duplicate_unicode_nfd",
      "too_many_entries",
      "bomb_lying_size",
      "bomb_honest_total",
      "size_shorter_than_declared",
      "corrupt_deflate",
      "checksum_mismatch",
    ]
  ) expect(names).toContain(n);
  expect(new Set(names).size).toBe(names.length);
});

for (const c of corpus.archives) {
  if (c.expect.error !== undefined) {
    Deno.test(`refused: ${c.name} (${c.description})`, async () => {
      const zip = buildZip(c.spec);
      const checksum = await checksumFor(c, zip);
      for (const fresh of [false, true]) {
        await withTree(fresh, async ({ root, ctx }) => {
          const before = await snapshot(root);
          const err = await syncDemo(ctx, zip, checksum).then(() => undefined, (e) => e);
          expect(err).toBeInstanceOf(TaskError);
          expect(err.message).toMatch(new RegExp(c.expect.error!));
          // Nothing changed anywhere: not the old skill, not beside it, not outside.
          expect(await snapshot(root)).toEqual(before);
        });
      }
    });
  } else {
    Deno.test(`accepted: ${c.name} (${c.description})`, async () => {
      const zip = buildZip(c.spec);
      const checksum = await checksumFor(c, zip);
      await withTree(false, async ({ root, ctx, skill }) => {
        const before = await snapshot(root);
        const result = await syncDemo(ctx, zip, checksum);
        expect(result).toEqual({ success: true, path: SKILL_DIR });
        const after = await snapshot(root);
        // Only the skill directory changed.
        expect(without(after, `ws/${SKILL_DIR}`)).toEqual(without(before, `ws/${SKILL_DIR}`));
        const tree = await snapshot(skill);
        expect(tree[".checksum"]).toBe(`file ${mode(false)} ${checksum}`);
        delete tree[".checksum"];
        if (c.expect.fileCount !== undefined) {
          expect(Object.keys(tree).length).toBe(c.expect.fileCount);
          return;
        }
        const expected: Record<string, string> = {};
        for (const d of c.expect.dirs ?? []) expected[d] = `dir ${DIR_MODE}`;
        for (const [path, text] of Object.entries(c.expect.files ?? {})) {
          for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1)) {
            expected[path.slice(0, i)] = `dir ${DIR_MODE}`;
          }
          expected[path] = `file ${mode(c.expect.executable?.includes(path) ?? false)} ${text}`;
        }
        // Exactly the archive: the old skill's files are gone.
        expect(tree).toEqual(expected);
      });
    });
  }
}
