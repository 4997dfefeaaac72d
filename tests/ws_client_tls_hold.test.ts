/**
 * A peer that accepts TCP and never answers TLS. Each wss:// handshake the
 * dial's timeout gives up on keeps its socket until the peer ends it (Deno
 * finishes a TLS handshake before it closes the connection:
 * denoland/deno#14547), so reconnecting for ever would hold a descriptor an
 * attempt, without bound. Past MAX_ABANDONED_TLS_HANDSHAKES the dial fails
 * with `exhausted` at once (no new socket), and the Connection stops and
 * says so: the runner then exits 1 and a fresh process releases them
 * (lib/runner.ts; the supervisor restarts a runner that exits 1).
 */
import { expect } from "./deps.ts";
import { dialTcp } from "../lib/wire/ws_client.ts";
import { MAX_ABANDONED_TLS_HANDSHAKES } from "../lib/wire/ws_client_handshake.ts";
import type { DialError } from "../lib/wire/transport.ts";
import { Connection } from "../lib/wire/connection.ts";
import { Backoff } from "../lib/wire/backoff.ts";
import { logger } from "../lib/log.ts";

function silentTlsPeer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) accepted.push(c); // held open, never a byte
  })();
  return {
    url: `wss://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/ws`,
    accepted,
    async close() {
      for (const c of accepted) c.close();
      listener.close();
      await accepting.catch(() => {});
    },
  };
}

Deno.test("tcp client: past the cap of abandoned TLS handshakes, a dial fails as exhausted and opens no socket", async () => {
  const peer = silentTlsPeer();
  const dial = () =>
    dialTcp(peer.url, { onMessage() {}, onClose() {} }, {
      headers: {},
      timeoutMs: 100,
      maxPayload: 1024,
    }).then(() => undefined, (err: DialError) => err);
  try {
    for (let i = 0; i < MAX_ABANDONED_TLS_HANDSHAKES; i++) {
      const err = await dial();
      expect(err?.kind).toBe("network");
      expect(err?.message).toMatch(/timed out/);
    }
    await new Promise((r) => setTimeout(r, 100));
    const sockets = peer.accepted.length;
    expect(sockets).toBe(MAX_ABANDONED_TLS_HANDSHAKES);
    const err = await dial();
    expect(err?.kind).toBe("exhausted");
    expect(err?.message).toMatch(/TLS handshakes with the platform timed out/);
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.accepted.length).toBe(sockets); // that dial's TCP connection was closed, not held
  } finally {
    await peer.close();
  }
});

Deno.test("connection: an exhausted dial stops the reconnects and is told once", async () => {
  const peer = silentTlsPeer();
  let told = 0;
  const conn = new Connection({
    url: peer.url,
    token: "t",
    dial: dialTcp,
    log: logger("test"),
    heartbeat: (id) => Promise.resolve({ ...id, version: "test" }),
    onMessage: () => {},
    connectTimeoutMs: 100,
    backoff: new Backoff(10, 20),
    onExhausted: () => told++,
  });
  try {
    conn.start();
    // the other test of this file may have used up the cap already: at most the cap more dials
    for (let i = 0; i < 200 && told === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(told).toBe(1);
    const sockets = peer.accepted.length;
    await new Promise((r) => setTimeout(r, 300)); // no dial after it
    expect(peer.accepted.length).toBe(sockets);
    expect(told).toBe(1);
  } finally {
    await conn.stop();
    await peer.close();
  }
});
