/**
 * What the kernel layer allows, derived from the config: the paths programs
 * may write beneath and the files they may execute. Pure derivation (it
 * only stats and reads file headers); the one source for the layer itself
 * (landlock.ts), `permissions`, `check --lint` and the docs.
 *
 * - write: the workspace, the device files programs write to as a matter
 *   of course (/dev/null and friends), and `permission.write_paths`.
 * - execute: the programs the bash rules allow (the same lookup Deno's
 *   `--allow-run` is derived through: permissions.ts allowedPrograms, which
 *   also covers stdio MCP servers, launched under the same rules, and the
 *   `kill`/`ps` helpers), the interpreter each one names (`#!` line), the
 *   dynamic loader each ELF file names (PT_INTERP: the kernel opens it for
 *   execution too), the runner's own executable (the supervisor starts the
 *   runner child inside the domain), and `permission.exec_paths`. With
 *   trusted rules (a catch-all allow) or a wildcard program there is no
 *   list: execution is not confined, writes still are.
 * - read: not handled; everything stays readable.
 */
import { dirname } from "node:path";
import type { RunnerConfig } from "../config.ts";
import { findProgram, searchPath } from "../proc/program_path.ts";
import { absolute, allowedPrograms, envPath, unique, withRealPath } from "./permissions.ts";

export interface KernelRules {
  /** paths (directories or files) beneath which programs may create, change and remove files */
  write: string[];
  /** paths beneath which programs may execute files; ["/"] when execution is not confined */
  exec: string[];
  /** false when the rules cannot list programs (trusted mode, a wildcard program) */
  execConfined: boolean;
  /** why each surprising entry is there */
  notes: string[];
}

export interface KernelRulesInput {
  config: RunnerConfig;
  workspace: string;
  /** the PATH programs are resolved through; defaults to this process's */
  path?: string;
  /** the runner's own executable; default Deno.execPath() */
  execPath?: string;
  /**
   * files the operator's settings write (the audit log and its rotations):
   * their directories are writable, since rotating renames within them
   */
  operatorFiles?: readonly string[];
}

/**
 * Device files programs open for writing as a matter of course; none of
 * them changes the host. /dev/tty: pagers and prompts write to the
 * controlling terminal, if any.
 */
export const DEVICE_WRITES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

export function deriveKernelRules(input: KernelRulesInput): KernelRules {
  const notes: string[] = [];
  const workspace = absolute(input.workspace);
  const pathEnv = input.path ?? envPath();
  const write = unique([
    ...withRealPath(workspace),
    ...DEVICE_WRITES,
    ...(input.config.permission.writePaths ?? []).flatMap((p) => withRealPath(absolute(p))),
    ...(input.operatorFiles ?? []).flatMap((f) => withRealPath(dirname(absolute(f)))),
  ]);

  // Its notes are about the rules, and `permissions` prints them once already.
  const programs = allowedPrograms(input.config.permission.bash, pathEnv, workspace, []);
  if (programs === "all") {
    notes.push("execution is not confined: the rules allow any program; writes still are");
    return { write, exec: ["/"], execConfined: false, notes };
  }
  const dirs = searchPath(pathEnv, workspace);
  const exec: string[] = [];
  const visit = (file: string, depth: number) => {
    if (exec.includes(file) || depth > 4) return;
    exec.push(file);
    for (const next of interpreters(file, dirs, workspace)) visit(next, depth + 1);
  };
  for (const p of programs) visit(p, 0);
  visit(input.execPath ?? Deno.execPath(), 0);
  for (const p of input.config.permission.execPaths ?? []) {
    for (const real of withRealPath(absolute(p))) if (!exec.includes(real)) exec.push(real);
  }
  return { write, exec, execConfined: true, notes };
}

/**
 * The files the kernel opens for execution when `file` runs: a script's `#!`
 * interpreter (and, for `#!/usr/bin/env NAME`, NAME on PATH), or an ELF
 * file's dynamic loader.
 */
export function interpreters(file: string, dirs: readonly string[], workspace: string): string[] {
  let head: Uint8Array;
  try {
    const f = Deno.openSync(file, { read: true });
    try {
      head = new Uint8Array(4096);
      const n = f.readSync(head) ?? 0;
      head = head.subarray(0, n);
    } finally {
      f.close();
    }
  } catch {
    return [];
  }
  if (head[0] === 0x23 && head[1] === 0x21) {
    const line = new TextDecoder().decode(head.subarray(2)).split("\n")[0].trim();
    const [interp, arg] = line.split(/\s+/);
    if (!interp?.startsWith("/")) return [];
    const out = [interp];
    const base = interp.split("/").pop();
    if (base === "env" && arg !== undefined && !arg.startsWith("-")) {
      const named = findProgram(arg, dirs, { workspaceRoot: workspace });
      if (named) out.push(named);
    }
    return out;
  }
  const interp = elfInterpreter(file, head);
  return interp ? [interp] : [];
}

/** PT_INTERP of a 64-bit little-endian ELF file, read from its program headers. */
function elfInterpreter(file: string, head: Uint8Array): string | undefined {
  if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[4] !== 2 || head[5] !== 1) {
    return undefined;
  }
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const phoff = Number(v.getBigUint64(0x20, true));
  const phentsize = v.getUint16(0x36, true);
  const phnum = v.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > head.length) return undefined;
    if (v.getUint32(at, true) !== 3) continue; // PT_INTERP
    const offset = Number(v.getBigUint64(at + 8, true));
    const size = Number(v.getBigUint64(at + 32, true));
    let bytes: Uint8Array;
    if (offset + size <= head.length) bytes = head.subarray(offset, offset + size);
    else {
      try {
        const f = Deno.openSync(file, { read: true });
        try {
          f.seekSync(offset, Deno.SeekMode.Start);
          bytes = new Uint8Array(size);
          f.readSync(bytes);
        } finally {
          f.close();
        }
      } catch {
        return undefined;
      }
    }
    const path = new TextDecoder().decode(bytes).replace(/\0.*$/s, "");
    return path.startsWith("/") ? path : undefined;
  }
  return undefined;
}

/** `permissions` and `doctor` text: what the kernel layer allows, one path per line. */
export function describeKernelRules(r: KernelRules): string[] {
  const lines = [`# kernel layer (Landlock) writes beneath: ${r.write.join(" ")}`];
  lines.push(
    r.execConfined
      ? `# kernel layer (Landlock) executes only: ${r.exec.join(" ")}`
      : "# kernel layer (Landlock) execution: not confined (the rules allow any program)",
  );
  for (const n of r.notes) if (!lines.includes(`# ${n}`)) lines.push(`# ${n}`);
  return lines;
}

/**
 * What `after` (the rules reloaded on SIGHUP) needs that the domain built
 * from `before` (at start) does not allow. A Landlock domain can only be
 * narrowed, never widened, so each of these stays refused by the kernel
 * until the runner restarts: the reload says so instead of leaving the
 * operator to find EACCES in a task's output.
 */
export function kernelRuleGaps(before: KernelRules, after: KernelRules): string[] {
  const gaps: string[] = [];
  if (before.execConfined) {
    if (!after.execConfined) {
      gaps.push(
        "the new rules allow any program, but the kernel layer (fixed at start) executes " +
          "only the programs the rules named then",
      );
    } else {
      for (const f of after.exec) {
        if (!beneathAny(f, before.exec)) {
          gaps.push(`the kernel layer (fixed at start) does not let ${f} execute`);
        }
      }
    }
  }
  for (const w of after.write) {
    if (!beneathAny(w, before.write)) {
      gaps.push(`the kernel layer (fixed at start) does not let programs write beneath ${w}`);
    }
  }
  return gaps;
}

function beneathAny(path: string, roots: readonly string[]): boolean {
  return roots.some((r) =>
    r === "/" || path === r || path.startsWith(r.endsWith("/") ? r : `${r}/`)
  );
}
