/**
 * The tcp transport's Socket (lib/wire/ws_client.ts) against a conforming
 * server that is not ours: Deno.serve with Deno.upgradeWebSocket on
 * 127.0.0.1. What lib/wire/transport.ts's Socket interface promises:
 * in-order sends that resolve once written, corked batches, bufferedAmount,
 * ping/pong, a close handshake that reports once, sends refused after it.
 */
import { expect } from "./deps.ts";
import { dialRecording } from "./support/hostile_ws_server.ts";

interface Server {
  url: string;
  received: string[];
  /** the close code and reason the server saw */
  closed: Promise<{ code: number; reason: string }>;
  /** sends to the client */
  send(text: string): void;
  stop(): Promise<void>;
}

function startServer(): Promise<Server> {
  const received: string[] = [];
  let peer: WebSocket | undefined;
  let closedResolve: (v: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((r) => closedResolve = r);
  return new Promise((ready) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        ready({
          url: `ws://127.0.0.1:${port}/ws`,
          received,
          closed,
          send: (text) => peer!.send(text),
          stop: () => server.shutdown(),
        }),
    }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => received.push(String(e.data));
      socket.onclose = (e) => closedResolve({ code: e.code, reason: e.reason });
      peer = socket;
      return response;
    });
  });
}

function dial(url: string, onMessage: (t: string) => void = () => {}) {
  return dialRecording(url, onMessage, 4 * 1024 * 1024);
}

Deno.test("tcp socket: sends arrive in order, corked or not; bufferedAmount counts what is unwritten", async () => {
  const server = await startServer();
  const { socket, closedP } = await dial(server.url);
  try {
    const big = "b".repeat(2 * 1024 * 1024);
    const bigSent = socket.send(big);
    expect(socket.bufferedAmount!()).toBeGreaterThanOrEqual(big.length); // not written yet
    const sends: Promise<void>[] = [];
    socket.corked!(() => {
      for (const t of ["one", "two", "three"]) sends.push(socket.send(t));
    });
    sends.push(socket.send("four"));
    await Promise.all([bigSent, ...sends]);
    expect(socket.bufferedAmount!()).toBe(0);
    while (server.received.length < 5) await new Promise((r) => setTimeout(r, 10));
    expect(server.received.map((t) => t.length > 10 ? `${t.length}` : t)).toEqual([
      `${big.length}`,
      "one",
      "two",
      "three",
      "four",
    ]);
  } finally {
    socket.close(1000, "done");
    await closedP;
    await server.stop();
  }
});

Deno.test("tcp socket: ping is answered with pong; messages from the server are delivered", async () => {
  const server = await startServer();
  const got: string[] = [];
  const { socket, closedP } = await dial(server.url, (t) => got.push(t));
  try {
    await new Promise<void>((r) => socket.ping!(r));
    server.send("héllo");
    server.send("x".repeat(100_000)); // spans reads
    while (got.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect([got[0], got[1].length]).toEqual(["héllo", 100_000]);
  } finally {
    socket.close();
    await closedP;
    await server.stop();
  }
});

Deno.test("tcp socket: close() is a handshake reported once; sends after it are refused", async () => {
  const server = await startServer();
  const { socket, closes, closedP } = await dial(server.url);
  socket.close(4002, "bye now");
  await expect(socket.send("late")).rejects.toThrow("socket is not open");
  expect(await server.closed).toEqual({ code: 4002, reason: "bye now" });
  await closedP;
  socket.close(); // a second close and a terminate change nothing
  socket.terminate!();
  await new Promise((r) => setTimeout(r, 50));
  expect(closes.length).toBe(1);
  expect(closes[0].code).toBe(4002); // the server's answer echoes the code
  await server.stop();
});

Deno.test("tcp socket: terminate() drops at once and reports 1006", async () => {
  const server = await startServer();
  const { socket, closes, closedP } = await dial(server.url);
  socket.terminate!();
  await closedP;
  expect(closes).toEqual([{ code: 1006, reason: "" }]);
  await expect(socket.send("x")).rejects.toThrow("socket is not open");
  await server.stop();
});
