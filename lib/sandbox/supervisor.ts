/**
 * Applying the second sandbox layer. Deno's permissions are fixed when a
 * process starts, so under `deno run` the runner re-executes itself with
 * the flags lib/sandbox/permissions.ts derives from the config, and stays
 * behind as a small supervisor: it forwards stop signals, passes the exit
 * code on, and restarts the sandboxed runner when it crashes. A runner
 * started with broader flags (`-A`) thus never serves a task with them.
 *
 * A compiled binary's flags are fixed at compile time: it cannot narrow
 * them, so it logs what it has and warns where that is broader than the
 * config needs; the kernel layer is what confines it (below).
 *
 * The third layer (lib/sandbox/landlock.ts): where the kernel has Landlock,
 * the supervisor confines its own main thread and starts the runner from
 * it, so the runner and every program it starts may write only beneath the
 * workspace and the configured paths, and execute only the programs the
 * rules name. Under `deno run` and in a compiled binary alike.
 *
 * The token reaches the child on its stdin pipe (the first line, with the
 * resolved settings and config: lib/sandbox/handoff.ts), never in its
 * environment or argv, and both processes are made non-dumpable: no program
 * the runner starts can read it from /proc (docs/sandbox-layers.md).
 */
import { delay } from "../async/delay.ts";
import { Backoff } from "../wire/backoff.ts";
import type { Logger } from "../deps.ts";
import type { RunnerConfig } from "../config.ts";
import { logger } from "../log.ts";
import { readEnv, UsageError } from "../settings.ts";
import {
  type DenoPermissions,
  type DeriveInput,
  derivePermissions,
  describePermissions,
  type Grant,
  type OperatorGrants,
  toDenoFlags,
} from "./permissions.ts";
import { deriveKernelRules, describeKernelRules, type KernelRules } from "./landlock_rules.ts";
import {
  type Availability,
  probeLandlock,
  type Restriction,
  restrictThisThread,
} from "./landlock.ts";
import { SANDBOX_ENV } from "./handoff.ts";
import { closeProcToCommands, sandboxMode, watchSupervisor } from "./supervised.ts";
import { runnerV8Flags } from "./v8_flags.ts";
import { collector } from "../sys/gc.ts";
import {
  codeCachePath,
  planWarmup,
  startWarmup,
  type Warmup,
  writableCodeCache,
} from "./code_cache.ts";

export { SANDBOX_ENV };
export {
  enterSupervisedChild,
  type SandboxMode,
  sandboxMode,
  watchSupervisor,
} from "./supervised.ts";

/** main.ts's exit code for a usage or config error: restarting cannot fix it. */
export const USAGE_EXIT_CODE = 2;

export interface BackoffOptions {
  /** first restart delay; doubles per crash in a row */
  initialMs?: number;
  maxMs?: number;
  /** a child that ran at least this long resets the delay: it was not a crash loop */
  stableMs?: number;
}

export interface SuperviseOptions {
  permissions: DenoPermissions;
  /** the runner's own arguments (main.ts's argv), passed on unchanged */
  args: string[];
  log?: Logger;
  /** default Deno.mainModule */
  mainModule?: string;
  /** default Deno.execPath() */
  execPath?: string;
  backoff?: BackoffOptions;
  /** give up (returning the last exit code) after this many crashes in a row; default never */
  maxRestarts?: number;
  /** Deno flags other than permissions for the child; default parentDenoFlags() */
  denoFlags?: string[];
  /** handed to the child as the first line of its stdin (lib/sandbox/handoff.ts); default empty */
  handoff?: string;
  /** confine the child with the kernel layer (this thread is confined, then starts it) */
  kernel?: KernelRules;
  /** a compiled binary: the child is this executable with the runner's arguments */
  standalone?: boolean;
  /** `sandbox: require`: fail (UsageError) rather than run without the kernel layer */
  kernelRequired?: boolean;
}

/**
 * A supervisor stopping while the code cache warmer still runs waits this
 * long for it (it takes well under a second), then kills it.
 */
const WARMUP_GRACE_MS = 2_000;

/**
 * How long after the first launch the supervisor collects its start-up
 * garbage: past the child's own start, so the two do not share the CPU.
 */
const SETTLE_MS = 1_000;

/**
 * Once the runner child is started, the supervisor only waits: what its
 * start-up left on the heap (the flags, the YAML document, the permission
 * derivation) is garbage, and V8 collects at allocation pressure, which an
 * idle supervisor never has. One full collection then: its idle RSS 3-4 MB
 * less (docs/benchmarks.md, "Where idle memory goes").
 */
function collectStartUpGarbage(log: Logger): void {
  const gc = collector();
  if (!gc) return;
  const mb = () => (Deno.memoryUsage().heapTotal / 1048576).toFixed(1);
  const before = mb();
  gc();
  log.debug("start-up over: collected garbage, V8 heap {before} -> {after} MB", {
    before,
    after: mb(),
  });
}

/** What the supervisor needs of a started runner child. */
interface Launched {
  pid: number;
  status: Promise<{ code: number; signal: Deno.Signal | null }>;
  kill(signal: Deno.Signal): void;
}

interface LaunchSpec {
  execPath: string;
  args: string[];
  env: Record<string, string>;
  stdinLine: string;
}

type Launcher = { launch(spec: LaunchSpec): Promise<Launched>; close(): void };

/** Spawns from this thread (no kernel layer). */
function directLauncher(): Launcher {
  return {
    launch(spec) {
      const child = new Deno.Command(spec.execPath, {
        args: spec.args,
        env: spec.env,
        // Our pipe: the hand-off line, then EOF when we are gone (see watchSupervisor).
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
        // Its own process group: only the signals we forward reach it.
        detached: Deno.build.os !== "windows",
      }).spawn();
      const writer = child.stdin.getWriter();
      writer.write(new TextEncoder().encode(spec.stdinLine + "\n")).catch(() => {});
      return Promise.resolve({
        pid: child.pid,
        status: child.status.then((s) => ({ code: s.code, signal: s.signal })),
        kill: (sig) => child.kill(sig),
      });
    },
    close() {},
  };
}

/**
 * Confines the calling thread with the kernel layer, and spawns the runner
 * child from it: the child and everything it starts inherit the domain.
 * Throws (with the kernel's reason) when the thread could not be confined:
 * nothing is ever started from it unconfined.
 *
 * The supervisor calls this on its main thread, which after that only
 * forwards signals, logs to the stderr it holds, and starts the runner
 * again: nothing it needs is outside the domain (Landlock confines writes
 * and execution; the runner's own program is in the exec list). A Worker
 * thread confined instead would leave the main thread free at the price of
 * a second V8 isolate kept for the supervisor's lifetime (~11 MB idle RSS
 * and its start-up, docs/benchmarks.md).
 */
export function confinedLauncher(rules: KernelRules): Launcher & { restriction: Restriction } {
  const restriction = restrictThisThread(rules);
  return { ...directLauncher(), restriction };
}

/**
 * Runs the runner as a sandboxed child until it stops; resolves with the
 * exit code to exit with.
 *
 * - A stop signal (SIGINT, SIGTERM) is forwarded; so is SIGHUP (reload the
 *   config), which does not stop anything.
 *   The child runs in its own process group, so a terminal's Ctrl-C reaches
 *   it once, through us, not twice (twice means "stop now" to the runner).
 * - A clean stop passes the child's exit code on: the child exited after a
 *   forwarded signal (whatever its code), exited 0 by itself, or exited
 *   with USAGE_EXIT_CODE (a bad flag or config: restarting cannot help).
 * - Anything else is a crash (another non-zero code, or a signal we did not
 *   forward, e.g. the OOM killer's SIGKILL): logged, then the child is
 *   started again after 1 s, 2 s, 4 s ... up to 60 s.
 */
export async function superviseSelf(opts: SuperviseOptions): Promise<number> {
  const log = opts.log ?? logger("sandbox");
  const execPath = opts.execPath ?? Deno.execPath();
  const mainModule = opts.mainModule ?? Deno.mainModule;
  const initialMs = opts.backoff?.initialMs ?? 1_000;
  const maxMs = opts.backoff?.maxMs ?? 60_000;
  const stableMs = opts.backoff?.stableMs ?? 60_000;
  const maxRestarts = opts.maxRestarts ?? Infinity;
  const denoFlags = opts.denoFlags ?? parentDenoFlags();
  const flags = [...denoFlags, ...toDenoFlags(opts.permissions)];
  // The child's environment is ours (enterSandbox has removed the token: the
  // child gets it on stdin).
  // DENO_NO_UPDATE_CHECK: a running agent must not phone home to dl.deno.land
  // (tests/proxy.test.ts saw `deno run` do it through the proxy).
  const env = {
    [SANDBOX_ENV]: String(Deno.pid),
    DENO_NO_UPDATE_CHECK: "1",
    DENO_V8_FLAGS: runnerV8Flags(readEnv("DENO_V8_FLAGS")),
  };
  // The confined child reads Deno's code cache but cannot fill it: a warmer
  // fills it once per module set, started before this thread is confined
  // (lib/sandbox/code_cache.ts).
  let warmup: Warmup | undefined;
  const cache = codeCachePath(opts.standalone ?? false);
  const exposed = opts.kernel && writableCodeCache(opts.kernel.write, cache);
  if (exposed) {
    log.warn(
      "the kernel layer lets programs write {path}, which holds Deno's code cache ({cache}): " +
        "a command could rewrite code this process loads at its next start; narrow " +
        "permission.write_paths",
      { path: exposed, cache },
    );
  }
  if (opts.kernel && !opts.standalone) {
    const plan = planWarmup({ denoFlags, v8Flags: env.DENO_V8_FLAGS });
    if (plan) {
      warmup = startWarmup(plan, {
        execPath,
        env: { DENO_NO_UPDATE_CHECK: "1", DENO_V8_FLAGS: env.DENO_V8_FLAGS },
        log,
      });
    }
  }
  let launcher = directLauncher();
  if (opts.kernel) {
    // The start-up collection (collectStartUpGarbage) loads node:v8 and node:vm. Loaded
    // later, Deno would write their compiled code to its cache from this process after
    // the thread is confined (tests/code_cache.test.ts): loaded now, like all its modules.
    collector();
    try {
      launcher = confinedLauncher(opts.kernel);
    } catch (err) {
      const reason = (err as Error).message;
      if (opts.kernelRequired) {
        throw new UsageError(`sandbox: require, but the kernel refused: ${reason}`);
      }
      log.warn("kernel layer (Landlock) could not be applied: {reason}", { reason });
      opts = { ...opts, kernel: undefined };
    }
  }
  if (opts.kernel) {
    log.info(
      "kernel layer (Landlock) on: programs may write only beneath {write}; {exec}",
      {
        write: opts.kernel.write.join(", "),
        exec: opts.kernel.execConfined
          ? `execute only ${opts.kernel.exec.join(", ")}`
          : "execution is not confined (the rules allow any program)",
      },
    );
  }
  let child: Launched | undefined;
  let stopping: Deno.Signal | undefined;
  // a stop signal ends the wait before a restart at once
  const stopWait = new AbortController();
  const onSignal = (sig: Deno.Signal) => () => {
    // SIGHUP is "reload the config" (lib/ops/reload.ts): passed on, not a stop.
    if (sig !== "SIGHUP") stopping ??= sig;
    if (child) {
      try {
        child.kill(sig);
      } catch { /* it has just exited */ }
    }
    if (sig !== "SIGHUP") stopWait.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  const listeners = signals.map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);

  // The full flags run past a thousand characters: a summary at info, the flags at debug.
  log.info(
    "running the runner in a Deno sandbox: {summary} (`flashduty-runner permissions` " +
      "prints the flags)",
    { summary: summarizePermissions(opts.permissions) },
  );
  log.debug("running the runner with Deno permissions {flags}", { flags: flags.join(" ") });
  for (const note of opts.permissions.notes) log.info("{note}", { note });

  const backoff = new Backoff(initialMs, maxMs, false);
  let crashes = 0;
  let settle: ReturnType<typeof setTimeout> | undefined;
  try {
    while (true) {
      const started = Date.now();
      const args = childArgs(opts.args);
      child = await launcher.launch({
        execPath,
        args: opts.standalone ? args : ["run", ...flags, mainModule, ...args],
        env,
        stdinLine: opts.handoff ?? "",
      });
      log.debug("started the sandboxed runner, pid {pid}", { pid: child.pid });
      if (settle === undefined) {
        settle = setTimeout(() => collectStartUpGarbage(log), SETTLE_MS);
        Deno.unrefTimer(settle);
      }
      const status = await child.status;
      child = undefined;
      if (stopping) return status.code;
      if (status.code === 0 && !status.signal) return 0;
      if (status.code === USAGE_EXIT_CODE && !status.signal) return status.code;

      if (Date.now() - started >= stableMs) {
        backoff.reset();
        crashes = 0;
      }
      crashes++;
      const delayMs = backoff.next();
      const how = status.signal
        ? `was killed by ${status.signal}`
        : `exited with code ${status.code}`;
      if (crashes > maxRestarts) {
        log.error("the runner {how}; giving up after {n} restarts", {
          how,
          n: crashes - 1,
        });
        return status.code;
      }
      log.error(
        "the runner {how}; restarting in {seconds} s (crash {n} in a row). " +
          "If its last lines say NotCapable, the sandbox lacks a permission the runner " +
          "needs: confirm with --no-sandbox and report it",
        { how, seconds: delayMs / 1000, n: crashes },
      );
      await delay(delayMs, stopWait.signal);
      if (stopping) {
        log.info("{signal} while waiting to restart: stopped", { signal: stopping });
        return 0;
      }
    }
  } finally {
    clearTimeout(settle);
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    launcher.close();
    await warmup?.finish(WARMUP_GRACE_MS);
  }
}

/** `read 3 paths, write 1, run 2 programs, net any host, env 40 names` */
export function summarizePermissions(p: DenoPermissions): string {
  const count = (g: readonly string[] | "all", one: string, many: string) =>
    g === "all"
      ? `any ${one}`
      : g.length === 0
      ? "none"
      : `${g.length} ${g.length === 1 ? one : many}`;
  return [
    `read ${count(p.read, "path", "paths")}`,
    `write ${count(p.write, "path", "paths")}`,
    `run ${count(p.run, "program", "programs")}`,
    `net ${count(p.net, "host", "hosts")}`,
    `env ${count(p.env, "name", "names")}`,
  ].join(", ");
}

/** The runner's arguments less the token's: the child gets the token on its stdin. */
export function childArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "--token" || a === "--token-file") {
      i++;
      continue;
    }
    if (a.startsWith("--token=") || a.startsWith("--token-file=")) continue;
    out.push(a);
  }
  return out;
}

/** Permission flags: the supervisor replaces all of them with the derived set. */
const PERMISSION_FLAG = /^(-A|--allow-|--deny-|--no-prompt$|--allow-all$)/;

/**
 * The Deno flags this process was started with, other than permissions
 * (`--no-config`, `--cert`, `--lock`, `--unstable-*`, `--v8-flags`...), so
 * that the child runs like its parent. Read from /proc/self/cmdline: Linux
 * only, and only when this process may read it (Deno opens /proc only under
 * --allow-all); otherwise none.
 */
export function parentDenoFlags(): string[] {
  let argv: string[];
  try {
    argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  } catch {
    return [];
  }
  if (argv.at(-1) === "") argv.pop();
  // argv: deno run <flags...> <main module> <Deno.args...>
  const main = argv.length - Deno.args.length - 1;
  if (argv[1] !== "run" || main < 2) return [];
  return argv.slice(2, main).filter((f) => !PERMISSION_FLAG.test(f));
}

/**
 * Where this process's permissions are broader than `derived`: one line
 * each. Deno can say whether a permission is unscoped (granted without a
 * scope), not list a scoped one, so a scoped grant is taken as narrow.
 */
export function broaderThanNeeded(derived: DenoPermissions): string[] {
  const state = (d: Deno.PermissionDescriptor) => Deno.permissions.querySync(d).state;
  const out: string[] = [];
  const scoped: [Deno.PermissionDescriptor["name"], readonly string[] | "all"][] = [
    ["read", derived.read],
    ["write", derived.write],
    ["run", derived.run],
    ["net", derived.net],
    ["env", derived.env],
    ["sys", derived.sys],
  ];
  for (const [name, need] of scoped) {
    if (need === "all") continue;
    if (state({ name } as Deno.PermissionDescriptor) === "granted") {
      out.push(
        `--allow-${name} is unscoped; this config needs ${
          need.length > 0 ? need.join(",") : "none"
        }`,
      );
    } else if ((name === "read" || name === "write") && state({ name, path: "/" }) === "granted") {
      out.push(`--allow-${name} includes /; this config needs ${need.join(",")}`);
    }
  }
  if (state({ name: "ffi" }) === "granted") {
    out.push(
      `--allow-ffi is unscoped; this config needs ${derived.ffi.join(",") || "none"}`,
    );
  }
  return out;
}

export interface EnterSandboxOptions {
  config: RunnerConfig;
  /** the config file, if one was given (granted read-only) */
  configPath?: string;
  workspace: string;
  platformUrl: string;
  /** handed to the sandboxed child on its stdin: its settings, token included, and config */
  handoff?: string;
  /** `run --no-sandbox` */
  noSandbox?: boolean;
  /** what the operator's settings need (audit log, metrics, proxy, systemd notify) */
  operator?: OperatorGrants;
  /** the runner's argv to pass on; default Deno.args */
  args?: string[];
  log?: Logger;
}

/**
 * Whether the kernel layer will confine the runner: the rules when it
 * will, undefined when it is off or missing under `sandbox: auto` (after
 * one warning). Throws UsageError (exit 2, one line) under `sandbox:
 * require` when it cannot.
 */
export function kernelLayer(
  opts: Pick<EnterSandboxOptions, "config" | "workspace" | "noSandbox" | "operator">,
  log: Logger,
  probe: () => Availability = probeLandlock,
): KernelRules | undefined {
  const setting = opts.config.sandbox ?? "auto";
  if (setting === "off") {
    log.warn(
      "kernel layer (Landlock) off (sandbox: off): commands may write wherever " +
        "this user may, and programs they start are not confined",
    );
    return undefined;
  }
  if (opts.noSandbox) {
    if (setting === "require") {
      throw new UsageError("sandbox: require in the config, but --no-sandbox was given");
    }
    return undefined;
  }
  const found = probe();
  if (!found.available) {
    if (setting === "require") {
      throw new UsageError(
        `sandbox: require, but the kernel layer is unavailable: ${found.reason}`,
      );
    }
    log.warn(
      "kernel layer (Landlock) unavailable: {reason}. Running with the rules and Deno's " +
        "permissions only: an allowed program can write wherever this user may and start " +
        "programs the rules do not name (set sandbox: require to refuse to start instead)",
      { reason: found.reason },
    );
    return undefined;
  }
  return deriveKernelRules({
    config: opts.config,
    workspace: opts.workspace,
    operatorFiles: opts.operator?.write,
  });
}

/**
 * The kernel layer without a second process: confines this (the main) thread,
 * from which the runner starts every command and stdio MCP server, so they
 * all live in the domain; the runner's own I/O threads do not (Deno's flags
 * bound those). Fails closed under `sandbox: require`.
 */
function confineThisThread(kernel: KernelRules, config: RunnerConfig, log: Logger): void {
  try {
    restrictThisThread(kernel);
    log.info(
      "kernel layer (Landlock) on for every program the runner starts: writes " +
        "beneath {write}; {exec}",
      {
        write: kernel.write.join(", "),
        exec: kernel.execConfined ? `execute only ${kernel.exec.join(", ")}` : "any program",
      },
    );
  } catch (err) {
    if (config.sandbox === "require") {
      throw new UsageError(`sandbox: require, but the kernel refused: ${(err as Error).message}`);
    }
    log.warn("kernel layer (Landlock) could not be applied: {reason}", {
      reason: (err as Error).message,
    });
  }
}

/**
 * The one call main.ts's `run` makes before serving. Resolves with an exit
 * code when this process supervised a sandboxed runner (exit with it), or
 * undefined when this process is to run the runner itself (the sandboxed
 * child, or an unsupervised runner: --no-sandbox, or already narrow with
 * no kernel layer to apply).
 */
export async function enterSandbox(opts: EnterSandboxOptions): Promise<number | undefined> {
  const log = opts.log ?? logger("sandbox");
  const mode = sandboxMode(opts);
  const nonDumpable = closeProcToCommands();
  // Our supervisor chose our flags; re-deriving them here, under those
  // narrow flags, can see less (e.g. a program outside the read grant).
  if (mode === "sandboxed" && readEnv(SANDBOX_ENV) === String(Deno.ppid)) {
    watchSupervisor(log);
    return undefined;
  }
  if (!nonDumpable && Deno.build.os === "linux") {
    log.warn(
      "could not make this process non-dumpable (no --allow-ffi for libc?): " +
        "programs it starts as this user can read its environment in /proc",
    );
  }
  // The workspace must exist for its real path to be granted.
  await Deno.mkdir(opts.workspace, { recursive: true });
  const derived = derivePermissions(sandboxInput(opts));
  const kernel = mode === "sandboxed" ? undefined : kernelLayer(opts, log);
  // A runner started from a URL caches modules it loads lazily; confined, it could not.
  if (kernel && /^https?:/.test(Deno.mainModule)) {
    await (await import("../fs/grep_search.ts")).preloadGrepWorker();
  }
  const supervise = (standalone: boolean) =>
    superviseSelf({
      permissions: derived,
      args: opts.args ?? Deno.args,
      log,
      handoff: opts.handoff,
      kernel,
      kernelRequired: opts.config.sandbox === "require",
      standalone,
    });
  switch (mode) {
    case "supervisor":
      // Started with flags no broader than the config needs (e.g. the ones
      // `permissions` prints) and no kernel layer to apply: nothing to
      // narrow, so no second process.
      if (broaderThanNeeded(derived).length === 0) {
        log.info("already running within the derived permissions; not re-executing");
        if (kernel) confineThisThread(kernel, opts.config, log);
        return undefined;
      }
      return await supervise(false);
    case "sandboxed":
      // set by hand, not by a supervisor: say where the flags are broad
      watchSupervisor(log);
      for (const line of broaderThanNeeded(derived)) {
        log.warn("{problem} (was {env} set by hand?)", {
          problem: line,
          env: SANDBOX_ENV,
        });
      }
      return undefined;
    case "standalone":
      log.info(
        "a compiled binary runs with the permissions it was compiled with; " +
          "this config needs {flags}",
        { flags: toDenoFlags(derived).join(" ") },
      );
      // The kernel confines what the broad baked flags cannot.
      if (kernel) return await supervise(true);
      for (const line of broaderThanNeeded(derived)) {
        log.warn("{problem}", { problem: line });
      }
      return undefined;
    case "disabled":
      log.warn(
        "disabled (--no-sandbox): Deno's permissions are whatever the runner was " +
          "started with, and the kernel layer is off; only the runner's own checks stand " +
          "between a task and the host",
      );
      for (const line of broaderThanNeeded(derived)) {
        log.warn("{problem}", { problem: line });
      }
      return undefined;
  }
}

/** The derivation input for this process: its main module, unless compiled (embedded). */
export function sandboxInput(
  opts: Pick<
    EnterSandboxOptions,
    "config" | "configPath" | "workspace" | "platformUrl" | "operator"
  >,
): DeriveInput {
  return {
    operator: opts.operator,
    config: opts.config,
    configPath: opts.configPath,
    workspace: opts.workspace,
    platformUrl: opts.platformUrl,
    mainModule: Deno.build.standalone ? undefined : Deno.mainModule,
  };
}

/** `flashduty-runner permissions [--config FILE]`: the derived flags one per line, then why. */
export function permissionsText(
  opts: Pick<EnterSandboxOptions, "config" | "configPath" | "workspace" | "platformUrl">,
): string {
  const text = describePermissions(derivePermissions(sandboxInput(opts)));
  return text + kernelLayerText(opts).join("\n") + "\n";
}

/** What the kernel layer does with this config on this host, as `#` lines. */
export function kernelLayerText(
  opts: Pick<EnterSandboxOptions, "config" | "workspace">,
  probe: () => Availability = probeLandlock,
): string[] {
  const setting = opts.config.sandbox ?? "auto";
  if (setting === "off") return ["# kernel layer (Landlock): off (sandbox: off)"];
  const found = probe();
  if (!found.available) {
    return [
      `# kernel layer (Landlock): unavailable on this host (${found.reason}); ` +
      (setting === "require"
        ? "sandbox: require, so the runner will refuse to start"
        : "the runner starts without it (sandbox: auto)"),
    ];
  }
  return [
    `# kernel layer (Landlock ABI ${found.abi}): on`,
    ...describeKernelRules(deriveKernelRules({ config: opts.config, workspace: opts.workspace })),
  ];
}

/**
 * The grants `derived` names that this process does not have: a reloaded
 * config whose rules need a program or host the running sandbox was not
 * started with works only after a restart. One line each.
 */
export function missingGrants(derived: DenoPermissions): string[] {
  const state = (d: Deno.PermissionDescriptor) => Deno.permissions.querySync(d).state;
  const out: string[] = [];
  const check = (name: "run" | "net", grant: Grant, key: "command" | "host") => {
    const wanted = grant === "all" ? [undefined] : grant;
    for (const item of wanted) {
      const d =
        (item === undefined ? { name } : { name, [key]: item }) as Deno.PermissionDescriptor;
      if (state(d) !== "granted") {
        out.push(`the new rules need --allow-${name}${item ? "=" + item : ""}`);
      }
    }
  };
  check("run", derived.run, "command");
  check("net", derived.net, "host");
  return out;
}
