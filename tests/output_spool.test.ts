/**
 * Output saved as it arrives (OutputSpool, lib/tasks/output.ts): the result
 * must be what limitOutput of the whole text was — byte for byte, for every
 * way the text can be cut into pieces — while memory holds only the preview's
 * head. The reference below is the first version's algorithm (split the whole
 * text into lines), kept here as the oracle.
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import type { Rule } from "../lib/config.ts";
import { runBash } from "../lib/bash/run.ts";
import { Capture, pump } from "../lib/bash/sinks.ts";
import {
  type LimitedText,
  MAX_OUTPUT_CHARS,
  OUTPUTS_DIR,
  OutputSpool,
  PREVIEW_CHARS,
} from "../lib/tasks/output.ts";
import { PathFs } from "../lib/fs/path_fs.ts";
import { tempWorkspace } from "./file_ops_support.ts";
import { context, withWorkspace } from "./bash_support.ts";

/** limitOutput as the reference computes it from the whole text, given where it was saved. */
function reference(text: string, saved: string | undefined): LimitedText {
  if (text.length <= MAX_OUTPUT_CHARS) return { content: text };
  const lines = text.split("\n");
  const shown = Math.min(20, lines.length);
  let head = lines.slice(0, shown).join("\n");
  if (head.length > PREVIEW_CHARS) {
    const high = head.charCodeAt(PREVIEW_CHARS - 1);
    head = head.slice(0, high >= 0xd800 && high <= 0xdbff ? PREVIEW_CHARS - 1 : PREVIEW_CHARS) +
      "\n... [preview truncated]";
  }
  const parts = [
    "<output_truncated>",
    `Output too large (${text.length} chars, ${lines.length} lines).` +
    (saved ? ` Full content saved to: ${saved}` : " Could not save full content."),
    "",
    `Preview (first ${shown} lines):`,
    "```",
    head,
    "```",
    "",
  ];
  if (saved) parts.push(`To read more: read("${saved}", offset=${shown}, limit=100)`);
  parts.push("</output_truncated>");
  return {
    content: parts.join("\n"),
    truncated: true,
    ...(saved ? { file_path: saved } : {}),
    total_size: text.length,
  };
}

/** The file's bytes equal the UTF-8 of `text` (compared as text: a deep equal of megabytes is slow). */
async function savedAs(path: string, text: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  const want = new TextEncoder().encode(text);
  expect(bytes.length).toBe(want.length);
  expect(bytes.toBase64() === want.toBase64()).toBe(true);
}

/** A small deterministic generator: the same pieces every run. */
function lengths(seed: number, max: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 1 + (x % max);
  };
}

const TEXTS: Record<string, string> = {
  "empty": "",
  "short": "a\nb\n",
  "exactly the limit": "x".repeat(MAX_OUTPUT_CHARS),
  "one over the limit": "x".repeat(MAX_OUTPUT_CHARS + 1),
  "lines": Array.from({ length: 5000 }, (_, i) => `line ${i}`).join("\n"),
  "a 50,000-char first line": "y".repeat(50_000) + "\nsecond\n",
  "19 lines then a long tail": "l\n".repeat(19) + "z".repeat(40_000),
  "newlines only": "\n".repeat(40_000),
  "CRLF": "row\r\n".repeat(10_000),
  "an emoji pair on the preview's edge": "a" + "😀".repeat(20_000),
  "mixed scripts": "héllo wörld 日本語 😀 Ελληνικά\n".repeat(2_000),
  "a lone surrogate": "q".repeat(31_000) + "\ud83d" + "tail\n",
};

for (const [name, text] of Object.entries(TEXTS)) {
  Deno.test(`OutputSpool: ${name}: the result and the saved bytes equal limitOutput of the whole text, however it is cut`, async () => {
    await using t = await tempWorkspace();
    for (const max of [2, 1000, 70_000]) {
      const spool = new OutputSpool(t.ws, "bash");
      const next = lengths(max + text.length, max);
      // cut at any UTF-16 position: a surrogate pair may be split between two writes
      for (let at = 0; at < text.length;) {
        const n = next();
        await spool.write(text.slice(at, at + n));
        at += n;
      }
      const r = await spool.finish();
      expect(r).toEqual(reference(text, r.file_path));
      if (text.length > MAX_OUTPUT_CHARS) {
        expect(r.file_path).toMatch(/^\.work\/outputs\/bash_[A-Za-z0-9]{8}_\d{10}\.txt$/);
        await savedAs(t.at(r.file_path!), text);
      }
    }
    // nothing but the saved files: no temp file is left
    const left = await Array.fromAsync(Deno.readDir(t.at(OUTPUTS_DIR))).catch(() => []);
    expect(left.filter((e) => !/^bash_.*\.txt$/.test(e.name))).toEqual([]);
  });
}

Deno.test("OutputSpool: holds at most the limit until it is passed, then only the preview's head", async () => {
  await using t = await tempWorkspace();
  const spool = new OutputSpool(t.ws, "bash");
  const chunk = "0123456789abcde\n".repeat(4096); // 64 KiB
  let most = 0;
  let written = 0;
  for (let i = 0; i < 80; i++) { // 5 MiB
    await spool.write(chunk);
    written += chunk.length;
    most = Math.max(most, spool.held);
  }
  expect(most).toBe(PREVIEW_CHARS + 1);
  const r = await spool.finish();
  expect(r.total_size).toBe(written);
  expect((await Deno.stat(t.at(r.file_path!))).size).toBe(written);

  const small = new OutputSpool(t.ws, "bash");
  for (let i = 0; i < 29; i++) await small.write("x".repeat(1000));
  expect(small.held).toBe(29_000); // may still go out unchanged: kept whole
  await small.write("x".repeat(1001));
  expect(small.held).toBe(PREVIEW_CHARS + 1); // over: only the head stays
  await small.finish();
});

Deno.test("OutputSpool: discard leaves nothing; a save that cannot be made still gives the preview", async () => {
  await using t = await tempWorkspace();
  const spool = new OutputSpool(t.ws, "bash");
  await spool.write("d\n".repeat(40_000));
  expect((await Array.fromAsync(Deno.readDir(t.at(OUTPUTS_DIR)))).length).toBe(1); // the temp file
  await spool.discard();
  expect(await Array.fromAsync(Deno.readDir(t.at(OUTPUTS_DIR)))).toEqual([]);

  // `.work` symlinked outside: no file, and the reference's wording for it
  const outside = join(t.base, "outside");
  await Deno.mkdir(outside);
  await Deno.remove(t.at(".work"), { recursive: true });
  await Deno.symlink(outside, t.at(".work"));
  const text = "e\n".repeat(40_000);
  const blocked = new OutputSpool(t.ws, "bash");
  await blocked.write(text);
  expect(await blocked.finish()).toEqual(reference(text, undefined));
  expect(await Array.fromAsync(Deno.readDir(outside))).toEqual([]);
});

/** Bytes in chunks of the sizes given, cycling: UTF-8 characters land across every boundary. */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const n = sizes[i++ % sizes.length];
      c.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

Deno.test("Capture into a spool: UTF-8 split across reads decodes as the whole does, and the capture keeps no text", async () => {
  await using t = await tempWorkspace();
  const text = "añ€😀 日本\n".repeat(5_000); // 1-, 2-, 3- and 4-byte characters
  const bytes = new Uint8Array([...new TextEncoder().encode(text), 0xff, 0xe2, 0x82]);
  const whole = new TextDecoder().decode(bytes); // the bad bytes become U+FFFD, as before
  for (const sizes of [[1], [2, 3], [5, 7, 11], [65_536]]) {
    const spool = new OutputSpool(t.ws, "bash");
    const streamed: string[] = [];
    const capture = new Capture("stdout", (_s, d) => streamed.push(d), undefined, undefined, spool);
    await pump(chunked(bytes, sizes), capture.writer());
    const r = await spool.finish();
    expect(r).toEqual(reference(whole, r.file_path));
    await savedAs(t.at(r.file_path!), whole);
    expect(streamed.join("")).toBe(whole);
    expect(capture.text).toBe("");
  }
});

const RULES: Rule[] = [
  { pattern: "*", action: "deny" },
  { pattern: "seq *", action: "allow" },
  { pattern: "cat *", action: "allow" },
];

function seqText(n: number): string {
  let s = "";
  for (let i = 1; i <= n; i++) s += `${i}\n`;
  return s;
}

Deno.test("bash: stdout and stderr, small to capped, give the results the whole text gave", async () => {
  await withWorkspace(async (ws) => {
    const ctx = context(ws, RULES);
    const cap = 10 * 1024 * 1024;
    const multi = "ü€😀\n".repeat(30_000); // 300,000 bytes: 64 KiB reads split characters
    await Deno.writeTextFile(join(ws.root, "multi.txt"), multi);
    await Deno.writeTextFile(join(ws.root, "limit.txt"), "x".repeat(MAX_OUTPUT_CHARS));
    await Deno.writeTextFile(join(ws.root, "over.txt"), "x".repeat(MAX_OUTPUT_CHARS + 1));
    await Deno.writeFile(join(ws.root, "cap.bin"), new Uint8Array(cap).fill(0x41));
    await Deno.writeFile(join(ws.root, "cap1.bin"), new Uint8Array(cap + 1).fill(0x41));
    const capped = "A".repeat(cap) +
      `\n[runner: stdout capped at ${cap} bytes; the rest was discarded]\n`;
    const cases: [string, string][] = [
      ["seq 1 10", seqText(10)],
      ["cat limit.txt", "x".repeat(MAX_OUTPUT_CHARS)],
      ["cat over.txt", "x".repeat(MAX_OUTPUT_CHARS + 1)],
      ["seq 1 100000", seqText(100_000)],
      ["cat multi.txt", multi],
      ["cat cap.bin", "A".repeat(cap)],
      ["cat cap1.bin", capped],
    ];
    for (const [command, want] of cases) {
      const r = await runBash({ command }, ctx);
      const { content, ...rest } = reference(want, r.file_path);
      expect({ command, ...r }).toEqual({
        command,
        stdout: content,
        stderr: "",
        exit_code: 0,
        ...rest,
      });
      if (r.file_path) {
        await savedAs(join(ws.root, r.file_path), want);
      }
    }
    // stderr is carried whole, as before
    const err = await runBash({ command: "seq 1 100000 >&2" }, ctx);
    expect(err).toEqual({ stdout: "", stderr: seqText(100_000), exit_code: 0 });
    // a command that reads a saved output is not truncated again
    const saved = (await runBash({ command: "seq 1 100000" }, ctx)).file_path!;
    expect(await runBash({ command: `cat ${saved}` }, ctx))
      .toEqual({ stdout: seqText(100_000), stderr: "", exit_code: 0 });
  });
});

Deno.test("bash: a cancelled command leaves no saved output and no temp file", async () => {
  await withWorkspace(async (ws) => {
    const ctl = new AbortController();
    let streamed = 0;
    const ctx = context(ws, [{ pattern: "*", action: "allow" }], {
      signal: ctl.signal,
      output: (_s, d) => {
        streamed += d.length;
        if (streamed > 200_000) ctl.abort();
      },
    });
    const r = runBash({ command: "while true; do echo flood; done" }, ctx);
    await expect(r).rejects.toThrow("command cancelled");
    const dir = join(ws.root, OUTPUTS_DIR);
    expect(await Array.fromAsync(Deno.readDir(dir)).catch(() => [])).toEqual([]);
  });
});

Deno.test("createAtomic, through descriptors and by path: nothing at the name until commit; discard leaves nothing", async () => {
  await using t = await tempWorkspace();
  const realRel = async (rel: string, display: string) =>
    t.ws.relative(await t.ws.resolve(rel, display));
  const kinds = { [t.ws.fs.kind]: t.ws.fs, path: new PathFs(t.ws.root, realRel) };
  for (const [kind, fs] of Object.entries(kinds)) {
    const rel = `.work/outputs/${kind}.txt`;
    const file = await fs.createAtomic(rel, rel);
    await file.write(new TextEncoder().encode("one "));
    await file.write(new TextEncoder().encode("two"));
    expect({ kind, there: await fs.stat(rel) }).toEqual({ kind, there: undefined });
    await file.commit();
    expect({ kind, text: await Deno.readTextFile(t.at(rel)) }).toEqual({ kind, text: "one two" });
    const dropped = await fs.createAtomic(`${rel}.2`, rel);
    await dropped.write(new TextEncoder().encode("gone"));
    dropped.discard();
    await new Promise((r) => setTimeout(r, 50)); // the path version removes it in the background
    const left = await Array.fromAsync(Deno.readDir(t.at(".work/outputs")), (e) => e.name);
    expect({ kind, left: left.filter((n) => !n.endsWith(".txt")) }).toEqual({ kind, left: [] });
  }
});
