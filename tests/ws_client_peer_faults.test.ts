/**
 * The tcp transport's Socket (lib/wire/ws_client.ts) against peers that
 * misbehave at the TCP level: one that floods pings and never reads (the
 * pongs must not pile up), one that stops reading while a large send is out
 * (terminate, then bufferedAmount), one that resets mid-write (every pending
 * send rejects, onClose once). Raw servers from tests/support/hostile_ws_server.ts.
 */
import { expect } from "./deps.ts";
import { dialRecording, encodeServerFrame, serveRaw } from "./support/hostile_ws_server.ts";
import { writeAll } from "../lib/async/write_all.ts";

function dial(url: string, onMessage: (t: string) => void = () => {}) {
  return dialRecording(url, onMessage, 64 * 1024 * 1024);
}

Deno.test("tcp socket: a ping flood from a peer that never reads queues one pong, not one per ping", async () => {
  const server = serveRaw();
  let atDone = -1;
  let done: () => void = () => {};
  const doneP = new Promise<void>((r) => done = r);
  const { socket, closedP } = await dial(server.url, (text) => {
    if (text !== "done") return;
    atDone = socket.bufferedAmount!();
    done();
  });
  const conn = await server.conn;
  // 200k pings of 125 bytes: ~25 MB of pongs if each were queued, far past what the
  // kernel's socket buffers take while the server reads nothing
  const ping = encodeServerFrame({ op: 9, repeat: 125 });
  const batch = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
  for (let i = 0; i < 200; i++) await writeAll(conn, batch);
  await writeAll(conn, encodeServerFrame({ op: 1, text: "done" }));
  await doneP;
  // at most one write batch (256 KiB) out and one pong waiting
  expect(atDone).toBeGreaterThanOrEqual(0);
  expect(atDone).toBeLessThan(512 * 1024);
  socket.terminate!();
  await closedP;
  conn.close();
});

Deno.test("tcp socket: terminate() while a large send is out: the send rejects, bufferedAmount is 0, never negative", async () => {
  const server = serveRaw();
  const { socket, closes, closedP } = await dial(server.url);
  const conn = await server.conn; // reads nothing: the 32 MiB frame stays partly unwritten
  const sending = socket.send("x".repeat(32 * 1024 * 1024)).then(() => "sent", (e) => e.message);
  await new Promise((r) => setTimeout(r, 50));
  expect(socket.bufferedAmount!()).toBeGreaterThan(0);
  socket.terminate!();
  await closedP;
  await sending; // the write out when the connection was dropped has settled
  expect(socket.bufferedAmount!()).toBe(0);
  expect(closes).toEqual([{ code: 1006, reason: "" }]);
  conn.close();
});

Deno.test("tcp socket: a peer reset mid-write rejects every pending send and reports onClose once", async () => {
  const server = serveRaw();
  const { socket, closes, closedP } = await dial(server.url);
  const conn = await server.conn;
  const big = "y".repeat(8 * 1024 * 1024);
  const sends = [0, 1, 2, 3].map(() => socket.send(big).then(() => "sent", () => "rejected"));
  await new Promise((r) => setTimeout(r, 50));
  conn.close(); // unread data in its buffer: the kernel answers with a reset
  await closedP;
  const outcomes = await Promise.all(sends);
  // the first frames may have reached the kernel before the reset; the last cannot have
  expect(outcomes[3]).toBe("rejected");
  expect(socket.bufferedAmount!()).toBe(0);
  await new Promise((r) => setTimeout(r, 50));
  expect(closes.length).toBe(1);
  expect(closes[0].code).toBe(1006);
  await expect(socket.send("after")).rejects.toThrow("socket is not open");
});
