import { fakeContext } from "./support/context.ts";
/** Shared by the tests/bash_*.test.ts files: a real workspace and an OperationContext around it. */

import { compilePolicy } from "../lib/policy/mod.ts";
import type { Rule } from "../lib/config.ts";

import type { OperationContext } from "../lib/tasks/context.ts";
import { Workspace } from "../lib/fs/workspace.ts";

export const READ_ONLY: Rule[] = [
  { pattern: "*", action: "deny" },
  { pattern: "echo *", action: "allow" },
  { pattern: "ls *", action: "allow" },
  { pattern: "cat *", action: "allow" },
  { pattern: "grep *", action: "allow" },
  { pattern: "head *", action: "allow" },
  { pattern: "wc *", action: "allow" },
  { pattern: "printf *", action: "allow" },
  { pattern: "true", action: "allow" },
  { pattern: "false", action: "allow" },
  { pattern: "test *", action: "allow" },
  { pattern: "pwd", action: "allow" },
  { pattern: "cd *", action: "allow" },
];

export const TRUSTED: Rule[] = [
  { pattern: "*", action: "allow" },
  { pattern: "rm *", action: "deny" },
];

export interface Outputs {
  chunks: { stream: "stdout" | "stderr"; data: string }[];
}

export function context(
  workspace: Workspace,
  rules: Rule[],
  opts: { signal?: AbortSignal; output?: (stream: "stdout" | "stderr", data: string) => void } = {},
): OperationContext & Outputs {
  const chunks: Outputs["chunks"] = [];
  return {
    ...fakeContext({ workspace, policy: compilePolicy({ permission: { bash: rules } }) }),
    signal: opts.signal ?? new AbortController().signal,
    output: (stream, data) => {
      chunks.push({ stream, data });
      opts.output?.(stream, data);
    },
    chunks,
  };
}

/** A fresh workspace in a temp dir, removed afterwards. */
export async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "bash_test_" });
  try {
    await fn(await Workspace.open(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** True while `pid` runs (a zombie, or no such process, is not running). */
export function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Polls until `cond` holds; fails the test after a generous limit. */
export async function until(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
