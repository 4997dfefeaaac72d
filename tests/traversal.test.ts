/**
 * Red team: every path-taking file operation against every entry of
 * tests/redteam/traversal_paths.json, on a real workspace with a secret
 * directory beside it and hostile symlinks inside. What must hold for every
 * entry: no outside content appears in any result or error, nothing outside
 * is created or changed, and the entry's expectation (escape / error /
 * inside / safe) is met.
 */
import { dirname, join } from "node:path";
import { expect } from "./deps.ts";
import { read } from "../lib/operations/read.ts";
import { write } from "../lib/operations/write.ts";
import { list } from "../lib/operations/list.ts";
import { glob } from "../lib/operations/glob.ts";
import { grep } from "../lib/operations/grep.ts";
import type { OperationHandler } from "../lib/tasks/context.ts";
import { PATH_ESCAPES } from "../lib/tasks/errors.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { b64, contextFor, plant } from "./file_ops_support.ts";

interface Entry {
  path: string;
  why: string;
  path_expect: "escape" | "error" | "inside";
  pattern_expect: "escape" | "safe";
  repeat?: [string, number];
  prefix?: string;
}

interface Corpus {
  layout: {
    outside_files: Record<string, string>;
    workspace_files: Record<string, string>;
    symlinks: Record<string, string>;
  };
  entries: Entry[];
}

const corpus: Corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/traversal_paths.json", import.meta.url)),
);
const SECRET = "TOP-SECRET-OUTSIDE-CONTENT";
const PASSWD_MARK = "root:x:0:0"; // the first line of /etc/passwd, were it ever read
const WRITTEN = "WRITTEN-BY-THE-TRAVERSAL-TEST";

interface Layout extends AsyncDisposable {
  base: string;
  outside: string;
  /** the workspace directory (real) and a symlink to it used as a configured root */
  wsReal: string;
  wsAlias: string;
}

async function buildLayout(): Promise<Layout> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "fd_traversal_" }));
  const outside = join(base, "outside");
  const wsReal = join(base, "ws");
  const wsAlias = join(base, "ws_alias");
  await plant(outside, corpus.layout.outside_files);
  await plant(wsReal, corpus.layout.workspace_files);
  for (const [link, target] of Object.entries(corpus.layout.symlinks)) {
    const at = join(wsReal, link);
    await Deno.mkdir(dirname(at), { recursive: true });
    await Deno.symlink(target.replace("{outside}", outside).replace("{ws_real}", wsReal), at);
  }
  await Deno.symlink(wsReal, wsAlias);
  return {
    base,
    outside,
    wsReal,
    wsAlias,
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

function pathOf(e: Entry, configuredRoot: string, outside: string): string {
  const [unit, times] = e.repeat ?? ["", 0];
  return ((e.prefix ?? "") + unit.repeat(times) + e.path)
    .replace("{ws}", configuredRoot)
    .replace("{outside}", outside);
}

/** Everything beside the workspace, with contents: any change or new file shows. */
async function outsideState(layout: Layout): Promise<string> {
  const lines: string[] = [];
  const visit = async (dir: string, rel: string) => {
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (r === "ws" || r === "ws_alias") continue;
      const p = join(dir, name);
      const info = await Deno.lstat(p);
      if (info.isSymlink) lines.push(`${r} -> ${await Deno.readLink(p)}`);
      else if (info.isDirectory) {
        lines.push(`${r}/ ${info.mtime?.getTime()}`);
        await visit(p, r);
      } else lines.push(`${r} ${info.mtime?.getTime()} ${await Deno.readTextFile(p)}`);
    }
  };
  await visit(layout.base, "");
  return lines.join("\n");
}

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };

async function attempt(op: OperationHandler, args: unknown, ws: Workspace): Promise<Outcome> {
  try {
    return { ok: true, value: await op(args, contextFor(ws)) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

function expectNoLeak(o: Outcome, what: string) {
  let text = o.ok ? JSON.stringify(o.value) : o.message;
  if (o.ok && typeof (o.value as { content?: unknown }).content === "string") {
    try {
      text += new TextDecoder().decode(
        Uint8Array.fromBase64((o.value as { content: string }).content),
      );
    } catch { /* not base64 (grep content): the JSON above has it */ }
  }
  if (text.includes(SECRET) || text.includes(PASSWD_MARK)) {
    throw new Error(`${what}: outside content leaked: ${text.slice(0, 300)}`);
  }
}

function expectPathOutcome(o: Outcome, want: Entry["path_expect"], what: string) {
  if (want === "escape") {
    expect({ what, refused: !o.ok && o.message.includes(PATH_ESCAPES) }).toEqual({
      what,
      refused: true,
    });
  } else if (want === "error") {
    expect({ what, failed: !o.ok }).toEqual({ what, failed: true });
  } else {
    // stays inside: may fail (not found, name too long) but is not called an escape
    expect({ what, overRefused: !o.ok && o.message.includes(PATH_ESCAPES) }).toEqual({
      what,
      overRefused: false,
    });
  }
}

function expectPatternOutcome(o: Outcome, want: Entry["pattern_expect"], what: string) {
  const refused = !o.ok && o.message.includes(PATH_ESCAPES);
  expect({ what, refused }).toEqual({ what, refused: want === "escape" });
}

/** Nothing a result names may sit below a directory that resolves outside. */
async function expectNamesInside(ws: Workspace, paths: string[], what: string) {
  for (const p of paths) {
    const parent = dirname(p);
    const inside = await ws.resolve(parent).then(() => true, () => false);
    expect({ what, path: p, parentInside: inside }).toEqual({ what, path: p, parentInside: true });
  }
}

Deno.test("traversal corpus: the data file is well-formed and big enough", () => {
  expect(corpus.entries.length).toBeGreaterThanOrEqual(30);
  for (const e of corpus.entries) {
    expect(["escape", "error", "inside"]).toContain(e.path_expect);
    expect(["escape", "safe"]).toContain(e.pattern_expect);
    expect(e.why.length).toBeGreaterThan(0);
  }
  const kinds = corpus.entries.map((e) => e.path_expect);
  expect(kinds).toContain("escape");
  expect(kinds).toContain("error");
  expect(kinds).toContain("inside");
});

for (const variant of ["real root", "symlinked root"] as const) {
  Deno.test(`traversal corpus: every operation, every entry (${variant})`, async (t) => {
    await using layout = await buildLayout();
    const configuredRoot = variant === "real root" ? layout.wsReal : layout.wsAlias;
    const ws = await Workspace.open(configuredRoot);
    const outsideBefore = await outsideState(layout);
    await guardingPasswd(async () => {
      for (const e of corpus.entries) {
        const path = pathOf(e, configuredRoot, layout.outside);
        const label = JSON.stringify(path).slice(0, 70);
        await t.step(label, async () => {
          const r = await attempt(read, { path }, ws);
          expectNoLeak(r, `read ${label}`);
          expectPathOutcome(r, e.path_expect, `read ${label}`);

          const l = await attempt(list, { path, recursive: true }, ws);
          expectNoLeak(l, `list ${label}`);
          expectPathOutcome(l, e.path_expect, `list ${label}`);
          if (l.ok) {
            const entries = (l.value as { entries: { path: string }[] }).entries;
            await expectNamesInside(ws, entries.map((x) => x.path), `list ${label}`);
          }

          const w = await attempt(write, { path, content: b64(WRITTEN) }, ws);
          expectNoLeak(w, `write ${label}`);
          expectPathOutcome(w, e.path_expect, `write ${label}`);
          expect(await outsideState(layout)).toBe(outsideBefore);

          const g = await attempt(glob, { pattern: path }, ws);
          expectNoLeak(g, `glob ${label}`);
          expectPatternOutcome(g, e.pattern_expect, `glob ${label}`);
          if (g.ok) {
            for (const m of (g.value as { matches: string[] }).matches) {
              await ws.resolve(m); // throws if a match led outside
            }
          }

          const s = await attempt(grep, { pattern: "TOP-SECRET", include: [path] }, ws);
          expectNoLeak(s, `grep ${label}`);
          expectPatternOutcome(s, e.pattern_expect, `grep ${label}`);
          if (s.ok) expect((s.value as { matches: unknown[] }).matches).toEqual([]);
        });
      }
      expect(await outsideState(layout)).toBe(outsideBefore);
      // the writes that were allowed did land inside
      expect(await Deno.readTextFile(join(layout.wsReal, "file.txt"))).toBe(WRITTEN);
    });
  });
}

/**
 * The corpus aims writes at /etc/passwd and the tests may run as root: if a
 * write ever got through, put the file back before failing.
 */
async function guardingPasswd(body: () => Promise<void>) {
  const before = await Deno.readTextFile("/etc/passwd").catch(() => null);
  let failure: unknown;
  try {
    await body();
  } catch (err) {
    failure = err;
  }
  const after = await Deno.readTextFile("/etc/passwd").catch(() => null);
  if (before !== null && after !== before) {
    await Deno.writeTextFile("/etc/passwd", before);
    throw new Error("/etc/passwd was changed by a write (restored)");
  }
  if (failure !== undefined) throw failure;
}

Deno.test("traversal: whole-workspace sweeps never reach through the hostile links", async () => {
  await using layout = await buildLayout();
  const ws = await Workspace.open(layout.wsAlias);
  const all = await attempt(list, { path: ".", recursive: true }, ws);
  expectNoLeak(all, "list -r .");
  const entries = (all as { value: { entries: { path: string }[] } }).value.entries;
  await expectNamesInside(ws, entries.map((e) => e.path), "list -r .");
  // the links themselves are listed by name, nothing below them
  expect(entries.map((e) => e.path)).toContain("link_out");
  expect(entries.filter((e) => e.path.startsWith("link_out/"))).toEqual([]);

  const globbed = await attempt(glob, { pattern: "**" }, ws);
  expectNoLeak(globbed, "glob **");
  const matches = (globbed as { value: { matches: string[] } }).value.matches;
  for (const m of matches) await ws.resolve(m);
  expect(matches).toContain("sub/inside.txt");
  expect(matches).toContain("bounce"); // leaves and comes back: inside
  expect(matches).not.toContain("link_out");

  for (const pattern of ["TOP-SECRET", ".", "root:"]) {
    const found = await attempt(grep, { pattern }, ws);
    expectNoLeak(found, `grep ${pattern}`);
    const paths = (found as { value: { matches: { path: string }[] } }).value.matches.map((m) =>
      m.path
    );
    for (const p of paths) await ws.resolve(p);
    if (pattern === "TOP-SECRET") expect(paths).toEqual([]);
  }
});

Deno.test("traversal: a missing directory inside a symlink target is not folded away", async () => {
  // regression: `nested_trick -> missing/../link_out/secret.txt` used to
  // resolve lexically to `link_out/secret.txt` *without* expanding link_out,
  // so the confinement check passed and the open followed link_out outside.
  await using layout = await buildLayout();
  const ws = await Workspace.open(layout.wsReal);
  const r = await attempt(read, { path: "nested_trick" }, ws);
  expectNoLeak(r, "read nested_trick");
  expect(r.ok).toBe(false);
  expect((r as { message: string }).message).toContain(
    "a symlink leads through a missing directory",
  );
  await expect(ws.resolve("nested_trick")).rejects.toThrow(Deno.errors.NotFound);
});
