/**
 * Before anything runs: redirect targets written literally must lie inside
 * the workspace, so `echo x > /etc/cron.d/x` is refused up front rather than
 * after the commands before it ran. Relative targets are checked against the
 * starting directory only when no `cd` can move it first; every target is
 * resolved again when it is opened (lib/bash/interp.ts).
 */
import { isAbsolute, join } from "node:path";
import { type Node, staticText, walk } from "./ast.ts";
import type { Workspace } from "../fs/workspace.ts";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";

const DEVICES = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin"]);

export async function preflightRedirects(script: Node, ws: Workspace, cwd: string): Promise<void> {
  const nodes = [...walk(script)];
  // A `cd` (or a command word only known at run time) may move the directory first.
  const moves = nodes.some((n) => {
    if (n.k !== "simple" || n.words.length === 0) return false;
    const first = staticText(n.words[0]);
    return first === undefined || first === "cd" || first === "command" || first === "exec";
  });
  for (const n of nodes) {
    if (!("redirs" in n)) continue;
    for (const r of n.redirs) {
      if (!("target" in r) || r.op === "<<<") continue;
      const path = staticText(r.target);
      if (path === undefined || DEVICES.has(path) || /^[0-9-]+$/.test(path)) continue;
      if (!isAbsolute(path) && moves) continue;
      try {
        await ws.resolve(isAbsolute(path) ? path : join(cwd, path));
      } catch (err) {
        if (err instanceof PathEscapeError) {
          throw new TaskError(
            `command denied: redirect target ${JSON.stringify(path)} is outside the workspace ` +
              `(${err.message}); redirects may only read and write workspace files`,
          );
        }
        throw err;
      }
    }
  }
}
