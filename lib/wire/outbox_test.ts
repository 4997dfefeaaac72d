import { expect } from "../../tests/deps.ts";
import { Outbox } from "./outbox.ts";
import { envelope } from "./protocol.ts";

const msg = (n: number) => envelope("task.result", { task_id: `t${n}`, success: true });

Deno.test("outbox: oldest first; a message leaves only when shifted, and says it was sent", async () => {
  const box = new Outbox();
  const a = box.push(msg(1));
  box.push(msg(2));
  expect(box.peek()!.env.payload).toEqual({ task_id: "t1", success: true });
  expect(box.peek()!.env.payload).toEqual({ task_id: "t1", success: true }); // a failed send keeps it first
  box.shift();
  expect(await a.settled).toBe("sent");
  expect(box.size).toBe(1);
  expect(a.bytes).toBe(JSON.stringify(msg(1)).length);
});

Deno.test("outbox: the bound applies only when trimmed (disconnected), dropping the oldest and counting", async () => {
  const dropped: string[] = [];
  const box = new Outbox(
    3,
    1 << 20,
    (e) => dropped.push((e.payload as { task_id: string }).task_id),
  );
  const first = box.push(msg(1));
  for (let i = 2; i <= 5; i++) box.push(msg(i));
  expect(box.size).toBe(5); // never dropped while a socket drains it
  box.trim();
  expect(box.size).toBe(3);
  expect(dropped).toEqual(["t1", "t2"]);
  expect(box.dropped).toBe(2);
  expect(await first.settled).toBe("dropped");
  expect(box.peek()!.env.payload).toEqual({ task_id: "t3", success: true });
});

Deno.test("outbox: the byte bound keeps at least the newest message", () => {
  const box = new Outbox(100, 10);
  box.push(msg(1));
  box.push(msg(2));
  box.trim();
  expect(box.size).toBe(1);
  expect(box.peek()!.env.payload).toEqual({ task_id: "t2", success: true });
});
