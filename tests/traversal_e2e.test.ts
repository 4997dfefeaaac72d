import { expect } from "./deps.ts";
import { dirname, join } from "node:path";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";

/**
 * The traversal corpus again, end to end: the platform simulator sends each
 * escaping path to the real runner (supervised, under its derived Deno
 * permissions) as `read` and `write` tasks. tests/traversal.test.ts covers
 * every operation and outcome at the operation level; this proves the same
 * refusals reach the platform intact.
 */
interface Entry {
  path: string;
  why: string;
  path_expect: string;
  repeat?: unknown;
}
const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/traversal_paths.json", import.meta.url)),
) as {
  layout: {
    outside_files: Record<string, string>;
    workspace_files: Record<string, string>;
    symlinks: Record<string, string>;
  };
  entries: Entry[];
};
const SECRET = "TOP-SECRET-OUTSIDE-CONTENT";

async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(`${p}:${e.isFile ? await Deno.readTextFile(p) : "link"}`);
    }
  };
  await walk(dir);
  return out.sort().join("\n");
}

Deno.test("traversal corpus through the real runner: every escape is refused, nothing leaks", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-trav-" }));
  const ws = join(dir, "ws");
  const outside = join(dir, "outside");
  const fill = (s: string) =>
    s.replaceAll("{outside}", outside).replaceAll("{ws_real}", ws).replaceAll("{ws}", ws);
  for (
    const [root, files] of [[outside, corpus.layout.outside_files], [
      ws,
      corpus.layout.workspace_files,
    ]] as const
  ) {
    for (const [rel, text] of Object.entries(files)) {
      await Deno.mkdir(dirname(join(root, rel)), { recursive: true });
      await Deno.writeTextFile(join(root, rel), text);
    }
  }
  for (const [rel, target] of Object.entries(corpus.layout.symlinks)) {
    await Deno.mkdir(dirname(join(ws, rel)), { recursive: true });
    await Deno.symlink(fill(target), join(ws, rel));
  }
  const escapes = corpus.entries.filter((e) => e.path_expect === "escape" && !e.repeat);
  expect(escapes.length).toBeGreaterThanOrEqual(15);
  const before = await snapshot(outside);

  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token, workspace: ws });
  try {
    await sim.waitFor((e) => e.type === "heartbeat");
    for (const e of escapes) {
      const path = fill(e.path);
      for (
        const [op, args] of [["read", { path }], ["write", {
          path,
          content: btoa("PWNED"),
        }]] as const
      ) {
        const r = await sim.request(op, args);
        const what = `${op} ${JSON.stringify(e.path)} (${e.why})`;
        expect({ what, success: r.success }).toEqual({ what, success: false });
        expect({ what, error: r.error }).toEqual({
          what,
          error: expect.stringContaining("path escapes workspace"),
        });
        expect(JSON.stringify(r)).not.toContain(SECRET);
      }
    }
    expect(await snapshot(outside)).toBe(before);
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});
