/** Shared set-up for the file operation tests: real temp dirs, a real Workspace. */
import { openServices } from "../lib/tasks/services.ts";
import { compilePolicy } from "../lib/policy/mod.ts";
import { join } from "node:path";
import { emptyConfig } from "../lib/config.ts";
import { logger } from "../lib/log.ts";
import type { OperationContext, OperationHandler } from "../lib/tasks/context.ts";
import { Workspace } from "../lib/fs/workspace.ts";

export interface TempWorkspace extends AsyncDisposable {
  /** a temp dir holding `ws/` (the workspace) and whatever the test puts beside it */
  base: string;
  ws: Workspace;
  /** runs an operation the way the dispatcher does: (args, ctx) */
  run<T = Record<string, unknown>>(
    op: OperationHandler,
    args: unknown,
    signal?: AbortSignal,
  ): Promise<T>;
  /** absolute path of a root-relative path */
  at(rel: string): string;
}

export async function tempWorkspace(): Promise<TempWorkspace> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "fd_files_" }));
  const ws = await Workspace.open(join(base, "ws"));
  return {
    base,
    ws,
    run: <T>(op: OperationHandler, args: unknown, signal?: AbortSignal) =>
      op(args, contextFor(ws, signal)) as Promise<T>,
    at: (rel: string) => join(ws.root, rel),
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

export function contextFor(ws: Workspace, signal?: AbortSignal): OperationContext {
  return {
    workspace: ws,
    policy: compilePolicy(emptyConfig()),
    signal: signal ?? new AbortController().signal,
    log: logger("test"),
    taskId: "task_test",
    output: () => {},
    services: openServices({ log: logger("test") }),
  };
}

/** Writes files given as {relative path: content}, creating parents. */
export async function plant(root: string, files: Record<string, string | Uint8Array>) {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    await Deno.mkdir(join(p, ".."), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(p, content);
    else await Deno.writeFile(p, content);
  }
}

export const b64 = (text: string | Uint8Array) =>
  (typeof text === "string" ? new TextEncoder().encode(text) : text).toBase64();
export const unb64 = (text: string) => new TextDecoder().decode(Uint8Array.fromBase64(text));

/** The error message an operation rejected with (fails the test if it resolved). */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the operation to fail, but it succeeded");
}
