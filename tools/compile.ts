/**
 * `deno task compile`: single-file binaries of the runner, one per release
 * target, packed as the reference's releases are named
 * (dist/flashduty-runner_Linux_x86_64.tar.gz, ...).
 *
 *   deno task compile [--dry-run] [--target T]... [--host] [--no-archive]
 *                     [--out-dir DIR]
 *
 * A compiled binary's Deno permissions are fixed here, at compile time, and
 * are broad (see compileFlags): the kernel layer confines the binary to the
 * workspace it is given at run time. `deno compile`
 * downloads the runtime it embeds (denort) from dl.deno.land; without
 * internet access it fails, and this says so (DENORT_BIN=<path> makes it
 * use a local copy instead).
 */
import { join, relative } from "node:path";
import { METADATA_HOSTS, RUNNER_SYS } from "../lib/sandbox/permissions.ts";
import { LIBC_CANDIDATES } from "../lib/sys/libc.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const BINARY = "flashduty-runner";

/** Release targets and their archive names (GoReleaser's {{.Os}}_{{.Arch}} spelling). */
export const TARGETS: readonly { target: string; archive: string }[] = [
  { target: "x86_64-unknown-linux-gnu", archive: "flashduty-runner_Linux_x86_64" },
  { target: "aarch64-unknown-linux-gnu", archive: "flashduty-runner_Linux_arm64" },
  { target: "x86_64-apple-darwin", archive: "flashduty-runner_Darwin_x86_64" },
  { target: "aarch64-apple-darwin", archive: "flashduty-runner_Darwin_arm64" },
];

/** Modules loaded at run time, which `deno compile` cannot find by following imports. */
export const INCLUDES = ["lib/fs/grep_worker.ts"];

/** Files packed next to the binary, when they exist. */
const EXTRAS = ["README.md", "LICENSE", "examples"];

/**
 * The permissions baked into every binary. A binary cannot know the config
 * (nor the workspace) it will get, and Deno cannot narrow a grant at run
 * time, so the baked flags are broad and the kernel layer narrows them:
 * where Linux has Landlock, the binary supervises a child it starts from a
 * confined thread (lib/sandbox/supervisor.ts), which may then write only
 * beneath the workspace the operator configured at run time (plus
 * permission.write_paths) and execute only the programs the rules name.
 * - read, write, run, env: unscoped (the workspace and the programs are
 *   known at run time only; permission.bash and the kernel layer confine);
 * - net: unscoped (webfetch connects to the addresses it checked), cloud
 *   metadata endpoints denied;
 * - sys: the host facts of the heartbeat;
 * - ffi: libc only (Landlock, prctl), at every path glibc lives on the
 *   release targets (lib/sys/libc.ts).
 * Where the kernel layer is missing (macOS, old kernels) only the runner's
 * own checks confine what such a binary writes: the binary logs it, and
 * `sandbox: require` refuses to start.
 */
export function compileFlags(os: "linux" | "darwin"): string[] {
  return [
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-net",
    `--deny-net=${METADATA_HOSTS.join(",")}`,
    "--allow-env",
    `--allow-sys=${RUNNER_SYS.join(",")}`,
    ...(os === "linux" ? [`--allow-ffi=${LIBC_CANDIDATES.join(",")}`] : []),
    "--no-prompt",
  ];
}

export interface Step {
  /** argv; cmd[0] is the program */
  cmd: string[];
  cwd: string;
}

export interface Plan {
  steps: Step[];
  /** the archives the steps make (checksums.txt is written beside them) */
  archives: string[];
}

export interface PlanOptions {
  targets: readonly { target: string; archive: string }[];
  outDir: string;
  archive: boolean;
  /** compile for this machine: no --target (the running Deno's own platform) */
  host?: boolean;
}

/** The exact commands, in order; `--dry-run` prints them. */
export function plan(opts: PlanOptions): Plan {
  const steps: Step[] = [];
  const archives: string[] = [];
  const extras = EXTRAS.filter((e) => exists(join(ROOT, e)));
  for (const t of opts.targets) {
    const stage = join(opts.outDir, t.archive);
    const os = t.target.includes("apple-darwin") ? "darwin" : "linux";
    steps.push({ cwd: ROOT, cmd: ["mkdir", "-p", stage] });
    steps.push({
      cwd: ROOT,
      cmd: [
        Deno.execPath(),
        "compile",
        // Deno 2.9's compiled binaries keep their V8 code cache in one file in the temp
        // directory (`$TMPDIR/deno-compile-<name>.cache`), read at every start without a
        // check of who wrote it: on a shared /tmp any local user could plant compiled code
        // the runner would run with its token (denoland/deno#36143 moves it; still open).
        // No code cache: slower starts, nothing loaded from a place others can write.
        "--no-code-cache",
        ...compileFlags(os),
        ...INCLUDES.map((i) => `--include=${i}`),
        ...(opts.host ? [] : [`--target=${t.target}`]),
        `--output=${join(stage, BINARY)}`,
        "main.ts",
      ],
    });
    if (!opts.archive) continue;
    for (const extra of extras) {
      steps.push({ cwd: ROOT, cmd: ["cp", "-R", extra, `${stage}/`] });
    }
    const tarball = join(opts.outDir, `${t.archive}.tar.gz`);
    steps.push({
      cwd: stage,
      cmd: ["tar", "-czf", tarball, BINARY, ...extras.map((e) => e.split("/").pop()!)],
    });
    archives.push(tarball);
  }
  return { steps, archives };
}

/** What a failed `deno compile` means, in one paragraph. */
export function explainCompileFailure(target: string, stderr: string): string {
  if (/dl\.deno\.land|denort|Setting up base binary/i.test(stderr)) {
    return `deno compile could not get the Deno runtime for ${target}: it downloads ` +
      `denort-${target}.zip from dl.deno.land, which this machine cannot reach. Build on a ` +
      `machine with internet access (the release workflow does), or point DENORT_BIN at a ` +
      `local denort binary of Deno ${Deno.version.deno} for that target.`;
  }
  const last = stderr.trim().split("\n").filter((l) => l.trim() !== "").slice(-3).join(" / ");
  return `deno compile failed for ${target}: ${last || "no error output"}`;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A step as a shell line (for --dry-run and for errors). */
export function render(step: Step): string {
  const cd = step.cwd === ROOT ? "" : `(cd ${shellQuote(relativeToRoot(step.cwd))} && `;
  return cd + step.cmd.map((w, i) => i === 0 && w === Deno.execPath() ? "deno" : shellQuote(w))
    .join(" ") +
    (cd ? ")" : "");
}

function relativeToRoot(path: string): string {
  const rel = relative(ROOT, path);
  return rel.startsWith("..") ? path : rel || ".";
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

class Usage extends Error {}

export function parseArgs(args: string[]): PlanOptions & { dryRun: boolean } {
  const opts = {
    targets: [] as { target: string; archive: string }[],
    outDir: join(ROOT, "dist"),
    archive: true,
    host: false,
    dryRun: false,
  };
  const value = (i: number, flag: string) => {
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Usage(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--dry-run") opts.dryRun = true;
    else if (a === "--no-archive") opts.archive = false;
    else if (a === "--host") opts.host = true;
    else if (a === "--target") {
      const name = value(i++, a);
      const t = TARGETS.find((t) => t.target === name);
      if (!t) {
        throw new Usage(
          `unknown target ${JSON.stringify(name)} (known: ${
            TARGETS.map((t) => t.target).join(", ")
          })`,
        );
      }
      opts.targets.push(t);
    } else if (a === "--out-dir") opts.outDir = absolute(value(i++, a));
    else throw new Usage(`unknown argument ${JSON.stringify(a)}`);
  }
  if (opts.host) {
    if (opts.targets.length > 0) throw new Usage("--host and --target exclude each other");
    const t = TARGETS.find((t) => t.target === Deno.build.target);
    if (!t) throw new Usage(`this machine (${Deno.build.target}) is not a release target`);
    opts.targets.push(t);
  }
  if (opts.targets.length === 0) opts.targets.push(...TARGETS);
  return opts;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : join(Deno.cwd(), path);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const BUILD_INFO = new URL("../lib/ops/build_info.ts", import.meta.url);

/**
 * lib/ops/build_info.ts with COMMIT and BUILT set, so `version` in a release
 * binary names what it was built from. Throws if the file's shape changed
 * (a release must never say "dev" silently).
 */
export function stampBuildInfo(source: string, commit: string, built: string): string {
  const out = source
    .replace(/^export const COMMIT = ".*";$/m, `export const COMMIT = ${JSON.stringify(commit)};`)
    .replace(/^export const BUILT = ".*";$/m, `export const BUILT = ${JSON.stringify(built)};`);
  if (!out.includes(JSON.stringify(commit)) || !out.includes(JSON.stringify(built))) {
    throw new Error("lib/ops/build_info.ts: COMMIT/BUILT lines not found");
  }
  return out;
}

async function gitCommit(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["rev-parse", "--short=12", "HEAD"] }).output()
    .catch(() => undefined);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
}

async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs(args);
  } catch (err) {
    if (!(err instanceof Usage)) throw err;
    console.error(`compile: ${err.message}`);
    return 2;
  }
  const { steps, archives } = plan(opts);
  if (opts.dryRun) {
    for (const step of steps) console.log(render(step));
    if (archives.length > 0) {
      console.log(`# then: sha256 of each archive -> ${join(opts.outDir, "checksums.txt")}`);
    }
    return 0;
  }
  await Deno.mkdir(opts.outDir, { recursive: true });
  // Stamped for the compiles, restored afterwards: the source tree keeps saying "dev".
  const original = await Deno.readTextFile(BUILD_INFO);
  await Deno.writeTextFile(
    BUILD_INFO,
    stampBuildInfo(original, await gitCommit(), new Date().toISOString().slice(0, 19) + "Z"),
  );
  try {
    return await runSteps(steps, archives, opts.outDir);
  } finally {
    await Deno.writeTextFile(BUILD_INFO, original);
  }
}

async function runSteps(steps: Step[], archives: string[], outDir: string): Promise<number> {
  for (const step of steps) {
    console.error(`+ ${render(step)}`);
    const compiling = step.cmd[1] === "compile";
    const out = await new Deno.Command(step.cmd[0], {
      args: step.cmd.slice(1),
      cwd: step.cwd,
      stdout: "inherit",
      stderr: compiling ? "piped" : "inherit",
    }).output();
    if (compiling) await Deno.stderr.write(out.stderr);
    if (!out.success) {
      const target = step.cmd.find((w) => w.startsWith("--target="))?.slice(9) ?? Deno.build.target;
      console.error(
        compiling
          ? `compile: ${explainCompileFailure(target, new TextDecoder().decode(out.stderr))}`
          : `compile: step failed with exit code ${out.code}: ${render(step)}`,
      );
      return 1;
    }
  }
  if (archives.length > 0) {
    const lines = [];
    for (const a of archives) lines.push(`${await sha256(a)}  ${a.split("/").pop()}`);
    await Deno.writeTextFile(join(outDir, "checksums.txt"), lines.join("\n") + "\n");
    for (const a of archives) console.error(`built ${relativeToRoot(a)}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
