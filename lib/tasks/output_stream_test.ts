import { expect } from "../../tests/deps.ts";
import { OutputCoalescer } from "./output_stream.ts";
import type { TaskOutputPayload } from "../wire/protocol.ts";

Deno.test("output coalescer: many small chunks become one frame per stream after the delay", async () => {
  const sent: TaskOutputPayload[] = [];
  const c = new OutputCoalescer("t", (p) => sent.push(p), 20, 1000);
  for (let i = 0; i < 100; i++) c.write("stdout", "a");
  c.write("stderr", "e");
  c.write("stdout", "");
  expect(sent).toEqual([]); // nothing before the delay
  for (let i = 0; i < 200 && sent.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  expect(sent).toEqual([
    { task_id: "t", stream: "stdout", data: "a".repeat(100) },
    { task_id: "t", stream: "stderr", data: "e" },
  ]);
});

Deno.test("output coalescer: a full buffer goes at once; flush empties both and stops the timer", () => {
  const sent: TaskOutputPayload[] = [];
  const c = new OutputCoalescer("t", (p) => sent.push(p), 60_000, 10);
  c.write("stdout", "0123456789");
  expect(sent).toEqual([{ task_id: "t", stream: "stdout", data: "0123456789" }]);
  c.write("stderr", "x");
  c.write("stdout", "y");
  c.flush(); // clears the 60 s timer too: the test would leak it otherwise
  expect(sent.slice(1)).toEqual([
    { task_id: "t", stream: "stdout", data: "y" },
    { task_id: "t", stream: "stderr", data: "x" },
  ]);
  c.flush();
  expect(sent.length).toBe(3);
});
