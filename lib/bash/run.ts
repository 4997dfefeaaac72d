/**
 * The `bash` operation's body: where it runs, under which decision, for how
 * long, and the BashResult it gives back.
 */
import { TIMEOUTS, timeoutSeconds } from "../tasks/timeout.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationContext } from "../tasks/context.ts";
import { OutputSpool, readsSavedOutput } from "../tasks/output.ts";
import type { BashResult } from "../wire/protocol.ts";
import { describeDecision } from "../policy/rules.ts";
import type { Workspace } from "../fs/workspace.ts";
import { Interpreter } from "./interp.ts";
import { preflightRedirects } from "./preflight.ts";
import { findProgram, searchPath as programSearchPath } from "../proc/program_path.ts";
import { childEnv, commandTmpDir } from "../proc/child_env.ts";
import { TaskMarker } from "../proc/task_marker.ts";
import { denialMessage, type Plan, planCommand } from "./plan.ts";
import { ProcessTree } from "./proc.ts";
import { Capture, pump } from "./sinks.ts";

/** setTimeout's ceiling is ~24.8 days; a day is more than any diagnostic needs. */
export const TIMEOUT_EXIT_CODE = 124;
export const TIMED_OUT = "command timed out";

export interface BashRequest {
  command: string;
  workdir?: string;
  /** seconds; absent or not positive means the default */
  timeout?: number;
}

export interface RunHooks {
  /** every program the restricted executor starts (tests compare it with the checked words) */
  onSpawn?(argv: readonly string[], program: string): void;
  /** the plan, once made (tests read the checked words from it) */
  onPlan?(plan: Plan): void;
  /** the environment instead of childEnv() (tests give commands a fake HOME and PATH) */
  env?: Record<string, string>;
}

export async function runBash(
  req: BashRequest,
  ctx: OperationContext,
  hooks: RunHooks = {},
): Promise<BashResult> {
  if (req.command.trim() === "") throw new TaskError("invalid args for bash: `command` is empty");
  if (ctx.signal.aborted) throw new TaskError("command cancelled");
  const ws = ctx.workspace;
  const cwd = await workdir(ws, req.workdir);
  // every process of this task carries the marker, however it detaches (lib/proc/task_marker.ts)
  const marker = new TaskMarker();
  const env = marker.mark(hooks.env ?? childEnv({ TMPDIR: commandTmpDir(ws.root) }));
  const plan = planCommand(ctx.policy.command, req.command, { env, cwd });
  hooks.onPlan?.(plan);
  for (const c of plan.checks) {
    ctx.log.debug("bash {decision} {subcommand}: {reason}", {
      decision: c.decision.action,
      subcommand: c.words.join(" "),
      reason: c.refused ?? describeDecision(c.decision),
      mode: plan.trusted ? "trusted" : "restricted",
    });
  }
  if (!plan.allowed) throw new TaskError(denialMessage(plan));
  ctx.allowedBy?.(plan.checks.flatMap((c) => c.decision.rule ? [c.decision.rule.pattern] : []));
  if (plan.script) await preflightRedirects(plan.script, ws, cwd);

  const tree = new ProcessTree({ beforeFirstStart: () => marker.beforeFirstStart() });
  const seconds = timeoutSeconds(TIMEOUTS.bash, req.timeout);
  let why: "timeout" | "cancel" | undefined;
  const abandon = new AbortController();
  const room = ctx.outputRoom && (() => ctx.outputRoom!(abandon.signal));
  // stdout goes to the saved output's file as it arrives, unless the command
  // reads a saved output (then it is not truncated again, and kept whole);
  // stderr is carried whole by the result
  const spool = readsSavedOutput(req.command) ? undefined : new OutputSpool(ws, "bash");
  const stdout = new Capture("stdout", ctx.output, undefined, room, spool);
  const stderr = new Capture("stderr", ctx.output, undefined, room);

  const stop = (reason: "timeout" | "cancel") => {
    why ??= reason;
    void tree.killAll().then(() => abandon.abort());
  };
  const timer = setTimeout(() => stop("timeout"), seconds * 1000);
  const onAbort = () => stop("cancel");
  ctx.signal.addEventListener("abort", onAbort);
  // PATH's directories (a realpath each), found when the first program is looked up: a
  // command of builtins alone needs none
  let dirs: string[] | undefined;
  const searchPath = () => dirs ??= programSearchPath(env.PATH, ws.root);
  let code: number;
  let refused: TaskError | undefined;
  try {
    if (plan.script) {
      const interp = new Interpreter({
        policy: ctx.policy.command,
        workspace: ws,
        env,
        get searchPath() {
          return searchPath();
        },
        tree,
        stdout,
        stderr,
        stopped: () => why !== undefined,
        abandon: abandon.signal,
        onSpawn: hooks.onSpawn,
        onAllowed: (rule) => ctx.allowedBy?.([rule]),
      });
      try {
        code = await interp.run(plan.script, cwd);
      } catch (err) {
        // Refused at run time (the gate, a forbidden variable, a bound): nothing more starts.
        if (!(err instanceof TaskError)) throw err;
        refused = err;
        code = 1;
      }
    } else {
      code = await runTrusted(req.command, {
        cwd,
        env,
        searchPath: searchPath(),
        ws,
        tree,
        stdout,
        stderr,
        abandon: abandon.signal,
        marker,
      });
    }
  } catch (err) {
    await spool?.discard(); // a task that fails leaves no saved output behind
    throw err;
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
    // The marker is in no process when nothing started (builtins only, or
    // refused): the scan of every process would find nobody.
    if (tree.started > 0) await marker.sweep();
  }
  if (why || refused) await tree.killAll(); // let the SIGKILL round finish before reporting
  if ((refused && !why) || why === "cancel") await spool?.discard();
  if (refused && !why) throw refused;
  if (why === "cancel") throw new TaskError("command cancelled");
  // What the platform gets as stderr: the capture's text, plus the timeout line when it fired.
  let stderrText = stderr.text;
  if (why === "timeout") {
    code = TIMEOUT_EXIT_CODE;
    stderrText = stderrText ? `${stderrText.replace(/\n?$/, "\n")}${TIMED_OUT}` : TIMED_OUT;
  }
  // the spool's Truncation fields are carried over as they are (grep and webfetch do the same)
  const { content, ...truncation } = spool ? await spool.finish() : { content: stdout.text };
  return { stdout: content, stderr: stderrText, exit_code: code, ...truncation };
}

async function workdir(ws: Workspace, dir: string | undefined): Promise<string> {
  const real = await ws.resolve(dir ?? ".");
  let info: Deno.FileInfo;
  try {
    // a stat of one directory: microseconds here, a thread-pool round trip async
    info = Deno.statSync(real);
  } catch {
    throw new TaskError(`workdir ${JSON.stringify(dir)} does not exist`);
  }
  if (!info.isDirectory) throw new TaskError(`workdir ${JSON.stringify(dir)} is not a directory`);
  return real;
}

/** Trusted mode: bash itself runs the string, in its own process group. */
async function runTrusted(
  command: string,
  o: {
    cwd: string;
    env: Record<string, string>;
    searchPath: string[];
    ws: Workspace;
    tree: ProcessTree;
    stdout: Capture;
    stderr: Capture;
    abandon: AbortSignal;
    marker: TaskMarker;
  },
): Promise<number> {
  const bash = findProgram("bash", o.searchPath, { cwd: o.cwd, workspaceRoot: o.ws.root });
  if (!bash) throw new TaskError("bash is not installed (trusted mode runs commands with bash -c)");
  const s = o.tree.spawn(bash, {
    args: ["-c", command],
    cwd: o.cwd,
    clearEnv: true,
    env: { ...o.env, PWD: o.cwd },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const pumps = [
    pump(s.child.stdout, o.stdout.writer(), o.abandon),
    pump(s.child.stderr, o.stderr.writer(), o.abandon),
  ];
  const status = await s.child.status;
  o.tree.reap(s.pid);
  // a detached process (`setsid -f cmd`) may hold the output pipes open: it
  // goes now, or the output would never end
  await o.marker.sweep();
  await Promise.all(pumps);
  return status.code;
}
