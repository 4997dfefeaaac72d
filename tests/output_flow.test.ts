/**
 * Output under load: the pump reads a program's pipe into one reused buffer,
 * and a capture waits for room on the connection (backpressure). Both must
 * keep every byte: the reuse must not overwrite a chunk a sink still holds,
 * and a wait must slow the reader down, never drop or reorder.
 */
import { expect } from "./deps.ts";
import { join } from "node:path";
import type { Rule } from "../lib/config.ts";
import { runBash } from "../lib/bash/run.ts";
import { Capture, pump } from "../lib/bash/sinks.ts";
import { context, withWorkspace } from "./bash_support.ts";

const RULES: Rule[] = [
  { pattern: "*", action: "deny" },
  { pattern: "seq *", action: "allow" },
  { pattern: "wc *", action: "allow" },
  { pattern: "cat *", action: "allow" },
];

/** What `seq 1 n` prints. */
function seqText(n: number): string {
  let s = "";
  for (let i = 1; i <= n; i++) s += `${i}\n`;
  return s;
}

Deno.test("a large output through a pipe, a file and the capture arrives whole (reused read buffer)", async () => {
  await withWorkspace(async (ws) => {
    const n = 400_000; // about 2.6 MB: many reads of the one buffer
    const want = seqText(n);
    const ctx = context(ws, RULES);
    const piped = await runBash({ command: `seq 1 ${n} | cat | wc -c` }, ctx);
    expect(piped.stdout.trim()).toBe(String(want.length));
    const filed = await runBash({ command: `seq 1 ${n} > out.txt` }, ctx);
    expect(filed.exit_code).toBe(0);
    expect(await Deno.readTextFile(join(ws.root, "out.txt"))).toBe(want);
    const captured = await runBash({ command: `seq 1 ${n}` }, ctx);
    expect(captured.truncated).toBe(true);
    expect(await Deno.readTextFile(join(ws.root, captured.file_path!))).toBe(want);
    // what was streamed live is the same text, in order
    expect(ctx.chunks.filter((c) => c.stream === "stdout").map((c) => c.data).join(""))
      .toContain(want);
  });
});

Deno.test("a capture reads no further while the connection has no room, and loses nothing", async () => {
  const waiting: (() => void)[] = [];
  const room = () => new Promise<void>((resolve) => waiting.push(resolve));
  const streamed: string[] = [];
  const capture = new Capture("stdout", (_s, data) => streamed.push(data), undefined, room);
  let pulled = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      if (++pulled > 5) c.close();
      else c.enqueue(new TextEncoder().encode(`${pulled}\n`));
    },
  }, { highWaterMark: 0 });
  const done = pump(source, capture.writer());
  for (let i = 1; i <= 5; i++) {
    // wait (generously) until the pump is held by the i-th wait for room
    for (let t = 0; t < 200 && waiting.length < 1; t++) await new Promise((r) => setTimeout(r, 10));
    expect({ i, text: capture.text, pulled }).toEqual({
      i,
      text: seqText(i),
      pulled: i, // held: nothing read beyond the chunk waiting for room
    });
    waiting.shift()!();
  }
  await done;
  expect(capture.text).toBe(seqText(5));
  expect(streamed.join("")).toBe(seqText(5));
});
