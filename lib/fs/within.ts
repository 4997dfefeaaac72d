import { sep } from "node:path";

/**
 * Whether `child` is `parent` or lies beneath it (both absolute and
 * normalized). Its own module so that code that only compares paths (the
 * supervisor's program lookups, lib/proc/program_path.ts) does not load
 * the workspace's file layer with it (start-up time).
 */
export function isWithin(child: string, parent: string): boolean {
  if (child === parent) return true;
  const base = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(base);
}
