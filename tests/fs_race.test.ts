/**
 * Symlink-swap races (issue 12): while tasks run, a local process swaps a
 * workspace directory for a symlink to an outside directory, over and over.
 * Through the real runner under its sandbox, every file operation must
 * never return outside content, never list an outside name, and never
 * create a file outside: in both ways lib/fs/beneath.ts opens paths
 * (openat2, and the per-component openat walk). A control shows the
 * path-based way (lib/fs/path_fs.ts, the code these operations used before)
 * does leak under the same swapper, so the attack is real on this machine.
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { PathFs } from "../lib/fs/path_fs.ts";
import { libcPath } from "../lib/sys/libc.ts";
import { unb64 } from "./file_ops_support.ts";

const OUTSIDE_SECRET = "OUTSIDE-SECRET-CONTENT";
const OUTSIDE_ONLY = "outside_only_name.txt";
const CONFIG = 'permission:\n  bash:\n    "*": deny\n    "cat *": allow\n';

interface Layout {
  base: string;
  ws: string;
  outside: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function layout(): Promise<Layout> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-race-" }));
  const ws = join(base, "ws");
  const outside = join(base, "outside");
  await Deno.mkdir(join(ws, "d", "sub"), { recursive: true });
  await Deno.mkdir(join(outside, "sub"), { recursive: true });
  await Deno.writeTextFile(join(ws, "d", "secret.txt"), "inside content\n");
  await Deno.writeTextFile(join(outside, "secret.txt"), `${OUTSIDE_SECRET}\n`);
  // past 64 KiB a read leaves the event loop thread (lib/fs/beneath.ts): that way is raced too
  await Deno.writeTextFile(join(ws, "d", "big.txt"), "inside content\n".repeat(5000));
  await Deno.writeTextFile(join(outside, "big.txt"), `${OUTSIDE_SECRET}\n`.repeat(5000));
  await Deno.writeTextFile(join(outside, OUTSIDE_ONLY), `${OUTSIDE_SECRET}\n`);
  return {
    base,
    ws,
    outside,
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }).catch(() => {}),
  };
}

/** Every file below `dir` (names relative to it). */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(join(d, e.name), r);
      else out.push(r);
    }
  };
  await walk(dir, "");
  return out.sort();
}

/**
 * A separate process that swaps `ws/d` and a symlink to `outside` with
 * renameat2(RENAME_EXCHANGE) as fast as it can until killed: `d` is always
 * either the directory or the symlink, about half the time each. Separate,
 * so the swaps really race the runner's system calls.
 */
function startSwapper(ws: string, outside: string): Deno.ChildProcess {
  const code = `
    const [d, link, outside, libc] = Deno.args;
    Deno.symlinkSync(outside, link);
    const lib = Deno.dlopen(libc, {
      renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
    });
    const c = (s) => new TextEncoder().encode(s + "\\0");
    const a = c(d), b = c(link);
    for (;;) lib.symbols.renameat2(-100, a, -100, b, 2); // AT_FDCWD, RENAME_EXCHANGE`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code, join(ws, "d"), join(ws, "d.link"), outside, libcPath()!],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function stopSwapper(p: Deno.ChildProcess, ws: string): Promise<void> {
  p.kill("SIGKILL");
  await p.status;
  // leave `d` the real directory again, whichever way the last exchange left it
  const d = join(ws, "d");
  if ((await Deno.lstat(d)).isSymlink) {
    await Deno.remove(d);
    await Deno.rename(join(ws, "d.link"), d);
  } else await Deno.remove(join(ws, "d.link"));
}

const TASKS: [string, Record<string, unknown>][] = [
  ["read", { path: "d/secret.txt" }],
  ["read", { path: "d/big.txt" }],
  ["bash", { command: "cat < d/secret.txt" }],
  ["bash", { command: "cat d/secret.txt > /dev/null; cat < d/secret.txt" }],
  ["grep", { pattern: "SECRET|inside" }],
  ["list", { path: "d" }],
  ["list", { path: ".", recursive: true }],
  ["glob", { pattern: "**/*.txt" }],
  ["write", { path: "d/sub/f.txt", content: btoa("written") }],
];

for (const mode of ["openat2", "openat"] as const) {
  Deno.test({
    name: `fs race (${mode}): swapping a workspace dir for a symlink outside leaks nothing`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await using l = await layout();
    const sim = await PlatformSimulator.start();
    const runner = await startRunner({
      url: sim.url,
      token: sim.token,
      workspace: l.ws,
      config: CONFIG,
      env: mode === "openat" ? { FLASHDUTY_RUNNER_NO_OPENAT2: "1" } : {},
    });
    const swapper = startSwapper(l.ws, l.outside);
    const seen = { ok: 0, failed: 0 };
    const leaks: string[] = [];
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 30_000);
      // the sandboxed runner really opens through descriptors, in the mode under test
      await runner.waitForLog(new RegExp(`opened through descriptors \\(${mode}\\)`));
      const rounds = 40;
      for (let round = 0; round < rounds; round++) {
        const results = await Promise.all(
          TASKS.map(([op, args]) => sim.request(op, args, { timeoutMs: 60_000 })),
        );
        results.forEach((r, i) => {
          if (r.success) seen.ok++;
          else seen.failed++;
          // a read's content is base64: looked at as the bytes it carries
          const content = (r.result as { content?: unknown } | undefined)?.content;
          const text = JSON.stringify(r) +
            (TASKS[i][0] === "read" && typeof content === "string" ? unb64(content) : "");
          if (text.includes(OUTSIDE_SECRET) || text.includes(OUTSIDE_ONLY)) {
            leaks.push(`${TASKS[i][0]} ${JSON.stringify(TASKS[i][1])}: ${text.slice(0, 300)}`);
          }
        });
      }
    } finally {
      await stopSwapper(swapper, l.ws);
      await runner.stop();
      await sim.close();
    }
    expect(leaks).toEqual([]);
    // nothing was created outside: no written file, no stray temp file
    expect(await filesBelow(l.outside)).toEqual(["big.txt", OUTSIDE_ONLY, "secret.txt"]);
    // the tasks really ran, and some met the directory as itself
    expect(seen.ok).toBeGreaterThan(0);
  });
}

Deno.test({
  name: "fs race control: the path-based way (check, then open by path) does leak",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using l = await layout();
  const ws = await Workspace.open(l.ws);
  const realRel = async (rel: string, display: string) =>
    ws.relative(await ws.resolve(rel, display));
  const paths = new PathFs(ws.root, realRel);
  const swapper = startSwapper(l.ws, l.outside);
  let leaked = 0;
  try {
    // rounds until the race is won once: on a loaded machine it may take a while
    for (let round = 0; round < 50 && leaked === 0; round++) {
      for (let i = 0; i < 400; i++) {
        try {
          const f = await paths.openFile("d/secret.txt", "d/secret.txt", "read");
          try {
            const text = new TextDecoder().decode(await f.read(0, 100));
            if (text.includes(OUTSIDE_SECRET)) leaked++;
          } finally {
            f.close();
          }
        } catch { /* refused or missing this time */ }
      }
    }
  } finally {
    await stopSwapper(swapper, l.ws);
  }
  expect(leaked).toBeGreaterThan(0);
});
