import { expect } from "./deps.ts";
import { join } from "node:path";
import {
  countLines,
  firstLines,
  limitOutput,
  MAX_OUTPUT_CHARS,
  readsSavedOutput,
} from "../lib/tasks/output.ts";
import { tempWorkspace } from "./file_ops_support.ts";

Deno.test("limitOutput: text up to 30,000 chars goes out unchanged", async () => {
  await using t = await tempWorkspace();
  const text = "x".repeat(MAX_OUTPUT_CHARS);
  expect(await limitOutput(t.ws, "grep", text)).toEqual({ content: text });
  expect(await limitOutput(t.ws, "grep", "")).toEqual({ content: "" });
});

Deno.test("limitOutput: longer text becomes the reference's preview and is saved whole", async () => {
  await using t = await tempWorkspace();
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${"y".repeat(20)}`);
  const text = lines.join("\n");
  const r = await limitOutput(t.ws, "bash", text);
  expect(Object.keys(r).sort()).toEqual(["content", "file_path", "total_size", "truncated"]);
  expect(r.truncated).toBe(true);
  expect(r.total_size).toBe(text.length);
  expect(r.file_path).toMatch(/^\.work\/outputs\/bash_[A-Za-z0-9]{8}_\d{10}\.txt$/);
  expect(await Deno.readTextFile(t.at(r.file_path!))).toBe(text);
  expect(r.content).toBe(
    [
      "<output_truncated>",
      `Output too large (${text.length} chars, 2000 lines). Full content saved to: ${r.file_path}`,
      "",
      "Preview (first 20 lines):",
      "```",
      lines.slice(0, 20).join("\n"),
      "```",
      "",
      `To read more: read("${r.file_path}", offset=20, limit=100)`,
      "</output_truncated>",
    ].join("\n"),
  );
});

Deno.test("limitOutput: the preview is capped at 8,000 chars and never splits a surrogate pair", async () => {
  await using t = await tempWorkspace();
  // 40,001 UTF-16 units: the 8,000th unit is the high half of an emoji
  const text = "a" + "😀".repeat(20_000);
  const r = await limitOutput(t.ws, "mcp", text);
  const head = r.content.split("```\n")[1].split("\n... [preview truncated]")[0];
  expect(head.length).toBe(7_999);
  expect(head.isWellFormed()).toBe(true);
  expect(r.content).toContain("\n... [preview truncated]\n```");
});

Deno.test("limitOutput: a .work symlinked outside is not written through", async () => {
  await using t = await tempWorkspace();
  const outside = join(t.base, "outside");
  await Deno.mkdir(outside);
  await Deno.symlink(outside, t.at(".work"));
  const r = await limitOutput(t.ws, "grep", "z\n".repeat(20_000));
  expect(r.truncated).toBe(true);
  expect(r.file_path).toBeUndefined();
  expect(r.content).toContain("Could not save full content.");
  expect(r.content).not.toContain("To read more");
  expect(await Array.fromAsync(Deno.readDir(outside))).toEqual([]);
});

Deno.test("readsSavedOutput: only a reader command on .work/ skips truncation", () => {
  expect(readsSavedOutput("cat .work/outputs/bash_x.txt")).toBe(true);
  expect(readsSavedOutput("tail -n 50 .work/outputs/grep_x.txt")).toBe(true);
  expect(readsSavedOutput("cat /var/log/syslog")).toBe(false);
  expect(readsSavedOutput("ls .work/outputs")).toBe(false);
});

Deno.test("limitOutput: the preview found by scanning equals the one a split of every line gives", () => {
  // the reference: split the whole text, as the first version did (and the Go runner does)
  const reference = (text: string, max: number) => {
    const lines = text.split("\n");
    const shown = Math.min(max, lines.length);
    return { lines: lines.length, shown, head: lines.slice(0, shown).join("\n") };
  };
  const cases = [
    "",
    "one line",
    "\n",
    "\n\n\n",
    "a\nb\n",
    Array.from({ length: 19 }, (_, i) => `l${i}`).join("\n"),
    Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n"),
    Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n") + "\n",
    Array.from({ length: 21 }, (_, i) => `l${i}`).join("\n"),
    Array.from({ length: 5000 }, (_, i) => `line ${i}\r`).join("\n"),
    "x".repeat(50_000) + "\nsecond",
    "\n".repeat(25) + "tail",
  ];
  for (const text of cases) {
    const want = reference(text, 20);
    const { shown, end } = firstLines(text, 20);
    expect({ text: text.slice(0, 40), lines: countLines(text), shown, head: text.slice(0, end) })
      .toEqual({ text: text.slice(0, 40), ...want });
  }
});
