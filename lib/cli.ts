/**
 * flashduty-runner's CLI (main.ts runs it in the process you start). Parses
 * flags and hands off; the work lives in lib/.
 *
 * `run` with well-formed flags (every start of a service) is parsed here,
 * from RUN_OPTIONS, without loading commander: commander 15 imports
 * `node:fs`, whose ESM namespace alone costs ~25 ms of CPU and with
 * commander ~4 MB of the supervisor's idle RSS (docs/benchmarks.md). Every
 * other command line (help, a typo, another command) goes to commander,
 * built from the same table, which says what is wrong.
 */
import type { Command } from "./deps/cli.ts";
import { emptyConfig, loadConfig, type RunnerConfig } from "./config.ts";
import { logger, setupLogging } from "./log.ts";
import {
  DEFAULT_URL,
  defaultWorkspace,
  ENV,
  readEnv,
  resolveSettings,
  type RunFlags,
  UsageError,
} from "./settings.ts";
import { enterSandbox, permissionsText } from "./sandbox/supervisor.ts";
import { encodeHandoff } from "./sandbox/handoff.ts";
import { versionText } from "./ops/build_info.ts";
import { operatorGrants } from "./ops/grants.ts";
import { checkAuditLog, checkWorkspace, fatal } from "./ops/startup_check.ts";

async function readConfig(path: string | undefined): Promise<RunnerConfig> {
  const file = path ?? readEnv(ENV.config);
  return file ? await loadConfig(file) : emptyConfig();
}

/** What `run` is given: RunFlags, and `--no-sandbox` as sandbox: false. */
export type RunCliFlags = RunFlags & { sandbox: boolean };

/** `run`'s options that take a value: the one list commander and parseRunFlags read. */
const RUN_OPTIONS: readonly { flag: string; value: string; help: string }[] = [
  {
    flag: "--token",
    value: "<token>",
    help: `worknode token (env ${ENV.token}; prefer --token-file or the env: flags show in ps)`,
  },
  {
    flag: "--token-file",
    value: "<file>",
    help:
      "read the worknode token from this file's first line (systemd: LoadCredential=token:FILE)",
  },
  { flag: "--url", value: "<url>", help: `platform WebSocket URL (env ${ENV.url})` },
  {
    flag: "--workspace",
    value: "<dir>",
    help: `workspace root, created if missing (env ${ENV.workspace})`,
  },
  {
    flag: "--config",
    value: "<file>",
    help: `YAML config file with permission rules (env ${ENV.config})`,
  },
  {
    flag: "--log-level",
    value: "<level>",
    help: `debug, info, warn or error (env ${ENV.logLevel})`,
  },
  { flag: "--log-format", value: "<format>", help: `text or json (env ${ENV.logFormat})` },
  {
    flag: "--max-concurrent-tasks",
    value: "<n>",
    help: `tasks run at once; the rest queue (env ${ENV.maxConcurrent})`,
  },
  {
    flag: "--transport",
    value: "<name>",
    help: `WebSocket client: tcp, ws or native (env ${ENV.transport})`,
  },
  {
    flag: "--audit-log",
    value: "<file>",
    help:
      `append one JSON line per task here, size-rotated (env ${ENV.auditLog}; config audit_log)`,
  },
  {
    flag: "--metrics-addr",
    value: "<host:port>",
    help:
      `serve /metrics, /readyz, /healthz (":port" = loopback; env ${ENV.metricsAddr}); off by default`,
  },
];
const NO_SANDBOX = "--no-sandbox";
const NO_SANDBOX_HELP =
  "no Deno permission layer and no kernel layer: run with the flags given (debugging only)";

/** `--max-concurrent-tasks` -> maxConcurrentTasks, as commander names an option's value. */
function flagKey(flag: string): keyof RunFlags {
  return flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof RunFlags;
}

/**
 * `run FLAGS...` parsed as commander parses it, when every word is one of
 * RUN_OPTIONS with its value (`--flag value` or `--flag=value`, the last
 * one winning) or --no-sandbox; undefined for anything else (another
 * command, --help, an unknown or incomplete flag, a value starting with
 * `-`, an argument): commander then parses it and says what is wrong.
 */
export function parseRunFlags(args: readonly string[]): RunCliFlags | undefined {
  if (args[0] !== "run") return undefined;
  const flags: RunCliFlags = { sandbox: true };
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    if (arg === NO_SANDBOX) {
      flags.sandbox = false;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!RUN_OPTIONS.some((o) => o.flag === name)) return undefined;
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value.startsWith("-")) return undefined;
    flags[flagKey(name) as Exclude<keyof RunFlags, "sandbox">] = value;
  }
  return flags;
}

/** `run`: connect and serve until stopped. */
async function run(flags: RunCliFlags): Promise<void> {
  const config = await readConfig(flags.config);
  const settings = resolveSettings(flags, readEnv, config);
  await setupLogging(settings.logLevel, settings.logFormat);
  // Every start-up problem is one line and exit code 2, before any supervising.
  await checkWorkspace(settings.workspace);
  if (settings.auditLog) await checkAuditLog(settings.auditLog.path);
  // After the checks: a start-up problem stays the one line on stderr.
  if (flags.token !== undefined) {
    // The process's own command line: readable by every local user for as long as it runs.
    logger("runner").warn(
      "the token was given with --token: every user of this host can read it in `ps` " +
        "while the runner runs; use --token-file FILE, {env} or systemd's LoadCredential=",
      { env: ENV.token },
    );
  }
  // Under `deno run` this process becomes a supervisor of a narrower copy of itself.
  const supervised = await enterSandbox({
    config,
    configPath: flags.config ?? readEnv(ENV.config),
    workspace: settings.workspace,
    platformUrl: settings.url,
    // A supervised child gets these on its stdin (the token never in argv or env),
    // and parses no flags and no YAML itself (lib/sandbox/child.ts).
    handoff: encodeHandoff({ settings, config }),
    noSandbox: flags.sandbox === false,
    operator: operatorGrants(settings),
  });
  // The runner's modules load only in the process that serves tasks: a
  // supervisor that re-executes never needs them (lean RSS, fast start).
  Deno.exitCode = supervised ??
    await (await import("./runner.ts")).runRunner(settings, config);
}

/** The CLI as commander parses it; `onRun` is what `run` does with its flags. */
export async function buildCli(
  onRun: (flags: RunCliFlags) => Promise<void> = run,
): Promise<Command> {
  const { Command } = await import("./deps/cli.ts");
  const program = new Command()
    .name("flashduty-runner")
    .description(
      "Runs Flashduty AI SRE platform tasks on this host: commands under glob rules, " +
        "workspace-confined files, MCP tool calls, webfetch and skill sync.",
    )
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");

  const runCommand = program.command("run")
    .description("connect to the platform and serve tasks until SIGINT/SIGTERM");
  for (const o of RUN_OPTIONS) runCommand.option(`${o.flag} ${o.value}`, o.help);
  runCommand.option(NO_SANDBOX, NO_SANDBOX_HELP).action(onRun);

  program.command("check")
    .description("show what the rules decide for a command, sub-command by sub-command")
    .usage("[--config FILE] -- '<command>'  |  --lint [--config FILE]")
    .option("--config <file>", `YAML config file (env ${ENV.config})`)
    .option("--lint", "warn about allow rules that admit an escape hatch (a shell, -exec, ...)")
    .argument("[command...]", "the command, quoted as one argument after --")
    .action(async (words: string[], flags: { config?: string; lint?: boolean }) => {
      const config = await readConfig(flags.config);
      if (flags.lint) {
        const { lintConfig } = await import("./policy/lint.ts");
        const { probeLandlock } = await import("./sandbox/landlock.ts");
        const lint = lintConfig(config, { kernel: probeLandlock() });
        console.log(lint.text.trimEnd());
        Deno.exitCode = lint.warnings.length === 0 ? 0 : 1;
        return;
      }
      if (words.length === 0) throw new UsageError("check: give the command after --, quoted");
      const { checkCommand } = await import("./bash/check.ts");
      const result = checkCommand(config, words.join(" "));
      console.log(result.text.trimEnd());
      Deno.exitCode = result.ok ? 0 : 1;
    });

  program.command("doctor")
    .description("check config, workspace, sandbox, programs, DNS, reach, token and clock")
    .option("--config <file>", `YAML config file (env ${ENV.config})`)
    .option("--token <token>", `worknode token (env ${ENV.token})`)
    .option("--token-file <file>", "read the worknode token from this file's first line")
    .option("--url <url>", `platform WebSocket URL (env ${ENV.url})`)
    .option("--workspace <dir>", `workspace root (env ${ENV.workspace})`)
    .option("--transport <name>", `WebSocket client: tcp, ws or native (env ${ENV.transport})`)
    .option("--audit-log <file>", `the audit log to check (env ${ENV.auditLog}; config audit_log)`)
    .action(async (flags: RunFlags) => {
      const config = await readConfig(flags.config);
      const settings = resolveSettings(flags, readEnv, config);
      const { runDoctor, doctorText, anyFailed } = await import("./ops/doctor.ts");
      const { platformDialer } = await import("./wire/platform_dial.ts");
      const { runnerRedactor } = await import("./redact/runner_redactor.ts");
      const redactor = runnerRedactor(settings, config);
      const findings = await runDoctor({
        config,
        configPath: flags.config ?? readEnv(ENV.config),
        settings,
        dial: await platformDialer(settings),
        redact: (text) => redactor.redact(text),
      });
      console.log(doctorText(findings).trimEnd());
      Deno.exitCode = anyFailed(findings) ? 1 : 0;
    });

  program.command("permissions")
    .description("print the Deno permission flags the runner derives from the config")
    .option("--config <file>", `YAML config file (env ${ENV.config})`)
    .option("--workspace <dir>", `workspace root (env ${ENV.workspace})`)
    .option("--url <url>", `platform WebSocket URL (env ${ENV.url})`)
    .action(async (flags: { config?: string; workspace?: string; url?: string }) => {
      const config = await readConfig(flags.config);
      console.log(
        permissionsText({
          config,
          configPath: flags.config ?? readEnv(ENV.config),
          workspace: flags.workspace ?? (readEnv(ENV.workspace) || config.workspace) ??
            defaultWorkspace(),
          platformUrl: flags.url ?? (readEnv(ENV.url) || config.url) ?? DEFAULT_URL,
        }).trimEnd(),
      );
    });

  program.command("version")
    .description("print the version, commit and build date")
    .action(() => console.log(versionText()));
  program.version(versionText(), "-V, --version", "print the version, commit and build date");

  return program;
}

export async function main(args: string[]): Promise<number> {
  const flags = parseRunFlags(args);
  try {
    if (flags) await run(flags);
    else await (await buildCli()).parseAsync(args, { from: "user" });
    return Number(Deno.exitCode ?? 0);
  } catch (err) {
    if (!flags && err instanceof (await import("./deps/cli.ts")).CommanderError) {
      // --help and --version exit 0; commander has already printed what went wrong.
      return err.exitCode === 0 ? 0 : 2;
    }
    // a ConfigError is a UsageError: exit 2
    return fatal(err);
  }
}
