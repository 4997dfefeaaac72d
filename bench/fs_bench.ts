/**
 * `deno task bench:fs`: what opening through descriptors (lib/fs/beneath.ts)
 * costs against Deno's own path-based calls, in the same run. Each row is a
 * ratio: Beneath (openat2, then the per-component openat walk) over the
 * Deno call doing the same work on the same file.
 *
 *   read 1 KB      ws.fs.openFile + read + close   vs Deno.readFileSync
 *   read, nested   the same, a file 6 directories down
 *   write 1 KB     ws.fs.writeAtomic                vs Deno.writeFile (+ rename: atomic too)
 *   list 200       walk of one directory            vs Deno.readDir
 */
import { join } from "node:path";
import { Workspace } from "../lib/fs/workspace.ts";
import { Beneath } from "../lib/fs/beneath.ts";
import { walk } from "../lib/fs/walk.ts";
import type { WorkspaceFs } from "../lib/fs/workspace_fs.ts";

const N = Number(Deno.args[0] ?? 2000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return median(out) * 1000; // µs
}

const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-fsbench-" }));
try {
  const nested = "a/b/c/d/e/f";
  await Deno.mkdir(join(root, nested), { recursive: true });
  await Deno.mkdir(join(root, "many"));
  const kb = new Uint8Array(1024).fill(120);
  await Deno.writeFile(join(root, "one.txt"), kb);
  await Deno.writeFile(join(root, nested, "deep.txt"), kb);
  for (let i = 0; i < 200; i++) await Deno.writeFile(join(root, "many", `f${i}.txt`), kb);

  const ws = await Workspace.open(root);
  const ways: [string, WorkspaceFs][] = [[ws.fs.kind, ws.fs]];
  Deno.env.set("FLASHDUTY_RUNNER_NO_OPENAT2", "1");
  const walkFs = Beneath.open(root, async (rel, d) => ws.relative(await ws.resolve(rel, d)));
  Deno.env.delete("FLASHDUTY_RUNNER_NO_OPENAT2");
  if (walkFs) ways.push([walkFs.kind, walkFs]);

  const readVia = (fs: WorkspaceFs, rel: string) => async () => {
    const f = await fs.openFile(rel, rel, "read");
    try {
      await f.read(0, f.size);
    } finally {
      f.close();
    }
  };
  const rows: [string, number, string, number][] = [];
  for (const [kind, fs] of ways) {
    rows.push([
      `read 1 KB (${kind})`,
      await time(readVia(fs, "one.txt")),
      "Deno.readFileSync",
      await time(() => Deno.readFileSync(join(root, "one.txt"))),
    ]);
    rows.push([
      `read 1 KB, 6 dirs down (${kind})`,
      await time(readVia(fs, `${nested}/deep.txt`)),
      "Deno.readFileSync",
      await time(() => Deno.readFileSync(join(root, nested, "deep.txt"))),
    ]);
    rows.push([
      `write 1 KB atomically (${kind})`,
      await time(() => fs.writeAtomic("w.txt", kb, "w.txt")),
      "Deno.writeFile + fsync + rename",
      await time(async () => {
        const tmp = join(root, "w2.tmp");
        const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
        await f.write(kb);
        await f.sync();
        f.close();
        await Deno.rename(tmp, join(root, "w2.txt"));
      }),
    ]);
    rows.push([
      `list 200 entries (${kind})`,
      await time(() => walk(fs, "many", () => "skip", { withStat: true })),
      "Deno.readDir + lstat",
      await time(async () => {
        for await (const e of Deno.readDir(join(root, "many"))) {
          await Deno.lstat(join(root, "many", e.name));
        }
      }),
    ]);
  }
  console.log(`median of ${N} runs each, µs; ratio = descriptor way / Deno's path way`);
  for (const [name, ours, baseName, base] of rows) {
    console.log(
      `${name.padEnd(34)} ${ours.toFixed(1).padStart(8)}  vs ${baseName.padEnd(32)} ${
        base.toFixed(1).padStart(8)
      }  ratio ${(ours / base).toFixed(2)}`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
