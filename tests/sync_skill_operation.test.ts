import { fakeContext } from "./support/context.ts";

import { expect } from "./deps.ts";
import { join } from "node:path";
import { PATH_ESCAPES, TaskError } from "../lib/tasks/errors.ts";

import type { OperationContext } from "../lib/tasks/context.ts";
import { sync_skill } from "../lib/operations/sync_skill.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { buildZip, type ZipEntrySpec } from "./support/zip_builder.ts";

interface Env {
  root: string;
  ws: string;
  ctx: OperationContext;
  cancel: AbortController;
}

async function withWorkspace(fn: (env: Env) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "sync_skill_op_" });
  const ws = join(root, "ws");
  const cancel = new AbortController();
  try {
    await Deno.mkdir(join(root, "outside"), { recursive: true });
    const ctx = fakeContext({ workspace: await Workspace.open(ws), signal: cancel.signal });
    await fn({ root, ws: ctx.workspace.root, ctx, cancel });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function zipOf(files: Record<string, string>, extra: ZipEntrySpec[] = []): string {
  const entries = Object.entries(files).map(([name, content]) => ({ name, content }));
  return buildZip({ entries: [...entries, ...extra] }).toBase64();
}

async function sync(ctx: OperationContext, args: Record<string, unknown>): Promise<unknown> {
  return await sync_skill({ skill_name: "demo", checksum: "c1", ...args }, ctx);
}

async function syncError(ctx: OperationContext, args: Record<string, unknown>): Promise<string> {
  const err = await sync(ctx, args).then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(TaskError);
  return err.message;
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(e.isDirectory ? rel + "/" : rel);
    if (e.isDirectory) out.push(...await listTree(dir, rel));
  }
  return out.sort();
}

Deno.test("a first sync creates the skill directory (and its parents) with .checksum", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    const result = await sync(ctx, {
      skill_dir: "skills/new/demo",
      zip_data: zipOf({ "SKILL.md": "# demo" }),
      checksum: "v1",
    });
    expect(result).toEqual({ success: true, path: "skills/new/demo" });
    expect(await listTree(join(ws, "skills"))).toEqual([
      "new/",
      "new/demo/",
      "new/demo/.checksum",
      "new/demo/SKILL.md",
    ]);
    expect(await Deno.readTextFile(join(ws, "skills/new/demo/.checksum"))).toBe("v1");
  });
});

Deno.test("the same checksum again re-extracts: nothing changed locally survives", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    const zip = zipOf({ "SKILL.md": "v1" });
    await sync(ctx, { skill_dir: "s", zip_data: zip, checksum: "v1" });
    await Deno.writeTextFile(join(ws, "s", "local-note.md"), "not in the archive");
    await Deno.writeTextFile(join(ws, "s", "SKILL.md"), "tampered");
    expect(await sync(ctx, { skill_dir: "s", zip_data: zip, checksum: "v1" })).toEqual({
      success: true,
      path: "s",
    });
    expect(await listTree(join(ws, "s"))).toEqual([".checksum", "SKILL.md"]);
    expect(await Deno.readTextFile(join(ws, "s", "SKILL.md"))).toBe("v1");
    // so the archive is always decoded and checked, checksum or not
    expect(await syncError(ctx, { skill_dir: "s", zip_data: "not base64!", checksum: "v1" }))
      .toMatch(/zip_data/);
  });
});

Deno.test("an empty checksum never short-circuits", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    await sync(ctx, { skill_dir: "s", zip_data: zipOf({ "a.md": "1" }), checksum: "" });
    await sync(ctx, { skill_dir: "s", zip_data: zipOf({ "b.md": "2" }), checksum: "" });
    expect(await listTree(join(ws, "s"))).toEqual([".checksum", "b.md"]);
  });
});

Deno.test("a skill_dir outside the workspace is refused and nothing is written", async () => {
  await withWorkspace(async ({ root, ws, ctx }) => {
    await Deno.symlink(join(root, "outside"), join(ws, "escape"));
    const zip = zipOf({ "SKILL.md": "x" });
    for (
      const dir of [
        "../outside/skill",
        join(root, "outside", "skill"),
        "escape/skill",
        "/etc/skill",
      ]
    ) {
      expect(await syncError(ctx, { skill_dir: dir, zip_data: zip })).toContain(PATH_ESCAPES);
    }
    expect(await listTree(join(root, "outside"))).toEqual([]);
    expect(await listTree(ws)).toEqual(["escape"]);
  });
});

Deno.test("the workspace root itself cannot be the skill directory", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    await Deno.writeTextFile(join(ws, "precious.txt"), "do not replace the workspace");
    const zip = zipOf({ "SKILL.md": "x" });
    for (const dir of [".", "./", ws, "skills/.."]) {
      expect(await syncError(ctx, { skill_dir: dir, zip_data: zip })).toMatch(
        /`skill_dir` must be a directory inside the workspace, not the workspace root/,
      );
    }
    expect(await syncError(ctx, { skill_dir: "", zip_data: zip })).toMatch(
      /`skill_dir` must be a non-empty string/,
    );
    expect(await listTree(ws)).toEqual(["precious.txt"]);
  });
});

Deno.test("a skill_dir that is a file is refused, the file untouched", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    await Deno.writeTextFile(join(ws, "notes"), "a file");
    expect(await syncError(ctx, { skill_dir: "notes", zip_data: zipOf({ "a": "b" }) })).toMatch(
      /skill_dir exists and is not a directory/,
    );
    expect(await Deno.readTextFile(join(ws, "notes"))).toBe("a file");
    expect(await listTree(ws)).toEqual(["notes"]);
  });
});

Deno.test("a symlinked skill_dir inside the workspace replaces the real directory", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    await Deno.mkdir(join(ws, "real"));
    await Deno.writeTextFile(join(ws, "real", "old.md"), "old");
    await Deno.symlink("real", join(ws, "alias"));
    await sync(ctx, { skill_dir: "alias", zip_data: zipOf({ "new.md": "new" }) });
    expect(await listTree(join(ws, "real"))).toEqual([".checksum", "new.md"]);
    expect((await Deno.lstat(join(ws, "alias"))).isSymlink).toBe(true);
  });
});

Deno.test("invalid base64 and missing fields are clear errors", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    expect(await syncError(ctx, { skill_dir: "s", zip_data: "%%%" })).toMatch(
      /`zip_data` is not valid base64/,
    );
    expect(await syncError(ctx, { skill_dir: "s" })).toMatch(/`zip_data` must be a string/);
    expect(await listTree(ws)).toEqual([]);
  });
});

Deno.test("executable bits survive; other mode bits (setuid) do not", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    const zip = buildZip({
      entries: [
        { name: "run.sh", content: "#!/bin/sh\n", unixMode: "104755" },
        { name: "data.txt", content: "d", unixMode: "100666" },
      ],
    }).toBase64();
    await sync(ctx, { skill_dir: "s", zip_data: zip });
    const umask = Deno.umask();
    expect((await Deno.stat(join(ws, "s", "run.sh"))).mode! & 0o7777).toBe(0o755 & ~umask);
    expect((await Deno.stat(join(ws, "s", "data.txt"))).mode! & 0o7777).toBe(0o644 & ~umask);
  });
});

Deno.test("concurrent syncs of one skill end with one whole archive and no leftovers", async () => {
  await withWorkspace(async ({ ws, ctx }) => {
    const a = zipOf(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`a${i}.md`, "a"])));
    const b = zipOf(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`b${i}.md`, "b"])));
    await Promise.all([
      sync(ctx, { skill_dir: "s", zip_data: a, checksum: "a" }),
      sync(ctx, { skill_dir: "s", zip_data: b, checksum: "b" }),
      sync(ctx, { skill_dir: "s", zip_data: a, checksum: "a2" }),
    ]);
    const files = await listTree(join(ws, "s"));
    const marker = await Deno.readTextFile(join(ws, "s", ".checksum"));
    const letter = marker[0];
    expect(files.filter((f) => f !== ".checksum").every((f) => f.startsWith(letter))).toBe(true);
    expect(files.length).toBe(51);
    expect(await listTree(ws)).toEqual(["s/", ...files.map((f) => `s/${f}`)]);
  });
});

Deno.test("a cancelled task leaves the old skill as it was", async () => {
  await withWorkspace(async ({ ws, ctx, cancel }) => {
    await sync(ctx, { skill_dir: "s", zip_data: zipOf({ "old.md": "old" }), checksum: "old" });
    cancel.abort();
    expect(await syncError(ctx, { skill_dir: "s", zip_data: zipOf({ "new.md": "n" }) })).toBe(
      "sync_skill cancelled",
    );
    expect(await listTree(ws)).toEqual(["s/", "s/.checksum", "s/old.md"]);
  });
});
