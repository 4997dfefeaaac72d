/**
 * The body of tests/ws_client_leaks.test.ts, run in a process of its own:
 * /proc/self/fd counts the whole process, and `deno test --parallel` runs
 * other test files beside a test in the same process. Prints
 * {"before":n,"after":n} for the cycle named by the first argument.
 */
import { DialError, type SocketHandlers } from "../../lib/wire/transport.ts";
import { dialTcp } from "../../lib/wire/ws_client.ts";

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;

function handlers(onClose: () => void = () => {}): SocketHandlers {
  return { onMessage: () => {}, onClose };
}

function check(ok: boolean, what: string) {
  if (!ok) throw new Error(what);
}

async function connectClose(): Promise<{ before: number; after: number }> {
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
  check(served === 201, `served ${served}`);
  return { before, after: openFds() };
}

async function failedDials(): Promise<{ before: number; after: number }> {
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
    check(err instanceof DialError, `not a DialError: ${err}`);
    return (err as DialError).message;
  };
  const port = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
  await fails(`ws://127.0.0.1:${port(badAccept)}/ws`);
  await fails(`ws://127.0.0.1:${closedPort}/ws`);
  await fails(`ws://127.0.0.1:${port(silent)}/ws`, 20);
  for (const c of silentConns.splice(0)) c.close();
  const before = openFds();
  for (let i = 0; i < 200; i++) {
    const message = await fails(`ws://127.0.0.1:${port(badAccept)}/ws`);
    check(message.includes("invalid Sec-WebSocket-Accept"), message);
  }
  for (let i = 0; i < 200; i++) await fails(`ws://127.0.0.1:${closedPort}/ws`);
  for (let i = 0; i < 50; i++) {
    const message = await fails(`ws://127.0.0.1:${port(silent)}/ws`, 20);
    check(message.includes("timed out"), message);
  }
  // the silent server's side of each timed-out connection is the test's, not the client's
  await new Promise((r) => setTimeout(r, 100));
  for (const c of silentConns.splice(0)) c.close();
  const after = openFds();
  badAccept.close();
  silent.close();
  await serving.catch(() => {});
  await holding.catch(() => {});
  return { before, after };
}

const run = Deno.args[0] === "connect-close" ? connectClose : failedDials;
console.log(JSON.stringify(await run()));
