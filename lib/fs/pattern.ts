import { isAbsolute } from "node:path";
import { Minimatch } from "../deps/glob.ts";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import type { Workspace } from "./workspace.ts";

/** Longer patterns are refused: nobody types them, and minimatch's cost grows with them. */
export const MAX_PATTERN_LENGTH = 4096;
/** `{a,b}` alternatives a pattern may expand to (minimatch expands them all up front). */
export const MAX_BRACE_EXPANSIONS = 1024;

/**
 * A glob from the platform (glob `pattern`, grep `include`) made
 * root-relative: an absolute pattern must lie inside the root, and a pattern
 * whose expansion has a `..` segment is refused. The walkers never step
 * outside anyway (they only ever see entries below the root); refusing here
 * gives the caller the clear `path escapes workspace` instead of silence.
 */
export function workspacePattern(ws: Workspace, pattern: string): string {
  if (pattern.includes("\0")) throw new PathEscapeError(pattern);
  let rel = pattern;
  if (isAbsolute(rel)) {
    const root = [ws.root, ws.configuredRoot].find((r) => rel === r || rel.startsWith(r + "/"));
    if (root === undefined) throw new PathEscapeError(pattern);
    rel = rel.slice(root.length + 1);
  }
  while (rel.startsWith("./")) rel = rel.slice(2);
  if (rel === "") rel = ".";
  if (hasDotDot(rel)) throw new PathEscapeError(pattern); // before any size limit can answer
  for (const expanded of compileGlob(rel).globSet) {
    if (isAbsolute(expanded) || hasDotDot(expanded)) throw new PathEscapeError(pattern);
  }
  return rel;
}

// `\.\.` is an escaped `..`: refused as well
function hasDotDot(pattern: string): boolean {
  return pattern.split("/").some((seg) => seg.replaceAll("\\", "") === "..");
}

/**
 * Compiles a glob the way every file operation uses it: `**` crosses
 * directories, `*` matches dotfiles too (like the Go reference's doublestar
 * and filepath.Match), `{a,b}` alternatives; extglobs are off (the reference
 * has none, and nested `+(a|aa)` compiles to a backtracking regex).
 */
export function compileGlob(pattern: string): Minimatch {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new TaskError(`glob pattern too long (${pattern.length} > ${MAX_PATTERN_LENGTH} chars)`);
  }
  const expansions = braceExpansions(pattern);
  if (expansions > MAX_BRACE_EXPANSIONS) {
    throw new TaskError(
      `glob pattern ${JSON.stringify(pattern)} expands to more than ${MAX_BRACE_EXPANSIONS} ` +
        `alternatives`,
    );
  }
  try {
    return new Minimatch(pattern, { dot: true, noext: true });
  } catch (err) {
    throw new TaskError(
      `invalid glob pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
}

/**
 * An upper bound on how many patterns `{...}` groups expand to (nested groups
 * are multiplied in, which overestimates): checked before minimatch expands
 * them, since `{1..10}{1..10}{1..10}...` would otherwise allocate millions.
 */
export function braceExpansions(pattern: string): number {
  let total = 1;
  const open: number[] = []; // per open group: its alternatives so far
  const starts: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
    } else if (c === "{") {
      open.push(1);
      starts.push(i);
    } else if (c === "," && open.length > 0) {
      open[open.length - 1]++;
    } else if (c === "}" && open.length > 0) {
      const commas = open.pop()!;
      const body = pattern.slice(starts.pop()! + 1, i);
      const n = commas > 1 ? commas : rangeSize(body);
      total *= n;
      if (total > Number.MAX_SAFE_INTEGER) return Infinity;
    }
  }
  return total;
}

// `{1..100}`, `{a..z}`, `{1..100..5}` (bash-style sequences minimatch supports)
function rangeSize(body: string): number {
  const num = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(body);
  if (num) {
    const step = Math.abs(Number(num[3] ?? 1)) || 1;
    return Math.floor(Math.abs(Number(num[2]) - Number(num[1])) / step) + 1;
  }
  const alpha = /^(.)\.\.(.)(?:\.\.(-?\d+))?$/u.exec(body);
  if (alpha) {
    const step = Math.abs(Number(alpha[3] ?? 1)) || 1;
    return Math.floor(Math.abs(alpha[2].codePointAt(0)! - alpha[1].codePointAt(0)!) / step) + 1;
  }
  return 1;
}

/**
 * ripgrep's `--glob` for grep `include`: a pattern matches a file when it
 * matches the root-relative path or the base name; a pattern starting with
 * `!` excludes. With no positive pattern every file is chosen.
 */
export function includeFilter(ws: Workspace, include: string[]): (rel: string) => boolean {
  const positive: Minimatch[] = [];
  const negative: Minimatch[] = [];
  for (const raw of include) {
    const negated = raw.startsWith("!");
    const mm = compileGlob(workspacePattern(ws, negated ? raw.slice(1) : raw));
    (negated ? negative : positive).push(mm);
  }
  return (rel) => {
    const base = rel.slice(rel.lastIndexOf("/") + 1);
    const hit = (mm: Minimatch) => mm.match(rel) || mm.match(base);
    if (negative.some(hit)) return false;
    return positive.length === 0 || positive.some(hit);
  };
}
