/**
 * The tcp transport's client lets go of what it opened: file descriptors
 * counted in /proc/self/fd before and after 200 connect/close cycles, 200
 * upgrades refused for a wrong Sec-WebSocket-Accept, 200 refused connects
 * and 50 handshake timeouts (ws://). Timers and ops are Deno.test's
 * sanitizers' to check. A leak of one descriptor a cycle shows as 200.
 */
import { expect } from "./deps.ts";
import { DialError, type SocketHandlers } from "../lib/wire/transport.ts";
import { dialTcp } from "../lib/wire/ws_client.ts";

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;
const SLACK = 8;

function handlers(onClose: () => void = () => {}): SocketHandlers {
  return { onMessage: () => {}, onClose };
}

Deno.test("tcp client: 200 connect/close cycles leave no descriptor open", async () => {
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => served++;
    return response;
  });
  const url = `ws://127.0.0.1:${server.addr.port}/ws`;
  const cycle = async () => {
    let closed: () => void = () => {};
    const closedP = new Promise<void>((r) => closed = r);
    const socket = await dialTcp(url, handlers(closed), {
      headers: {},
      timeoutMs: 10_000,
      maxPayload: 1024,
    });
    await socket.send("hi");
    socket.close(1000, "bye");
    await closedP;
  };
  await cycle(); // the first one loads what stays loaded
  const before = openFds();
  for (let i = 0; i < 200; i++) await cycle();
  await server.shutdown();
  expect(served).toBe(201);
  expect(openFds() - before).toBeLessThanOrEqual(SLACK);
});

Deno.test("tcp client: 200 refused upgrades, 200 refused connects and 50 timeouts leave no descriptor open", async () => {
  // answers every upgrade with a 101 whose Sec-WebSocket-Accept is wrong
  const badAccept = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of badAccept) {
      try {
        await conn.read(new Uint8Array(4096));
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        ));
        await conn.read(new Uint8Array(1)); // until the client hangs up
      } catch { /* the client hung up */ }
      conn.close();
    }
  })();
  // accepts and never answers (its backlog holds the connections; nothing reads them)
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silentConns: Deno.Conn[] = [];
  const holding = (async () => {
    for await (const conn of silent) silentConns.push(conn);
  })();
  const closedPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return port;
  })();
  const fails = async (url: string, timeoutMs = 10_000) => {
    const err = await dialTcp(url, handlers(), { headers: {}, timeoutMs, maxPayload: 1024 })
      .then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DialError);
    return (err as DialError).message;
  };
  const port = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
  await fails(`ws://127.0.0.1:${port(badAccept)}/ws`);
  await fails(`ws://127.0.0.1:${closedPort}/ws`);
  await fails(`ws://127.0.0.1:${port(silent)}/ws`, 20);
  for (const c of silentConns.splice(0)) c.close();
  const before = openFds();
  for (let i = 0; i < 200; i++) {
    expect(await fails(`ws://127.0.0.1:${port(badAccept)}/ws`)).toContain(
      "invalid Sec-WebSocket-Accept",
    );
  }
  for (let i = 0; i < 200; i++) await fails(`ws://127.0.0.1:${closedPort}/ws`);
  for (let i = 0; i < 50; i++) {
    expect(await fails(`ws://127.0.0.1:${port(silent)}/ws`, 20)).toContain("timed out");
  }
  // the silent server's side of each timed-out connection is the test's, not the client's
  await new Promise((r) => setTimeout(r, 100));
  for (const c of silentConns.splice(0)) c.close();
  expect(openFds() - before).toBeLessThanOrEqual(SLACK);
  badAccept.close();
  silent.close();
  await serving.catch(() => {});
  await holding.catch(() => {});
});
