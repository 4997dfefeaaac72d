/**
 * lib/policy/glob_match.ts: the one glob matcher (rules and bash pathname
 * expansion). Checked against bash itself on random cases, against a
 * memoised reference in path mode, and on patterns that take a
 * backtracking matcher exponential time (issue 12's ReDoS).
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import { compileGlob, escapeGlob, globMatch, GlobSyntaxError } from "../lib/policy/glob_match.ts";
import { runBash } from "../lib/bash/run.ts";
import { context, READ_ONLY, withWorkspace } from "./bash_support.ts";

/** A small deterministic PRNG, so a failure can be reproduced. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const PATTERN_PIECES = [
  "a",
  "b",
  ".",
  "/",
  "*",
  "?",
  "[ab]",
  "[!a]",
  "[a-c]",
  "[[:alpha:]]",
  "\\*",
  "*a",
];
const TEXT_CHARS = ["a", "b", "c", ".", "/", "*", "1"];

function randomCases(seed: number, n: number): { pattern: string; text: string }[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => ({
    pattern: Array.from({ length: 1 + Math.floor(r() * 6) }, () => pick(r, PATTERN_PIECES)).join(
      "",
    ),
    text: Array.from({ length: Math.floor(r() * 7) }, () => pick(r, TEXT_CHARS)).join(""),
  }));
}

Deno.test("glob: agrees with bash's [[ text == pattern ]] on 400 random cases", async () => {
  const cases = randomCases(42, 400);
  const script =
    "while IFS= read -r p && IFS= read -r t; do [[ $t == $p ]] && echo 1 || echo 0; done";
  const child = new Deno.Command("bash", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    env: { LC_ALL: "C" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(cases.map((c) => `${c.pattern}\n${c.text}\n`).join("")));
  await w.close();
  const out = new TextDecoder().decode((await child.output()).stdout).trim().split("\n");
  expect(out.length).toBe(cases.length);
  const disagree = cases.filter((c, k) => globMatch(c.pattern, c.text) !== (out[k] === "1"));
  expect(disagree).toEqual([]);
});

/** A memoised reference for path mode: obviously correct, polynomial, slow. */
function reference(p: string[], t: string[]): boolean {
  const memo = new Map<string, boolean>();
  const hidden = (j: number) => t[j] === "." && (j === 0 || t[j - 1] === "/");
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    if (memo.has(key)) return memo.get(key)!;
    let r: boolean;
    if (i === p.length) r = j === t.length;
    else if (p[i] === "*") {
      r = go(i + 1, j) || (j < t.length && t[j] !== "/" && !hidden(j) && go(i, j + 1));
    } else if (j === t.length) r = false;
    else if (p[i] === "?") r = t[j] !== "/" && !hidden(j) && go(i + 1, j + 1);
    else r = p[i] === t[j] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

Deno.test("glob: path mode agrees with a reference (`*` and `?` stop at `/`, hidden dots)", () => {
  const r = rng(7);
  for (let k = 0; k < 2000; k++) {
    const p = Array.from(
      { length: 1 + Math.floor(r() * 6) },
      () => pick(r, ["a", ".", "/", "*", "?"]),
    );
    const t = Array.from({ length: Math.floor(r() * 8) }, () => pick(r, ["a", "b", ".", "/"]));
    const got = compileGlob(p.join(""), { mode: "path" }).match(t.join(""));
    if (got !== reference(p, t)) throw new Error(`${p.join("")} vs ${t.join("")}: got ${got}`);
  }
});

Deno.test("glob: the rules' syntax: only `*` is special, it crosses everything; case option", () => {
  const rule = (p: string, t: string, ignoreCase = false) =>
    compileGlob(p, { starOnly: true, ignoreCase }).match(t);
  expect(rule("kubectl get *", "kubectl get pods -n x/y")).toBe(true);
  expect(rule("a?c", "abc")).toBe(false);
  expect(rule("a?c", "a?c")).toBe(true);
  expect(rule("[ab]", "a")).toBe(false);
  expect(rule("[ab]", "[ab]")).toBe(true);
  expect(rule("a\\*", "a\\xyz")).toBe(true);
  expect(rule("*secret*", "get SECRETS")).toBe(false);
  expect(rule("*secret*", "get SECRETS", true)).toBe(true);
  expect(rule("*", "")).toBe(true);
  expect(rule("a*a", "a")).toBe(false);
  expect(rule("a*b*c", "a-c-b-c")).toBe(true);
});

Deno.test("glob: bash syntax details", () => {
  expect(globMatch("[]a]", "]")).toBe(true);
  expect(globMatch("[!]a]", "b")).toBe(true);
  expect(globMatch("[a-]", "-")).toBe(true);
  expect(globMatch("[", "[")).toBe(true);
  expect(globMatch("a[", "a[")).toBe(true);
  expect(globMatch("\\?", "?")).toBe(true);
  expect(globMatch("\\?", "a")).toBe(false);
  expect(globMatch("[[:digit:]]x", "7x")).toBe(true);
  expect(globMatch("[[:upper:]]", "a", { ignoreCase: true })).toBe(true);
  expect(globMatch("e*", "école")).toBe(false);
  expect(globMatch("?cole", "école")).toBe(true);
  expect(globMatch(escapeGlob("a*[b]?"), "a*[b]?")).toBe(true);
  expect(globMatch(escapeGlob("a*[b]?"), "axxb1")).toBe(false);
  expect(() => compileGlob("[[:nope:]]")).toThrow(GlobSyntaxError);
  expect(globMatch("*", ".hidden", { mode: "path" })).toBe(false);
  expect(globMatch(".*", ".hidden", { mode: "path" })).toBe(true);
  expect(globMatch("a*", "a/b", { mode: "path" })).toBe(false);
  expect(globMatch("a/*", "a/b", { mode: "path" })).toBe(true);
  expect(globMatch("a/*", "a/.b", { mode: "path" })).toBe(false);
});

Deno.test("glob: pathological patterns finish (a backtracking matcher would not)", () => {
  // 30 × `*a` then `b`, against 10,000 `a`s: exponential work for a backtracking
  // RegExp; at most 61 × 10,000 steps here. No time assertion: the test timeout is the bound.
  const pattern = "*a".repeat(30) + "b";
  const text = "a".repeat(10_000);
  for (
    const opts of [{}, { mode: "path" as const }, { starOnly: true }, { ignoreCase: true }]
  ) {
    expect(compileGlob(pattern, opts).match(text)).toBe(false);
    expect(compileGlob(pattern, opts).match(text + "b")).toBe(true);
  }
  expect(compileGlob("*?".repeat(40) + "[!a]", {}).match("a".repeat(10_000))).toBe(false);
});

Deno.test("glob: the bash expansion of issue 12's ReDoS pattern completes", async () => {
  await withWorkspace(async (ws) => {
    await Deno.mkdir(join(ws.root, "rx2"));
    await Deno.writeTextFile(join(ws.root, "rx2", "a".repeat(60)), "");
    await Deno.writeTextFile(join(ws.root, "rx2", "a".repeat(59) + "b"), "");
    const pattern = "rx2/" + "*a".repeat(12) + "*b";
    const r = await runBash({ command: `ls ${pattern}` }, context(ws, READ_ONLY));
    expect(r.stdout.trim()).toBe(`rx2/${"a".repeat(59)}b`);
  });
});
