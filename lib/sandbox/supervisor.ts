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
 * config needs.
 */
import type { Logger } from "../deps.ts";
import type { RunnerConfig } from "../config.ts";
import { logger } from "../log.ts";
import { readEnv } from "../settings.ts";
import {
  type DenoPermissions,
  type DeriveInput,
  derivePermissions,
  describePermissions,
  toDenoFlags,
} from "./permissions.ts";

/**
 * Set in the sandboxed child's environment (to the supervisor's pid), so it
 * runs the runner instead of re-executing again. Commands never see it:
 * lib/bash/run.ts removes FLASHDUTY_* from their environment.
 */
export const SANDBOX_ENV = "FLASHDUTY_RUNNER_SANDBOXED";

/** main.ts's exit code for a usage or config error: restarting cannot fix it. */
export const USAGE_EXIT_CODE = 2;

export type SandboxMode =
  /** under `deno run`: re-execute with the derived flags and supervise */
  | "supervisor"
  /** the re-executed child: run the runner */
  | "sandboxed"
  /** a compiled binary: flags fixed at compile time; report them */
  | "standalone"
  /** --no-sandbox: run with whatever flags the process has */
  | "disabled";

export function sandboxMode(opts: { noSandbox?: boolean } = {}): SandboxMode {
  if (opts.noSandbox) return "disabled";
  if (readEnv(SANDBOX_ENV)) return "sandboxed";
  if (Deno.build.standalone) return "standalone";
  return "supervisor";
}

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
}

/**
 * Runs the runner as a sandboxed child until it stops; resolves with the
 * exit code to exit with.
 *
 * - A stop signal (SIGINT, SIGTERM; SIGHUP counts as SIGTERM) is forwarded.
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
  const flags = [...(opts.denoFlags ?? parentDenoFlags()), ...toDenoFlags(opts.permissions)];

  let child: Deno.ChildProcess | undefined;
  let stopping: Deno.Signal | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: Deno.Signal) => () => {
    stopping ??= sig;
    const forward = sig === "SIGHUP" ? "SIGTERM" : sig;
    if (child) {
      try {
        child.kill(forward);
      } catch { /* it has just exited */ }
    }
    wake?.();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  const listeners = signals.map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);

  log.info("running the runner with Deno permissions {flags}", { flags: flags.join(" ") });
  for (const note of opts.permissions.notes) log.info("{note}", { note });

  let delay = initialMs;
  let crashes = 0;
  try {
    while (true) {
      const started = Date.now();
      child = new Deno.Command(execPath, {
        args: ["run", ...flags, mainModule, ...opts.args],
        env: { [SANDBOX_ENV]: String(Deno.pid) },
        // Our pipe: the child sees EOF when we are gone (see watchSupervisor).
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
        // Its own process group: only the signals we forward reach it.
        detached: Deno.build.os !== "windows",
      }).spawn();
      log.debug("started the sandboxed runner, pid {pid}", { pid: child.pid });
      const status = await child.status;
      child = undefined;
      if (stopping) return status.code;
      if (status.success) return 0;
      if (status.code === USAGE_EXIT_CODE && !status.signal) return status.code;

      if (Date.now() - started >= stableMs) {
        delay = initialMs;
        crashes = 0;
      }
      crashes++;
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
        { how, seconds: delay / 1000, n: crashes },
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (stopping) {
        log.info("{signal} while waiting to restart: stopped", { signal: stopping });
        return 0;
      }
      delay = Math.min(delay * 2, maxMs);
    }
  } finally {
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
  }
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
 * In the sandboxed child: exit when the supervisor is gone (our stdin, its
 * pipe, reaches EOF). A supervisor stopped by a signal forwards it first;
 * one killed outright (SIGKILL) would otherwise leave this runner behind
 * with a live connection, and a restarted service would then run two.
 */
export function watchSupervisor(log: Logger = logger("sandbox")): void {
  if (!/^\d+$/.test(readEnv(SANDBOX_ENV) ?? "") || Deno.stdin.isTerminal()) return;
  (async () => {
    const buf = new Uint8Array(64);
    try {
      while ((await Deno.stdin.read(buf)) !== null) { /* the supervisor never writes */ }
    } catch { /* a broken pipe is EOF too */ }
    log.error("the supervising process is gone; exiting");
    Deno.exit(1);
  })();
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
    ["ffi", derived.ffi],
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
  return out;
}

export interface EnterSandboxOptions {
  config: RunnerConfig;
  /** the config file, if one was given (granted read-only) */
  configPath?: string;
  workspace: string;
  platformUrl: string;
  /** `run --no-sandbox` */
  noSandbox?: boolean;
  /** the runner's argv to pass on; default Deno.args */
  args?: string[];
  log?: Logger;
}

/**
 * The one call main.ts's `run` makes before serving. Resolves with an exit
 * code when this process supervised a sandboxed runner (exit with it), or
 * undefined when this process is to run the runner itself (the sandboxed
 * child, a compiled binary, or --no-sandbox).
 */
export async function enterSandbox(opts: EnterSandboxOptions): Promise<number | undefined> {
  const log = opts.log ?? logger("sandbox");
  const mode = sandboxMode(opts);
  // Our supervisor chose our flags; re-deriving them here, under those
  // narrow flags, can see less (e.g. a program outside the read grant).
  if (mode === "sandboxed" && readEnv(SANDBOX_ENV) === String(Deno.ppid)) {
    watchSupervisor(log);
    return undefined;
  }
  // The workspace must exist for its real path to be granted.
  await Deno.mkdir(opts.workspace, { recursive: true });
  const derived = derivePermissions(sandboxInput(opts));
  switch (mode) {
    case "supervisor":
      // Started with flags no broader than the config needs (e.g. the ones
      // `permissions` prints): nothing to narrow, so no second process.
      if (broaderThanNeeded(derived).length === 0) {
        log.info("already running within the derived permissions; not re-executing");
        return undefined;
      }
      return await superviseSelf({ permissions: derived, args: opts.args ?? Deno.args, log });
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
      for (const line of broaderThanNeeded(derived)) {
        log.warn("{problem}", { problem: line });
      }
      return undefined;
    case "disabled":
      log.warn(
        "disabled (--no-sandbox): Deno's permissions are whatever the runner was " +
          "started with; only the runner's own checks stand between a task and the host",
      );
      for (const line of broaderThanNeeded(derived)) {
        log.warn("{problem}", { problem: line });
      }
      return undefined;
  }
}

/** The derivation input for this process: its main module, unless compiled (embedded). */
export function sandboxInput(
  opts: Pick<EnterSandboxOptions, "config" | "configPath" | "workspace" | "platformUrl">,
): DeriveInput {
  return {
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
  return describePermissions(derivePermissions(sandboxInput(opts)));
}
