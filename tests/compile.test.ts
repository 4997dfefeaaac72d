/**
 * tools/compile.ts: the exact `deno compile` commands (--dry-run), the
 * archive names the release uses, the permissions baked into a binary, and
 * a real attempt that either builds or says clearly why it cannot.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import {
  compileFlags,
  explainCompileFailure,
  INCLUDES,
  plan,
  render,
  stampBuildInfo,
  TARGETS,
} from "../tools/compile.ts";
import { METADATA_HOSTS } from "../lib/sandbox/permissions.ts";
import { LIBC_CANDIDATES } from "../lib/sys/libc.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const TOOL = join(ROOT, "tools/compile.ts");

async function compile(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", TOOL, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("compile --dry-run: one deno compile per release target, archives named as the reference's", async () => {
  const { code, stdout } = await compile("--dry-run", "--out-dir", "/tmp/fdr-dist");
  expect(code).toBe(0);
  const lines = stdout.trim().split("\n");
  const compiles = lines.filter((l) => l.startsWith("deno compile "));
  expect(compiles).toHaveLength(4);
  expect(compiles.map((l) => /--target=(\S+)/.exec(l)![1])).toEqual([
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
  ]);
  for (const l of compiles) {
    expect(l).toContain(" --include=lib/fs/grep_worker.ts ");
    expect(l).toContain(" --allow-write ");
    // no code cache file in the shared temp directory (tools/compile.ts says why)
    expect(l).toContain(" --no-code-cache ");
    expect(l).toMatch(
      / --output=\/tmp\/fdr-dist\/flashduty-runner_\w+\/flashduty-runner main\.ts$/,
    );
  }
  const tars = lines.filter((l) => l.includes("tar -czf"));
  expect(tars.map((l) => /tar -czf (\S+)/.exec(l)![1])).toEqual([
    "/tmp/fdr-dist/flashduty-runner_Linux_x86_64.tar.gz",
    "/tmp/fdr-dist/flashduty-runner_Linux_arm64.tar.gz",
    "/tmp/fdr-dist/flashduty-runner_Darwin_x86_64.tar.gz",
    "/tmp/fdr-dist/flashduty-runner_Darwin_arm64.tar.gz",
  ]);
  for (const t of tars) expect(t).toMatch(/ flashduty-runner( |\)|$)/);
  expect(lines.at(-1)).toBe("# then: sha256 of each archive -> /tmp/fdr-dist/checksums.txt");
  // what the dry run prints is what a real run executes
  const p = plan({
    targets: TARGETS,
    outDir: "/tmp/fdr-dist",
    archive: true,
  });
  expect(lines.slice(0, -1)).toEqual(p.steps.map(render));
});

Deno.test("compile: the baked flags are broad; the kernel layer confines at run time", () => {
  const linux = compileFlags("linux");
  expect(linux).toEqual([
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-net",
    `--deny-net=${METADATA_HOSTS.join(",")}`,
    "--allow-env",
    "--allow-sys=hostname,osRelease,systemMemoryInfo,loadavg,statfs,homedir",
    `--allow-ffi=${LIBC_CANDIDATES.join(",")}`,
    "--no-prompt",
  ]);
  // no Landlock on macOS: no FFI either
  expect(compileFlags("darwin").some((f) => f.startsWith("--allow-ffi"))).toBe(false);
  // every runtime-loaded module the code names exists (a typo would only show in a binary)
  for (const include of INCLUDES) expect(Deno.statSync(join(ROOT, include)).isFile).toBe(true);
});

Deno.test("compile: --target, --host and --no-archive narrow the plan; bad input is a usage error", async () => {
  const one = await compile("--dry-run", "--target", "aarch64-apple-darwin", "--no-archive");
  expect(one.code).toBe(0);
  expect(one.stdout.trim().split("\n")).toHaveLength(2); // mkdir, compile
  expect(one.stdout).toContain("--target=aarch64-apple-darwin");
  expect(one.stdout).not.toContain("tar ");
  const host = await compile("--dry-run", "--host", "--no-archive");
  expect(host.code).toBe(0);
  expect(host.stdout).not.toContain("--target=");
  for (
    const [args, message] of [
      [["--target", "x86_64-pc-windows-msvc"], /unknown target "x86_64-pc-windows-msvc" \(known: /],
      [["--workspace", "/ws"], /unknown argument "--workspace"/],
      [["--host", "--target", "x86_64-apple-darwin"], /--host and --target exclude each other/],
      [["--frobnicate"], /unknown argument "--frobnicate"/],
    ] as const
  ) {
    const r = await compile("--dry-run", ...args);
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 2,
      stderr: expect.stringMatching(message),
    });
  }
});

Deno.test("compile: a real build either produces the archive or says why it cannot", async () => {
  const out = await Deno.makeTempDir({ prefix: "fdr-compile-" });
  try {
    const r = await compile("--target", "x86_64-unknown-linux-gnu", "--out-dir", out);
    if (r.code === 0) {
      // a machine that reaches dl.deno.land
      const archive = join(out, "flashduty-runner_Linux_x86_64.tar.gz");
      expect(Deno.statSync(archive).size).toBeGreaterThan(1_000_000);
      const sums = await Deno.readTextFile(join(out, "checksums.txt"));
      expect(sums).toMatch(/^[0-9a-f]{64} {2}flashduty-runner_Linux_x86_64\.tar\.gz\n$/);
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "compile: deno compile could not get the Deno runtime for x86_64-unknown-linux-gnu",
      );
      expect(r.stderr).toContain("DENORT_BIN");
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("compile: failures other than the download are reported with their last lines", () => {
  expect(explainCompileFailure("x86_64-apple-darwin", 'error: Module not found "file:///x.ts".\n'))
    .toBe('deno compile failed for x86_64-apple-darwin: error: Module not found "file:///x.ts".');
  expect(explainCompileFailure("t", "")).toBe("deno compile failed for t: no error output");
});

Deno.test("compile: a release build stamps commit and build date into `version`", async () => {
  const source = await Deno.readTextFile(join(ROOT, "lib/ops/build_info.ts"));
  const stamped = stampBuildInfo(source, "0123456789ab", "2026-12-02T03:00:00Z");
  expect(stamped).toContain('export const COMMIT = "0123456789ab";');
  expect(stamped).toContain('export const BUILT = "2026-12-02T03:00:00Z";');
  expect(stamped).not.toMatch(/= "dev"/);
  expect(() => stampBuildInfo("export const X = 1;", "c", "b")).toThrow(/not found/);
});
