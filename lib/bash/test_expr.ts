/**
 * `test` / `[` and `[[ ]]`: string, integer and file tests, evaluated by the
 * interpreter (no program starts). `[[ ]]` integer operands are arithmetic,
 * read by lib/bash/arith.ts, which runs nothing.
 */
import { isAbsolute, join } from "node:path";

export class TestSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TestSyntaxError";
  }
}

export interface TestHost {
  cwd: string;
  /** `[[ a == pattern ]]`: the right side as a pattern; `test` compares strings */
  matches?(text: string, k: number): boolean;
  /** `[[ a -eq b ]]`: operands are arithmetic; `test` wants plain integers */
  integer(text: string): bigint;
}

const UNARY = new Set([
  "-e",
  "-f",
  "-d",
  "-r",
  "-w",
  "-x",
  "-s",
  "-L",
  "-h",
  "-p",
  "-S",
  "-b",
  "-c",
  "-g",
  "-u",
  "-k",
  "-O",
  "-G",
  "-N",
  "-t",
  "-z",
  "-n",
  "-a",
  "-v",
]);
const BINARY = new Set([
  "=",
  "==",
  "!=",
  "<",
  ">",
  "-eq",
  "-ne",
  "-lt",
  "-le",
  "-gt",
  "-ge",
  "-nt",
  "-ot",
  "-ef",
]);

/** A plain decimal integer as `test` reads it. */
export function plainInteger(text: string): bigint {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new TestSyntaxError(`${text}: integer expression expected`);
  return BigInt(t);
}

function stat(path: string, cwd: string, link = false): Deno.FileInfo | undefined {
  const p = isAbsolute(path) ? path : join(cwd, path);
  try {
    return link ? Deno.lstatSync(p) : Deno.statSync(p);
  } catch {
    return undefined;
  }
}

function access(info: Deno.FileInfo | undefined, bit: number): boolean {
  if (!info) return false;
  const mode = info.mode ?? 0;
  let uid = -1;
  try {
    uid = Deno.uid() ?? -1;
  } catch {
    // unknown: fall back to "other" bits
  }
  if (uid === 0) return bit !== 1 || (mode & 0o111) !== 0 || info.isDirectory;
  if (info.uid === uid) return (mode & (bit << 6)) !== 0;
  return (mode & bit) !== 0 || (mode & (bit << 3)) !== 0;
}

export function unaryTest(
  op: string,
  a: string,
  h: TestHost,
  vars?: (n: string) => boolean,
): boolean {
  switch (op) {
    case "-z":
      return a === "";
    case "-n":
      return a !== "";
    case "-v":
      return vars ? vars(a) : false;
    case "-t":
      return false;
    case "-L":
    case "-h":
      return stat(a, h.cwd, true)?.isSymlink ?? false;
  }
  const info = stat(a, h.cwd);
  switch (op) {
    case "-e":
    case "-a":
      return info !== undefined;
    case "-f":
      return info?.isFile ?? false;
    case "-d":
      return info?.isDirectory ?? false;
    case "-s":
      return (info?.size ?? 0) > 0;
    case "-r":
      return access(info, 4);
    case "-w":
      return access(info, 2);
    case "-x":
      return access(info, 1);
    case "-p":
      return info?.isFifo ?? false;
    case "-S":
      return info?.isSocket ?? false;
    case "-b":
      return info?.isBlockDevice ?? false;
    case "-c":
      return info?.isCharDevice ?? false;
    case "-g":
      return ((info?.mode ?? 0) & 0o2000) !== 0;
    case "-u":
      return ((info?.mode ?? 0) & 0o4000) !== 0;
    case "-k":
      return ((info?.mode ?? 0) & 0o1000) !== 0;
    case "-O":
      return info !== undefined && info.uid === Deno.uid();
    case "-G":
      return info !== undefined && info.gid === Deno.gid();
    case "-N":
      return info !== undefined && (info.mtime?.getTime() ?? 0) > (info.atime?.getTime() ?? 0);
  }
  throw new TestSyntaxError(`${op}: unary operator expected`);
}

export function binaryTest(a: string, op: string, b: string, h: TestHost, k = -1): boolean {
  switch (op) {
    case "=":
    case "==":
      return h.matches ? h.matches(a, k) : a === b;
    case "!=":
      return h.matches ? !h.matches(a, k) : a !== b;
    case "<":
      return a < b;
    case ">":
      return a > b;
    case "-eq":
      return h.integer(a) === h.integer(b);
    case "-ne":
      return h.integer(a) !== h.integer(b);
    case "-lt":
      return h.integer(a) < h.integer(b);
    case "-le":
      return h.integer(a) <= h.integer(b);
    case "-gt":
      return h.integer(a) > h.integer(b);
    case "-ge":
      return h.integer(a) >= h.integer(b);
    case "-nt":
    case "-ot": {
      const x = stat(a, h.cwd)?.mtime?.getTime();
      const y = stat(b, h.cwd)?.mtime?.getTime();
      if (op === "-nt") return x !== undefined && (y === undefined || x > y);
      return y !== undefined && (x === undefined || x < y);
    }
    case "-ef": {
      const x = stat(a, h.cwd);
      const y = stat(b, h.cwd);
      return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
    }
  }
  throw new TestSyntaxError(`${op}: binary operator expected`);
}

/** `test ARGS` / `[ ARGS ]` (the `]` already removed), POSIX's rules by argument count first. */
export function testBuiltin(args: string[], h: TestHost): boolean {
  const n = args.length;
  if (n === 0) return false;
  if (n === 1) return args[0] !== "";
  if (n === 2) {
    if (args[0] === "!") return args[1] === "";
    if (UNARY.has(args[0])) return unaryTest(args[0], args[1], h);
    throw new TestSyntaxError(`${args[0]}: unary operator expected`);
  }
  if (n === 3) {
    if (BINARY.has(args[1])) return binaryTest(args[0], args[1], args[2], h);
    if (args[0] === "!") return !testBuiltin(args.slice(1), h);
    if (args[0] === "(" && args[2] === ")") return args[1] !== "";
    if (args[1] === "-a") return args[0] !== "" && args[2] !== "";
    if (args[1] === "-o") return args[0] !== "" || args[2] !== "";
    throw new TestSyntaxError(`${args[1]}: binary operator expected`);
  }
  if (n === 4 && args[0] === "!") return !testBuiltin(args.slice(1), h);
  if (n === 4 && args[0] === "(" && args[3] === ")") return testBuiltin(args.slice(1, 3), h);
  // The general grammar: -o binds looser than -a, `!` and parentheses.
  let k = 0;
  const or = (): boolean => {
    let v = and();
    while (args[k] === "-o") {
      k++;
      const r = and();
      v = v || r;
    }
    return v;
  };
  const and = (): boolean => {
    let v = not();
    while (args[k] === "-a") {
      k++;
      const r = not();
      v = v && r;
    }
    return v;
  };
  const not = (): boolean => {
    if (args[k] === "!") {
      k++;
      return !not();
    }
    if (args[k] === "(") {
      k++;
      const v = or();
      if (args[k++] !== ")") throw new TestSyntaxError("`)' expected");
      return v;
    }
    if (UNARY.has(args[k]) && k + 1 < n) {
      const op = args[k];
      k += 2;
      return unaryTest(op, args[k - 1], h);
    }
    if (BINARY.has(args[k + 1] ?? "") && k + 2 < n) {
      k += 3;
      return binaryTest(args[k - 3], args[k - 2], args[k - 1], h);
    }
    if (k >= n) throw new TestSyntaxError("argument expected");
    return args[k++] !== "";
  };
  const v = or();
  if (k < n) throw new TestSyntaxError(`${args[k]}: too many arguments`);
  return v;
}

export const TEST_UNARY = UNARY;
export const TEST_BINARY = BINARY;
