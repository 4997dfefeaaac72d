/**
 * Deno's V8 code cache and the confined runner (lib/sandbox/code_cache.ts):
 * the supervisor fills the cache for the child's modules from outside the
 * kernel layer's domain, once per module set, and nothing inside the domain
 * (the runner child, the commands it runs) can write DENO_DIR: the cache
 * holds compiled code the unconfined supervisor loads at its next start.
 * The attacks are data: tests/redteam/code_cache.json.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";
import {
  codeCachePath,
  denoDir,
  planWarmup,
  writableCodeCache,
} from "../lib/sandbox/code_cache.ts";

interface Payload {
  id: string;
  command: string;
}
const CORPUS: { programs: string[]; payloads: Payload[] } = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/code_cache.json", import.meta.url)),
);

const RUNNER_MODULE = new URL("../lib/runner.ts", import.meta.url).href;

function has(program: string): boolean {
  return ["/usr/bin", "/bin"].some((d) => {
    try {
      return Deno.statSync(join(d, program)).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * A DENO_DIR of the test's own, without any code cache: the npm packages,
 * transpiled and remote modules of this one hard-linked (copied if that
 * fails), so the runner starts without a download.
 */
async function freshDenoDir(root: string): Promise<string> {
  const from = denoDir();
  if (!from) throw new Error("cannot tell where this process's DENO_DIR is");
  const to = join(root, "deno_dir");
  await Deno.mkdir(to);
  for (const sub of ["npm", "gen", "remote"]) {
    if (!await Deno.stat(join(from, sub)).then(() => true, () => false)) continue;
    const linked = await new Deno.Command("cp", { args: ["-al", join(from, sub), to] }).output();
    if (!linked.success) {
      const copied = await new Deno.Command("cp", { args: ["-r", join(from, sub), to] }).output();
      if (!copied.success) throw new Error(`could not copy ${join(from, sub)}`);
    }
  }
  return to;
}

/** The specifiers Deno's code cache in `dd` holds. */
function cachedModules(dd: string): string[] {
  const db = new DatabaseSync(join(dd, "v8_code_cache_v2"), { readOnly: true });
  try {
    return (db.prepare("SELECT specifier FROM codecache").all() as { specifier: string }[])
      .map((r) => r.specifier);
  } finally {
    db.close();
  }
}

/** What each of `files` holds (sha-256, hex), "absent" for a missing one. */
async function digests(files: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of files) {
    try {
      const bytes = await Deno.readFile(f);
      const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      out[f] = [...sum].map((b) => b.toString(16).padStart(2, "0")).join("");
    } catch {
      out[f] = "absent";
    }
  }
  return out;
}

const layer = probeLandlock();

Deno.test({
  name: "code cache: the supervisor warms the confined child's modules once; nothing in the " +
    "domain can write DENO_DIR (tests/redteam/code_cache.json)",
  ignore: !layer.available,
  async fn() {
    const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "code_cache_" }));
    const ws = join(root, "ws");
    await Deno.mkdir(ws);
    await Deno.writeTextFile(join(ws, "a.txt"), "not compiled code\n");
    const dd = await freshDenoDir(root);
    const programs = CORPUS.programs.filter(has);
    const config = "sandbox: require\npermission:\n  bash:\n" +
      programs.map((p) => `    "${p} *": allow\n`).join("");
    const sim = await PlatformSimulator.start();
    let runner = await startRunner({
      url: sim.url,
      token: sim.token,
      workspace: ws,
      config,
      env: { DENO_DIR: dd },
    });
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 60_000);
      await runner.waitForLog(/code cache warmed for the runner's modules/);
      // lib/runner.ts is loaded by the child only, which cannot write the cache
      expect(cachedModules(dd)).toContain(RUNNER_MODULE);
      const markers = [...Deno.readDirSync(join(dd, "flashduty-runner"))].map((e) =>
        join(dd, "flashduty-runner", e.name)
      );
      expect(markers).toHaveLength(1);
      const marker = markers[0];

      const watched = [
        join(dd, "v8_code_cache_v2"),
        join(dd, "v8_code_cache_v2-wal"),
        join(dd, "planted"),
        marker,
      ];
      const before = await digests(watched);
      const fill = (s: string) => s.replaceAll("@DD@", dd).replaceAll("@MARKER@", marker);
      const results: Record<string, string> = {};
      for (const p of CORPUS.payloads) {
        if (!programs.includes(p.command.split(" ")[0])) continue;
        const r = await sim.request("bash", { command: fill(p.command), timeout: 15 }, {
          timeoutMs: 60_000,
        });
        results[p.id] = r.error ?? `exit ${(r.result as { exit_code: number }).exit_code}`;
      }
      // Each ran (the rules allow it) and the kernel made it fail.
      for (const [id, result] of Object.entries(results)) {
        expect({ id, result }).toEqual({ id, result: expect.stringMatching(/^exit [1-9]/) });
      }
      expect(Object.keys(results).length).toBeGreaterThanOrEqual(8);
      expect(await digests(watched)).toEqual(before);
      expect(await runner.stop()).toBe(0);

      // The marker holds this module set's key: the next start warms nothing.
      runner = await startRunner({
        url: sim.url,
        token: sim.token,
        workspace: ws,
        config,
        env: { DENO_DIR: dd },
      });
      const from = sim.received.length;
      await sim.waitFor((e) => e.type === "heartbeat", 60_000, "a heartbeat", from);
      await runner.waitForLog(/flashduty-runner .* starting/);
      expect(runner.logs()).not.toMatch(/warming the code cache/);
    } finally {
      await runner.stop();
      await sim.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("code cache warmer: no permission but its marker, no network, env reads answer undefined", async () => {
  const dd = await Deno.makeTempDir({ prefix: "code_cache_plan_" });
  try {
    const plan = planWarmup({
      denoFlags: ["--v8-flags=--lite-mode"],
      v8Flags: "--x",
      cacheDir: dd,
    });
    expect(plan).toBeDefined();
    const { args, marker } = plan!;
    expect(args.filter((a) => /^--(allow|deny)-|^-A$/.test(a))).toEqual([
      `--allow-write=${marker}`,
    ]);
    expect(args).toEqual(expect.arrayContaining(["--no-prompt", "--cached-only", "--ignore-env"]));
    // the child's own Deno flags come first, as in the child's argv
    expect(args.slice(0, 2)).toEqual(["run", "--v8-flags=--lite-mode"]);
    expect(marker.startsWith(join(dd, "flashduty-runner") + "/")).toBe(true);
    // code cache off: nothing to warm
    expect(planWarmup({ denoFlags: ["--no-code-cache"], v8Flags: "", cacheDir: dd }))
      .toBeUndefined();
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
});

Deno.test("code cache marker: a matching key skips the warmer; another Deno, V8 flag or module set warms again", async () => {
  const dd = await Deno.makeTempDir({ prefix: "code_cache_key_" });
  try {
    const opts = { denoFlags: [], v8Flags: "--max-semi-space-size=1", cacheDir: dd };
    const plan = planWarmup(opts)!;
    expect(plan.key).toContain(`deno ${Deno.version.deno}`);
    expect(plan.key).toContain("DENO_V8_FLAGS=--max-semi-space-size=1");
    expect(plan.key).toContain(new URL("../lib/runner.ts", import.meta.url).pathname);
    await Deno.writeTextFile(plan.marker, plan.key);
    expect(planWarmup(opts)).toBeUndefined();
    expect(planWarmup({ ...opts, v8Flags: "--lite-mode" })).toBeDefined();
    // a module changed since (its mtime is in the key)
    await Deno.writeTextFile(plan.marker, plan.key.replace(/ \d+$/m, " 1"));
    expect(planWarmup(opts)).toBeDefined();
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
});

Deno.test("code cache: a kernel write path that covers it is named (the supervisor warns)", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const dd = codeCachePath(false, env({ HOME: "/home/r" }));
  expect(dd).toBe("/home/r/.cache/deno");
  expect(codeCachePath(false, env({ DENO_DIR: "/srv/dd", HOME: "/home/r" }))).toBe("/srv/dd");
  // release binaries are compiled with --no-code-cache: no cache file anyone could plant
  expect(codeCachePath(true, env({}))).toBeUndefined();
  expect(writableCodeCache(["/ws", "/dev/null"], dd)).toBeUndefined();
  expect(writableCodeCache(["/ws", "/home/r"], dd)).toBe("/home/r");
  expect(writableCodeCache(["/home/r/.cache/deno"], dd)).toBe("/home/r/.cache/deno");
  // a sibling with the same prefix is not a parent
  expect(writableCodeCache(["/home/r/.cache/den"], dd)).toBeUndefined();
  expect(writableCodeCache(["/tmp"], codeCachePath(true, env({})))).toBeUndefined();
});
