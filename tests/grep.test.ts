/**
 * grep against real files: the result shape, ripgrep-like choices (smart
 * case, include globs, hidden and binary files, links), large output, and
 * the guards that keep a hostile or huge search from hurting the runner.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { RE2JS } from "../lib/deps/re2.ts";
import { grep, grepOperation, MAX_GREP_MATCHES } from "../lib/operations/grep.ts";
import { compileGrepPattern, hasUpperCaseLiteral } from "../lib/fs/grep_pattern.ts";
import { GrepWorkers } from "../lib/fs/grep_search.ts";
import {
  contextFor,
  plant,
  rejection,
  type TempWorkspace,
  tempWorkspace,
} from "./file_ops_support.ts";

const ESCAPE = "path escapes workspace";

Deno.test("grep: {matches, content} with path:line:content lines", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, {
    "a.txt": "first\nneedle one\nthird\r\nneedle two\r\n",
    "sub/b.md": "no\nno\nthe needle\n",
  });
  const r = await t.run(grep, { pattern: "needle" });
  expect(r).toEqual({
    matches: [
      { path: "a.txt", line_number: 2, content: "needle one" },
      { path: "a.txt", line_number: 4, content: "needle two" },
      { path: "sub/b.md", line_number: 3, content: "the needle" },
    ],
    content: "a.txt:2:needle one\na.txt:4:needle two\nsub/b.md:3:the needle",
  });
  expect(await t.run(grep, { pattern: "absent" })).toEqual({ matches: [], content: "" });
});

Deno.test("grep: smart case, and the pattern is an RE2 regular expression", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "f.txt": "hello\nHello\nHELLO\nhe11o\na.b 42\n" });
  const lines = async (pattern: string) =>
    (await t.run<{ matches: { line_number: number }[] }>(grep, { pattern })).matches.map((m) =>
      m.line_number
    );
  expect(await lines("hello")).toEqual([1, 2, 3]);
  expect(await lines("Hello")).toEqual([2]);
  expect(await lines("he[l1]{2}o")).toEqual([1, 2, 3, 4]);
  expect(await lines("^H")).toEqual([2, 3]);
  expect(await lines("\\S+LLO")).toEqual([3]);
  expect(await lines("\\Sello")).toEqual([1, 2, 3]); // \S is an escape, not an upper-case letter
  expect(await lines("(?i)HELLO")).toEqual([1, 2, 3]); // inline flags, as ripgrep
  expect(await lines("[[:digit:]]{2}$")).toEqual([5]);
  expect(await lines("\\Qa.b\\E")).toEqual([5]);
  expect(await lines("a\\.b")).toEqual([5]);
  expect(hasUpperCaseLiteral("\\p{Lu}\\pL\\W\\D\\x4A\\x{1F600}(?P<Name>x)")).toBe(false);
  expect(hasUpperCaseLiteral("\\QABC\\E")).toBe(true); // quoted text is literal
  expect(hasUpperCaseLiteral("É")).toBe(true);
  expect(compileGrepPattern("error")).toEqual({ source: "error", flags: RE2JS.CASE_INSENSITIVE });
  expect(compileGrepPattern("Error")).toEqual({ source: "Error", flags: 0 });
});

Deno.test("grep: include chooses files by path or base name; ! excludes", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, {
    "a.ts": "hit",
    "src/b.ts": "hit",
    "src/c.md": "hit",
    "docs/d.md": "hit",
  });
  const paths = async (include: string[]) =>
    (await t.run<{ matches: { path: string }[] }>(grep, { pattern: "hit", include })).matches
      .map((m) => m.path);
  expect(await paths(["*.ts"])).toEqual(["a.ts", "src/b.ts"]);
  expect(await paths(["src/**"])).toEqual(["src/b.ts", "src/c.md"]);
  expect(await paths(["*.md", "a.*"])).toEqual(["a.ts", "docs/d.md", "src/c.md"]);
  expect(await paths(["!*.md"])).toEqual(["a.ts", "src/b.ts"]);
  expect(await paths([`${t.ws.root}/docs/*`])).toEqual(["docs/d.md"]);
  expect(await rejection(t.run(grep, { pattern: "hit", include: ["../*"] }))).toContain(ESCAPE);
  expect(await rejection(t.run(grep, { pattern: "hit", include: "*.ts" }))).toContain(
    "`include`",
  );
});

Deno.test("grep: skips hidden and binary files and links leading outside; reads links inside", async () => {
  await using t = await tempWorkspace();
  const outside = join(t.base, "outside");
  await plant(outside, { "o.txt": "token outside" });
  await plant(t.ws.root, {
    "plain.txt": "token plain",
    ".git/config": "token hidden",
    ".env": "token dotfile",
    "img.bin": new Uint8Array([116, 111, 107, 101, 110, 0, 1, 2]),
  });
  await Deno.symlink(join(outside, "o.txt"), t.at("out_file.txt"));
  await Deno.symlink(outside, t.at("out_dir"));
  await Deno.symlink("plain.txt", t.at("in_link.txt"));
  const r = await t.run<{ matches: { path: string }[]; content: string }>(grep, {
    pattern: "token",
  });
  expect(r.matches.map((m) => m.path)).toEqual(["in_link.txt", "plain.txt"]);
  expect(r.content).not.toContain("outside");
});

Deno.test("grep: a large result is previewed and saved; matches stay whole", async () => {
  await using t = await tempWorkspace();
  const body = Array.from({ length: 2000 }, (_, i) => `match number ${i} ${"z".repeat(20)}`);
  await plant(t.ws.root, { "big.txt": body.join("\n") });
  const r = await t.run<
    {
      matches: unknown[];
      content: string;
      truncated: boolean;
      file_path: string;
      total_size: number;
    }
  >(grep, { pattern: "match" });
  expect(r.matches.length).toBe(2000);
  expect(r.truncated).toBe(true);
  expect(r.file_path).toMatch(/^\.work\/outputs\/grep_/);
  expect(r.content).toContain("<output_truncated>");
  const full = await Deno.readTextFile(t.at(r.file_path));
  expect(full).toBe(body.map((l, i) => `big.txt:${i + 1}:${l}`).join("\n"));
  expect(r.total_size).toBe(full.length);
  // the saved output is hidden, so a second grep does not find the first one's file
  const again = await t.run<{ matches: { path: string }[] }>(grep, { pattern: "match number 0 " });
  expect(again.matches.map((m) => m.path)).toEqual(["big.txt"]);
});

Deno.test("grep: matches are capped, a long line is cut, and both are said", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, {
    "many.txt": "x\n".repeat(MAX_GREP_MATCHES + 50),
    "wide.txt": "y".repeat(5000),
  });
  const capped = await t.run<{ matches: unknown[]; file_path: string }>(grep, {
    pattern: "x",
    include: ["many.txt"],
  });
  expect(capped.matches.length).toBe(MAX_GREP_MATCHES);
  const saved = await Deno.readTextFile(t.at(capped.file_path));
  expect(saved.endsWith(`\n[grep stopped at ${MAX_GREP_MATCHES} matches]`)).toBe(true);
  const wide = await t.run<{ matches: { content: string }[] }>(grep, {
    pattern: "y",
    include: ["wide.txt"],
  });
  expect(wide.matches[0].content).toBe("y".repeat(2000) + " [... line truncated]");
});

Deno.test("grep: an invalid or unsupported regex is a clear error", async () => {
  await using t = await tempWorkspace();
  for (const pattern of ["(", "a[", "*x", "x**", "a{1001}", "(a)\\1", "a(?=b)"]) {
    const msg = await rejection(t.run(grep, { pattern }));
    expect(msg).toMatch(/^invalid regular expression /);
    expect(msg).toContain("RE2 syntax");
  }
  expect(await rejection(t.run(grep, {}))).toContain("`pattern` must be a string");
});

Deno.test("grep: classic ReDoS patterns finish at once with the right answer (RE2 is linear)", async () => {
  await using t = await tempWorkspace();
  const hostile = "a".repeat(100_000) + "!";
  await plant(t.ws.root, {
    "evil.txt": `${"a".repeat(48)}!\n${hostile}\n${"x".repeat(50_000)}\n`,
    "words.txt": `${"word ".repeat(20_000)}!\n`,
  });
  // each of these takes a backtracking engine (JS RegExp) longer than the universe's age
  const hits = async (pattern: string) =>
    (await t.run<{ matches: { path: string; line_number: number }[] }>(grep, { pattern }))
      .matches.map((m) => `${m.path}:${m.line_number}`);
  expect(await hits("(a+)+$")).toEqual([]);
  expect(await hits("(a|aa)*b")).toEqual([]);
  expect(await hits("(x+x+)+y")).toEqual([]);
  expect(await hits("^(\\w+\\s?)*$")).toEqual(["evil.txt:3"]); // the x line is all \w
  expect(await hits("(a+)+!")).toEqual(["evil.txt:1", "evil.txt:2"]);
});

Deno.test("grep worker: refuses a file that is not a regular file by the time it opens it", async () => {
  // as if a path checked on the main thread had been swapped for a symlink or a FIFO since
  await using t = await tempWorkspace();
  const outside = join(t.base, "outside");
  await plant(outside, { "secret.txt": "token secret" });
  await plant(t.ws.root, { "ok.txt": "token ok" });
  await Deno.symlink(join(outside, "secret.txt"), t.at("swapped.txt"));
  expect((await new Deno.Command("mkfifo", { args: [t.at("fifo")] }).output()).success).toBe(true);
  const pool = new GrepWorkers();
  try {
    const files = ["swapped.txt", "fifo", "ok.txt"].map((p) => ({ path: p, real: p }));
    const r = await pool.run({
      root: t.ws.root,
      ...compileGrepPattern("token"),
      files,
      maxMatches: 10,
      maxFileBytes: 1024,
      maxLineChars: 100,
    }, { timeoutMs: 30_000 });
    expect(r.matches).toEqual([{ path: "ok.txt", line_number: 1, content: "token ok" }]);
  } finally {
    await pool.closeAll();
  }
});

// The worker threads of this process, by the names Deno gives them.
function workerThreads(): number {
  let n = 0;
  for (const task of Deno.readDirSync("/proc/self/task")) {
    const comm = Deno.readTextFileSync(`/proc/self/task/${task.name}/comm`);
    if (comm.startsWith("worker-")) n++;
  }
  return n;
}

/** Polls `ok` for up to 10 s: generous, it only bounds a broken stop. */
async function eventually(ok: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return ok();
}

/** A search that would take minutes: one 8 MiB text file, listed 2,000 times. */
async function hugeJob(t: TempWorkspace) {
  const line = "the quick brown fox jumps over the lazy dog, again and again and again\n";
  await plant(t.ws.root, { "big.txt": line.repeat(Math.ceil((8 << 20) / line.length)) });
  const file = { path: "big.txt", real: "big.txt" };
  const job = {
    root: t.ws.root,
    ...compileGrepPattern("(fox|dog).*(cat|bird)"),
    files: Array.from({ length: 2000 }, () => file),
    maxMatches: 10,
    maxFileBytes: 16 << 20,
    maxLineChars: 100,
  };
  return { job, small: { ...job, files: [file], ...compileGrepPattern("lazy dog") } };
}

const onLinux = Deno.build.os === "linux"; // threads are counted through /proc

Deno.test({
  name: "grep: a search past its timeout is stopped at once; its worker comes back for reuse",
  ignore: !onLinux,
}, async () => {
  await using t = await tempWorkspace();
  const { job, small } = await hugeJob(t);
  const pool = new GrepWorkers();
  const baseline = workerThreads();
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 25);
    try {
      const msg = await rejection(pool.run(job, { timeoutMs: 1000 }));
      expect(msg).toContain("grep timed out after 1 s and was stopped");
    } finally {
      clearInterval(timer);
    }
    // had the search run on this thread, the timer could not have fired while it ran
    expect(ticks).toBeGreaterThan(5);
    // the full search takes minutes: coming back idle means the stop flag ended it
    // (Worker.terminate() alone leaves a busy worker spinning: denoland/deno#35657)
    expect(await eventually(() => pool.idleCount === 1)).toBe(true);
    const threads = workerThreads();
    const again = await pool.run(small, { timeoutMs: 30_000 });
    expect(again.matches.length).toBe(10);
    expect(workerThreads()).toBe(threads); // the same worker did it
  } finally {
    await pool.closeAll();
  }
  expect(await eventually(() => workerThreads() <= baseline)).toBe(true);
});

Deno.test({
  name: "grep: cancel (ctx.signal) stops a running search",
  ignore: !onLinux,
}, async () => {
  await using t = await tempWorkspace();
  const { job } = await hugeJob(t);
  const pool = new GrepWorkers();
  try {
    const ac = new AbortController();
    const pending = pool.run(job, { timeoutMs: 30_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 500);
    expect(await rejection(pending)).toBe("grep cancelled");
    expect(await eventually(() => pool.idleCount === 1)).toBe(true);
  } finally {
    await pool.closeAll();
  }
  // the operation honours an aborted ctx.signal too
  const aborted = new AbortController();
  aborted.abort();
  expect(await rejection(grep({ pattern: "x" }, contextFor(t.ws, aborted.signal)))).toMatch(
    /cancel|abort/i,
  );
});

Deno.test("grep: the operation's timeout is configurable and says what happened", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "f.txt": "x\n" });
  const cold = new GrepWorkers(); // a cold worker cannot even start in 1 ms
  try {
    const op = grepOperation({ timeoutMs: 1, workers: cold });
    const msg = await rejection(op({ pattern: "x" }, contextFor(t.ws)));
    expect(msg).toContain("grep timed out after 0.001 s and was stopped");
  } finally {
    await cold.closeAll();
  }
  expect(await rejection(cold.run({} as never, { timeoutMs: 1000 }))).toBe("grep is shut down");
  expect((await t.run<{ matches: unknown[] }>(grep, { pattern: "x" })).matches.length).toBe(1);
});
