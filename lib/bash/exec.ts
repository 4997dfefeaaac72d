/**
 * The restricted executor: runs a parsed Script the way bash would, without
 * bash. Each program is started by Deno.Command with exactly the argv the
 * rules checked; the runner wires the pipes, evaluates `&&`, `||` and `;`,
 * opens redirect files (confined to the workspace) and does `cd` itself.
 */
import { isAbsolute, join } from "node:path";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { FileHandle } from "../fs/workspace_fs.ts";
import { findProgram } from "../proc/program_path.ts";
import type { Pipeline, Script, SimpleCommand } from "./parse.ts";
import type { ProcessTree } from "./proc.ts";
import { type Capture, Discard, FileSink, PipeSink, pump, type Sink } from "./sinks.ts";

export interface ExecOptions {
  workspace: Workspace;
  /** the starting directory (a real path inside the workspace) */
  cwd: string;
  /** the environment every program gets, before its own NAME=value words */
  env: Record<string, string>;
  /** where bare program names are looked up (lib/proc/program_path.ts searchPath) */
  searchPath: readonly string[];
  tree: ProcessTree;
  stdout: Capture;
  stderr: Capture;
  /** true once the task timed out or was cancelled: nothing new starts */
  stopped(): boolean;
  /** fires after a kill: output pipes are closed even if an escaped process holds them */
  abandon: AbortSignal;
  /** every program start, with the argv it got (tests hold it against the checked words) */
  onSpawn?(argv: readonly string[], program: string): void;
}

/** Runs the script; resolves to the exit status of the last pipeline that ran. */
export async function runScript(script: Script, o: ExecOptions): Promise<number> {
  let status = 0;
  const state = { cwd: o.cwd };
  for (const step of script.steps) {
    if (o.stopped()) break;
    if (step.connector === "&&" && status !== 0) continue;
    if (step.connector === "||" && status === 0) continue;
    const only = step.pipeline.commands.length === 1 ? step.pipeline.commands[0] : undefined;
    if (only?.argv[0] === "cd") status = await changeDirectory(only, state, o);
    else status = await runPipeline(step.pipeline, state.cwd, o);
  }
  return status;
}

/**
 * Before anything runs: every redirect target, with the directory `cd`
 * will have moved to, must lie inside the workspace. (Each is resolved again
 * when opened, since an earlier command may have changed the filesystem.)
 */
export async function preflightRedirects(
  script: Script,
  ws: Workspace,
  cwd: string,
): Promise<void> {
  let dir = cwd;
  for (const { pipeline } of script.steps) {
    for (const cmd of pipeline.commands) {
      if (cmd.argv[0] === "cd" && pipeline.commands.length === 1) {
        try {
          dir = await ws.resolve(absolute(cmd.argv[1] ?? "", dir));
        } catch {
          // cd fails at run time with its own message; later steps see the old directory
        }
        continue;
      }
      for (const r of cmd.redirects) {
        if (r.kind === "dup" || DEVICES.has(r.path)) continue;
        try {
          await ws.resolve(absolute(r.path, dir));
        } catch (err) {
          if (err instanceof PathEscapeError) {
            throw new TaskError(
              `command denied: redirect target ${
                JSON.stringify(r.path)
              } is outside the workspace ` +
                `(${err.message}); redirects may only read and write workspace files`,
            );
          }
          throw err;
        }
      }
    }
  }
}

const DEVICES = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin"]);

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : join(cwd, path);
}

async function changeDirectory(cmd: SimpleCommand, state: { cwd: string }, o: ExecOptions) {
  const fail = (msg: string) => {
    o.stderr.note(`cd: ${msg}\n`);
    return 1;
  };
  if (cmd.redirects.length > 0) return fail("redirects on cd are not supported");
  if (cmd.argv.length > 2) return fail("too many arguments");
  const target = cmd.argv[1] ?? o.env.HOME ?? "";
  if (target === "-" || target === "") return fail(`${target || "HOME"}: not supported`);
  try {
    const real = await o.workspace.resolve(absolute(target, state.cwd));
    if (!(await Deno.stat(real)).isDirectory) return fail(`${target}: Not a directory`);
    state.cwd = real;
    return 0;
  } catch (err) {
    if (err instanceof PathEscapeError) {
      return fail(`${target}: outside the workspace (${err.message})`);
    }
    return fail(`${target}: No such file or directory`);
  }
}

type In = { type: "null" } | { type: "file"; file: FileHandle } | { type: "pipe"; pipe: PipeSink };

interface Wired {
  cmd: SimpleCommand;
  stdin: In;
  out: Sink;
  err: Sink;
  /** the redirect that could not be opened: the command does not run */
  error?: string;
}

async function runPipeline(p: Pipeline, cwd: string, o: ExecOptions): Promise<number> {
  const n = p.commands.length;
  const pipes = Array.from({ length: n - 1 }, () => new PipeSink());
  const opened: FileHandle[] = [];
  const sinks = new Set<Sink>([...pipes]);
  const wired: Wired[] = [];
  for (let k = 0; k < n; k++) {
    const w: Wired = {
      cmd: p.commands[k],
      stdin: k > 0 ? { type: "pipe", pipe: pipes[k - 1] } : { type: "null" },
      out: k < n - 1 ? pipes[k] : o.stdout,
      err: o.stderr,
    };
    await applyRedirects(w, cwd, o.workspace, opened, sinks);
    if (k < n - 1 && p.stderrToPipe[k]) w.err = w.out; // `|&` comes after the command's own redirects
    if (k > 0 && (w.stdin.type !== "pipe" || w.error)) pipes[k - 1].noReader();
    wired.push(w);
  }

  const tasks: Promise<unknown>[] = [];
  const pids: number[] = [];
  // launch() registers every writer synchronously, so settling right after it
  // ends the pipes and files nobody will write to (`missing | cat` must not hang).
  const statuses = wired.map((w) => launch(w, cwd, o, tasks, pids));
  for (const s of sinks) tasks.push(s.settle());
  const codes = await Promise.all(statuses);
  for (const pid of pids) o.tree.reap(pid);
  await Promise.all(tasks);
  for (const f of opened) {
    try {
      f.close();
    } catch {
      // already closed by the stream that read it
    }
  }
  return codes[codes.length - 1];
}

/** Opens the command's redirects in order, as bash's fd table would see them. */
async function applyRedirects(
  w: Wired,
  cwd: string,
  ws: Workspace,
  opened: FileHandle[],
  sinks: Set<Sink>,
): Promise<void> {
  for (const r of w.cmd.redirects) {
    if (r.kind === "dup") {
      if (r.fd === 1) w.out = r.to === 1 ? w.out : w.err;
      else w.err = r.to === 2 ? w.err : w.out;
      continue;
    }
    if (r.kind === "read") {
      if (r.path === "/dev/null") w.stdin = { type: "null" };
      else if (r.path === "/dev/stdin") continue;
      else {
        const file = await openFile(r.path, cwd, ws, "read", w);
        if (!file) return;
        opened.push(file);
        w.stdin = { type: "file", file };
      }
      continue;
    }
    let sink: Sink;
    if (r.path === "/dev/null") sink = new Discard();
    else if (r.path === "/dev/stdout") sink = w.out;
    else if (r.path === "/dev/stderr") sink = w.err;
    else {
      const file = await openFile(r.path, cwd, ws, r.append ? "append" : "write", w);
      if (!file) return;
      sink = new FileSink(file);
      sinks.add(sink);
    }
    if (r.kind === "both") w.out = w.err = sink;
    else if (r.fd === 1) w.out = sink;
    else w.err = sink;
  }
}

async function openFile(
  path: string,
  cwd: string,
  ws: Workspace,
  mode: "read" | "write" | "append",
  w: Wired,
): Promise<FileHandle | undefined> {
  try {
    // through the workspace root's descriptor: a directory swapped for a
    // symlink mid-task is not followed out; FIFOs and hard links are refused
    return await ws.fs.openFile(ws.lexical(absolute(path, cwd)), path, mode);
  } catch (err) {
    w.error = err instanceof PathEscapeError
      ? `${path}: ${err.message}`
      : `${path}: ${
        err instanceof Deno.errors.NotFound ? "No such file or directory" : (err as Error).message
      }`;
    return undefined;
  }
}

/**
 * Starts one program of the pipeline and wires its streams; resolves to its
 * exit status. Everything up to the returned promise happens synchronously.
 */
function launch(
  w: Wired,
  cwd: string,
  o: ExecOptions,
  tasks: Promise<unknown>[],
  pids: number[],
): Promise<number> {
  const failEarly = (message: string, code: number) => {
    if (w.stdin.type === "pipe") w.stdin.pipe.noReader();
    if (w.stdin.type === "file") w.stdin.file.close();
    const e = w.err.writer();
    return e.write(new TextEncoder().encode(`${message}\n`)).then(() => e.close()).then(() => code);
  };
  if (w.error) return failEarly(w.error, 1);
  if (o.stopped()) return failEarly(`${w.cmd.argv[0]}: not started (stopped)`, 143);
  const name = w.cmd.argv[0];
  const program = findProgram(name, o.searchPath, { cwd, workspaceRoot: o.workspace.root });
  if (!program) return failEarly(`${name}: command not found`, 127);

  const useOut = !(w.out instanceof Discard);
  const useErr = !(w.err instanceof Discard);
  let s;
  try {
    s = o.tree.spawn(program, {
      args: w.cmd.argv.slice(1),
      cwd,
      clearEnv: true,
      env: { ...o.env, ...Object.fromEntries(w.cmd.env), PWD: cwd },
      stdin: w.stdin.type === "null" ? "null" : "piped",
      stdout: useOut ? "piped" : "null",
      stderr: useErr ? "piped" : "null",
    });
  } catch (err) {
    const denied = err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.NotCapable;
    return failEarly(`${name}: ${(err as Error).message}`, denied ? 126 : 127);
  }
  o.onSpawn?.(w.cmd.argv, program);
  pids.push(s.pid);
  if (w.stdin.type === "pipe") w.stdin.pipe.attach(s.child.stdin);
  else if (w.stdin.type === "file") {
    tasks.push(w.stdin.file.readable().pipeTo(s.child.stdin).catch(() => {}));
  }
  if (useOut) tasks.push(pump(s.child.stdout, w.out.writer(), o.abandon));
  if (useErr) tasks.push(pump(s.child.stderr, w.err.writer(), o.abandon));
  return s.child.status.then((st) => st.code);
}
