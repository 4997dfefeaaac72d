import { expect } from "../../tests/deps.ts";
import { join, normalize, relative } from "node:path";
import { Workspace } from "./workspace.ts";
import { PathEscapeError } from "../tasks/errors.ts";

/** lexical as path arithmetic spells it: what the shortcut for plain paths must agree with. */
function byArithmetic(root: string, path: string): string | "escape" {
  const abs = path.startsWith("/") ? normalize(path) : normalize(join(root, path));
  if (abs !== root && !abs.startsWith(root + "/")) return "escape";
  return relative(root, abs) || ".";
}

Deno.test("workspace.lexical: plain paths kept as written agree with path arithmetic, every other form too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fdr-lexical-" });
  try {
    const ws = await Workspace.open(dir);
    const parts = ["a", "b.txt", ".", "..", "", ".x", "..y", "z..", "...", " "];
    const paths = new Set<string>(["", "/", "a", "a/", "/a", "a//b", ws.root, `${ws.root}/a/../b`]);
    // every path of up to four parts from that alphabet: dots, empties, hidden names
    const grow = (prefix: string, depth: number) => {
      for (const p of parts) {
        const path = prefix === "" ? p : `${prefix}/${p}`;
        paths.add(path);
        if (depth > 1) grow(path, depth - 1);
      }
    };
    grow("", 4);
    for (const path of paths) {
      const want = byArithmetic(ws.root, path);
      let got: string;
      try {
        got = ws.lexical(path);
      } catch (err) {
        if (!(err instanceof PathEscapeError)) throw err;
        got = "escape";
      }
      if (got !== want) throw new Error(`lexical(${JSON.stringify(path)}) = ${got}, want ${want}`);
    }
    expect(paths.size).toBeGreaterThan(10_000);
    expect(ws.lexical("a/b.txt")).toBe("a/b.txt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
