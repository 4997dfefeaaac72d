/**
 * The second sandbox layer: the narrowest Deno permission set the runner
 * needs for a given config, so that a bug in the runner's own checks (the
 * first layer: lib/fs/workspace.ts, lib/policy/) meets
 * Deno's permission checks before it reaches the host.
 *
 * What each grant is derived from (every fact here was measured on Deno
 * 2.9; tests/sandbox_*.test.ts hold them):
 * - read/write: the workspace root; the config file read-only; the
 *   runner's lib/ read-only when it runs from local files (a Worker's
 *   module and its imports need read access); when programs may run, the PATH
 *   directories read-only (the runner looks programs up itself). npm packages and cached
 *   modules load without any grant: Deno's loader is not permission-checked.
 * - run: the programs `permission.bash` allow rules name (a stdio MCP server
 *   is launched under the same rules), resolved by the one lookup both
 *   spawn through (lib/proc/program_path.ts), plus `kill` and `ps` to stop process trees
 *   (see lib/proc/signal.ts, lib/mcp/sandbox_needs.ts). Unscoped
 *   when the rules are trusted (a catch-all allow) or name a program with
 *   a wildcard.
 * - net: the platform's host:port. Unscoped whenever webfetch may fetch at
 *   all: with no `permission.webfetch` rules the built-in policy allows any
 *   public URL, and with allow rules the fetch still connects to the IP
 *   addresses it checked (pinned against DNS rebinding), which host-scoped
 *   flags cannot name. Cloud metadata endpoints are then denied by name and
 *   address unless an allow rule names them literally, as the first layer does.
 * - env: the names the runner and its npm dependencies read (some at import
 *   time: an unlisted name read by a dependency is a crash, not an undefined).
 *   Unscoped as soon as any program may run: the copy of the environment a
 *   command gets is made with Deno.env.toObject(), which needs all of it.
 * - sys: the host facts of the heartbeat and metrics.
 */
import { dirname, isAbsolute, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Rule, RunnerConfig } from "../config.ts";
import { RuleSet } from "../policy/rules.ts";
import { METADATA_ENDPOINTS } from "../policy/blocked_addresses.ts";
import { literalRuleHost } from "../policy/url_policy.ts";
import { findProgram, searchPath } from "../proc/program_path.ts";
import { MCP_HELPER_PROGRAMS, MCP_STDIO_ENV } from "../mcp/sandbox_needs.ts";
import { libcPath } from "../sys/libc.ts";

/** A list of scopes, or the unscoped grant. */
export type Grant = readonly string[] | "all";

export interface DenoPermissions {
  /** read-only and read-write paths */
  read: readonly string[];
  write: readonly string[];
  run: Grant;
  net: Grant;
  /** hosts and addresses denied even under an unscoped net grant */
  denyNet: readonly string[];
  env: Grant;
  sys: readonly string[];
  /** hosts remote modules may be imported from (a runner started from a URL) */
  import: readonly string[];
  /** native libraries the runner may open: libc only (lib/sys/libc.ts says why) */
  ffi: readonly string[];
  /** why each unscoped or surprising grant is what it is; for logs and `permissions` */
  notes: readonly string[];
}

export interface DeriveInput {
  config: RunnerConfig;
  /** the workspace root (created before deriving, so that its real path is known) */
  workspace: string;
  configPath?: string;
  /** the platform's WebSocket URL */
  platformUrl: string;
  /**
   * Deno's cache directory. Accepted for callers that know it, and granted
   * read-only when given: measured, `deno run` itself needs no grant for it
   * (npm packages, remote modules and the grep worker's imports load without
   * one), so the supervisor does not pass it.
   */
  denoDir?: string;
  /** Deno.mainModule: file: grants the lib/ beside it read-only, http(s): --allow-import of its host */
  mainModule?: string;
  /** the PATH programs are resolved through; defaults to this process's */
  path?: string;
  /** what the operator's own settings need (lib/ops/grants.ts): audit log files, metrics listener, proxy */
  operator?: OperatorGrants;
}

/** Grants for the runner's operator features, each with the reason shown by `permissions`. */
export interface OperatorGrants {
  read?: readonly string[];
  write?: readonly string[];
  net?: readonly string[];
  ffi?: readonly string[];
  /** unscoped --allow-env (a dependency that reads the whole environment); the note says why */
  envAll?: boolean;
  notes?: readonly string[];
}

/**
 * Environment variables the runner reads, and why. Dependencies read some
 * at import time: Deno throws NotCapable for an unlisted one, so each was
 * found by loading the runner under these flags (tests/sandbox_runner.test.ts).
 */
export const RUNNER_ENV: Readonly<Record<string, string>> = {
  "FLASHDUTY_RUNNER_*": "the runner's settings (lib/settings.ts) and the sandbox marker",
  HOME: "heartbeat home_dir; the default workspace",
  USER: "heartbeat username",
  LOGNAME: "heartbeat username (fallback)",
  SHELL: "heartbeat shell",
  PATH: "program lookup for commands and stdio MCP servers",
  TZ: "local time in the heartbeat",
  NOTIFY_SOCKET: "systemd Type=notify readiness (lib/ops/sd_notify.ts)",
  WATCHDOG_USEC: "systemd WatchdogSec= keep-alives (lib/ops/sd_notify.ts)",
  HTTP_PROXY: "webfetch: whether Deno's fetch will go through a proxy",
  HTTPS_PROXY: "webfetch: proxy detection",
  ALL_PROXY: "webfetch: proxy detection",
  NO_PROXY: "webfetch: proxy detection",
  http_proxy: "webfetch: proxy detection",
  https_proxy: "webfetch: proxy detection",
  all_proxy: "webfetch: proxy detection",
  no_proxy: "webfetch: proxy detection",
  WS_NO_BUFFER_UTIL: "npm:ws, read when it loads",
  WS_NO_UTF_8_VALIDATE: "npm:ws, read when it loads",
  OSTYPE: "npm:which (the MCP SDK's process launcher), read when it loads",
  __MINIMATCH_TESTING_PLATFORM__: "npm:minimatch, read when it loads",
  LOG_TOKENS: "npm:yaml, read when it parses the config",
  LOG_STREAM: "npm:yaml, read when it parses the config",
  NO_COLOR: "npm:commander help output",
  FORCE_COLOR: "npm:commander help output",
  CLICOLOR_FORCE: "npm:commander help output",
};

/** Deno.* and node:os calls behind the heartbeat and metrics (lib/host_info.ts, lib/settings.ts). */
export const RUNNER_SYS = [
  "hostname",
  "osRelease",
  "systemMemoryInfo",
  "loadavg",
  "statfs",
  "homedir",
];

/**
 * Cloud metadata services, as `--deny-net` names them: derived from the one
 * list in lib/policy/blocked_addresses.ts (which also blocks all of
 * 169.254.0.0/16 and fe80::/10; Deno's flags take no ranges).
 */
export const METADATA_HOSTS: readonly string[] = METADATA_ENDPOINTS.map((e) =>
  e.host.includes(":") ? `[${e.host}]` : e.host
);

/** Why a permission set cannot be written as Deno flags. */
export class PermissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermissionError";
  }
}

export function derivePermissions(input: DeriveInput): DenoPermissions {
  const notes: string[] = [];
  const workspace = absolute(input.workspace);
  const writable = withRealPath(workspace);
  const read = [...writable];
  if (input.configPath) read.push(...withRealPath(absolute(input.configPath)));
  const source = sourceDir(input.mainModule);
  if (source) read.push(source);
  if (input.denoDir) read.push(absolute(input.denoDir));

  const pathEnv = input.path ?? envPath();
  const run = allowedPrograms(input.config.permission.bash, pathEnv, workspace, notes);
  // The runner finds programs itself (stat, realpath of each PATH entry): that is a read.
  if (run === "all" || run.length > 0) read.push(...searchDirs(pathEnv, workspace));
  const { net, denyNet } = network(input.config, input.platformUrl, notes);
  const env = run === "all" || run.length > 0
    ? "all"
    : [...Object.keys(RUNNER_ENV), ...Object.keys(MCP_STDIO_ENV)];
  if (env === "all") {
    notes.push(
      "--allow-env is unscoped: commands and stdio MCP servers run with a copy of the " +
        "runner's environment (FLASHDUTY_* removed), and Deno.env.toObject() needs all of it " +
        "to make that copy; programs inherit the environment anyway",
    );
  }
  const imports = importHosts(input.mainModule);
  const ffi = libcGrant(notes);
  const op = input.operator ?? {};
  notes.push(...(op.notes ?? []));

  const perms: DenoPermissions = {
    read: unique([...read, ...(op.read ?? [])]),
    write: unique([...writable, ...(op.write ?? [])]),
    run,
    net: net === "all" ? net : unique([...net, ...(op.net ?? [])]),
    denyNet,
    env: op.envAll ? "all" : env,
    sys: [...RUNNER_SYS],
    import: imports,
    ffi: unique([...ffi, ...(op.ffi ?? [])]),
    notes,
  };
  // Fail here, not when Deno parses the flags.
  toDenoFlags(perms);
  return perms;
}

/**
 * The C library, for the workspace's descriptor-relative file access
 * (lib/fs/beneath.ts): openat2 and friends through FFI, scoped to that one
 * file (lib/sys/libc.ts finds it under this grant alone). Without libc the
 * runner falls back to path-based access.
 */
function libcGrant(notes: string[]): string[] {
  const libc = libcPath();
  if (!libc) {
    notes.push(
      "no --allow-ffi: no glibc found, so workspace files are opened by path (lib/fs/path_fs.ts), " +
        "which a concurrent symlink swap can outrun; in restricted mode `2>&1` is two pipes " +
        "merged by the runner, so stdout and stderr lines may come out in another order",
    );
    return [];
  }
  notes.push(
    `--allow-ffi=${libc}: the runner makes itself non-dumpable (prctl), so programs it ` +
      "starts cannot read its memory or environment through /proc; workspace files are " +
      "opened with openat2(RESOLVE_BENEATH) through the C library, so no symlink swapped in " +
      "mid-task is followed out (lib/fs/beneath.ts); programs start through posix_spawn, after " +
      "the same --allow-run check Deno.Command makes (lib/proc/spawn_native.ts), and " +
      "restricted mode's `2>&1` is one pipe (pipe2), so stdout and stderr keep their order",
  );
  return [libc];
}

/** The flags for `deno run`, one per element (no shell quoting: pass them as argv). */
export function toDenoFlags(p: DenoPermissions): string[] {
  const list = (name: string, values: readonly string[]) => {
    for (const v of values) {
      if (v === "" || v.includes(",")) {
        throw new PermissionError(
          `--${name}: ${JSON.stringify(v)} cannot be written as a Deno permission ` +
            `(empty, or contains a comma, which Deno's flag syntax cannot escape)`,
        );
      }
    }
    return `--${name}=${values.join(",")}`;
  };
  const grant = (name: string, g: Grant) =>
    g === "all" ? [`--${name}`] : g.length > 0 ? [list(name, g)] : [];
  const flags: string[] = [];
  if (p.read.length > 0) flags.push(list("allow-read", p.read));
  if (p.write.length > 0) flags.push(list("allow-write", p.write));
  flags.push(...grant("allow-run", p.run));
  flags.push(...grant("allow-net", p.net));
  if (p.denyNet.length > 0) flags.push(list("deny-net", p.denyNet));
  flags.push(...grant("allow-env", p.env));
  if (p.sys.length > 0) flags.push(list("allow-sys", p.sys));
  if (p.import.length > 0) flags.push(list("allow-import", p.import));
  if (p.ffi.length > 0) flags.push(list("allow-ffi", p.ffi));
  // A permission the set lacks must fail, never wait on a prompt in a terminal.
  flags.push("--no-prompt");
  return flags;
}

/** `flashduty-runner permissions` output: the flags one per line, then why, as comments. */
export function describePermissions(p: DenoPermissions): string {
  const lines = toDenoFlags(p);
  for (const note of p.notes) lines.push(`# ${note}`);
  return lines.join("\n") + "\n";
}

/**
 * Which programs the bash rules can start (with `kill` and `ps`, which stop
 * their process trees), or "all". Every allow rule counts, even
 * one a later deny narrows (`kubectl *` allow, `kubectl delete *` deny still
 * runs kubectl): the list is a superset of what the rules allow, and
 * the rules stay the precise check. The one derivation behind both Deno's
 * `--allow-run` and the kernel layer's execute list (landlock_rules.ts).
 */
export function allowedPrograms(
  rules: readonly Rule[],
  pathEnv: string,
  workspace: string,
  notes: string[],
): Grant {
  if (new RuleSet(rules).catchAll() === "allow") {
    notes.push(
      '--allow-run is unscoped: permission.bash is trusted (a catch-all "*": allow), ' +
        "so any program, bash included, may be started",
    );
    return "all";
  }
  const found: string[] = [];
  for (const rule of rules) {
    if (rule.action !== "allow") continue;
    const program = programWord(rule.pattern);
    if (program === undefined || program === "cd") continue; // the runner does `cd` itself
    if (program.includes("*")) {
      notes.push(
        `--allow-run is unscoped: the allow rule ${JSON.stringify(rule.pattern)} names its ` +
          `program with a wildcard, so the programs cannot be listed`,
      );
      return "all";
    }
    const resolved = resolveProgram(program, pathEnv, workspace);
    if (resolved.length === 0) {
      notes.push(
        `the allow rule ${JSON.stringify(rule.pattern)} names ${JSON.stringify(program)}, ` +
          `which is not an executable file on PATH now: it cannot run (restart the runner after installing it)`,
      );
      continue;
    }
    found.push(...resolved);
    if (SHELLS.has(program.split("/").pop()!)) {
      notes.push(
        `the allow rule ${JSON.stringify(rule.pattern)} starts a shell or launcher: ` +
          `what it starts in turn is not confined by Deno's flags`,
      );
    }
  }
  if (found.length > 0) {
    // Stopping process trees without Deno.kill (it needs an unscoped --allow-run) and
    // without /proc (Deno opens it only under --allow-all): see lib/proc/signal.ts and
    // lib/mcp/sandbox_needs.ts.
    for (const helper of HELPER_PROGRAMS) {
      const paths = resolveProgram(helper, pathEnv, workspace);
      if (paths.length > 0) found.push(...paths);
      else {
        notes.push(
          `no ${helper} program on PATH (used because it ${HELPER_WHY[helper]}): a stopped ` +
            `command's or MCP server's leftover processes may survive it`,
        );
      }
    }
  }
  return unique(found);
}

/** kill for lib/proc/signal.ts, ps and kill for lib/proc/process_tree.ts */
const HELPER_WHY: Record<string, string> = {
  kill: "signals a command's process group (Deno.kill cannot under a run list)",
  ...MCP_HELPER_PROGRAMS,
};
const HELPER_PROGRAMS = Object.keys(HELPER_WHY);

const SHELLS = new Set([
  "bash",
  "sh",
  "dash",
  "zsh",
  "ksh",
  "fish",
  "env",
  "xargs",
  "sudo",
  "nohup",
  "timeout",
  "nice",
  "busybox",
  "python",
  "python3",
  "perl",
  "node",
  "deno",
]);

/**
 * Each program an allow rule names (no wildcard, not `cd`) and the file the
 * one lookup finds for it, or undefined when none: what `doctor` reports.
 */
export function namedPrograms(
  rules: readonly Rule[],
  pathEnv: string,
  workspace: string,
): { program: string; path?: string }[] {
  const out: { program: string; path?: string }[] = [];
  for (const rule of rules) {
    if (rule.action !== "allow") continue;
    const program = programWord(rule.pattern);
    if (program === undefined || program === "cd" || program.includes("*")) continue;
    if (out.some((p) => p.program === program)) continue;
    out.push({ program, path: resolveProgram(program, pathEnv, workspace)[0] });
  }
  return out;
}

/** The first word of a pattern that is not a `NAME=value` assignment. */
function programWord(pattern: string): string | undefined {
  for (const word of pattern.trim().split(/\s+/)) {
    if (word === "") continue;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) continue;
    return word;
  }
  return undefined;
}

/**
 * The path Deno will compare a spawn of `program` against: the file the
 * one lookup (lib/proc/program_path.ts) finds, which is what both the bash
 * executor and a stdio MCP launch spawn, by that very path.
 */
function resolveProgram(program: string, pathEnv: string, workspace: string): string[] {
  const found = findProgram(program, searchPath(pathEnv, workspace), {
    cwd: workspace,
    workspaceRoot: workspace,
  });
  return found !== undefined && isExecutable(found) ? [normalize(found)] : [];
}

/** The directories the runner searches (real paths): looking a program up reads them. */
function searchDirs(pathEnv: string, workspace: string): string[] {
  return searchPath(pathEnv, workspace).filter((dir) => {
    try {
      return Deno.statSync(dir).isDirectory;
    } catch {
      return false;
    }
  });
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

function network(
  config: RunnerConfig,
  platformUrl: string,
  notes: string[],
): { net: Grant; denyNet: string[] } {
  let platform: URL;
  try {
    platform = new URL(platformUrl);
  } catch {
    throw new PermissionError(`platform URL ${JSON.stringify(platformUrl)} is not a URL`);
  }
  if (platform.protocol !== "ws:" && platform.protocol !== "wss:") {
    throw new PermissionError(`platform URL must be ws:// or wss://, not ${platform.protocol}`);
  }
  const rules = config.permission.webfetch;
  const allowRules = rules?.filter((r) => r.action === "allow") ?? [];
  if (rules !== undefined && allowRules.length === 0) {
    // webfetch and HTTP MCP servers can reach nothing: only the platform.
    const port = platform.port || (platform.protocol === "wss:" ? "443" : "80");
    return { net: [`${platform.hostname}:${port}`], denyNet: [] };
  }
  notes.push(
    rules === undefined
      ? "--allow-net is unscoped: permission.webfetch has no rules, and the built-in policy " +
        "allows any public http(s) URL (link-local and metadata addresses excepted)"
      : "--allow-net is unscoped: webfetch connects to the IP addresses it checked (pinned " +
        "against DNS rebinding), which host-scoped flags cannot name; permission.webfetch " +
        "rules are what limit it",
  );
  const named = new Set(
    allowRules.map((r) => literalRuleHost(r.pattern)).filter((h) => h !== undefined),
  );
  const denyNet = METADATA_HOSTS.filter((h) => !named.has(h.replace(/^\[|\]$/g, "")));
  if (denyNet.length < METADATA_HOSTS.length) {
    notes.push(
      "a permission.webfetch allow rule names a cloud metadata host, so it is not in --deny-net",
    );
  }
  return { net: "all", denyNet };
}

function importHosts(mainModule: string | undefined): string[] {
  if (!mainModule) return [];
  const url = new URL(mainModule);
  if (url.protocol !== "http:" && url.protocol !== "https:") return [];
  return [url.host];
}

/**
 * The code a local runner loads at run time: a Worker's module and its
 * imports need read access (the grep worker, lib/fs/grep_worker.ts). Only
 * lib/ beside main.ts, not main.ts's directory, which may be a home directory.
 */
function sourceDir(mainModule: string | undefined): string | undefined {
  if (!mainModule || !mainModule.startsWith("file:")) return undefined;
  const lib = join(dirname(fileURLToPath(mainModule)), "lib");
  try {
    return Deno.statSync(lib).isDirectory ? lib : undefined;
  } catch {
    return undefined;
  }
}

export function absolute(path: string): string {
  return normalize(isAbsolute(path) ? path : resolve(Deno.cwd(), path));
}

/** The path and, when it differs, its real path: Deno checks paths as the code names them. */
export function withRealPath(path: string): string[] {
  try {
    const real = Deno.realPathSync(path);
    return real === path ? [path] : [path, real];
  } catch {
    return [path];
  }
}

export function envPath(): string {
  try {
    return Deno.env.get("PATH") ?? "";
  } catch {
    return "";
  }
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
