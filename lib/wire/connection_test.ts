/**
 * The Connection with a scripted transport: what happens to a result whose
 * send is still pending when its session ends (lib/wire/session_link.ts).
 */
import { expect } from "../../tests/deps.ts";
import { Connection } from "./connection.ts";
import { Backoff } from "./backoff.ts";
import { envelope } from "./protocol.ts";
import type { Dialer, Socket, SocketHandlers } from "./transport.ts";
import { logger } from "../log.ts";

interface FakeSession {
  handlers: SocketHandlers;
  /** texts of task.result frames sent on this session, by whether the send completed */
  results: string[];
  /** sends not yet completed (a peer that reads nothing) */
  held: (() => void)[];
  silent: boolean;
}

/** Each dial is a session; a silent one takes sends but never completes them. */
function fakeDialer() {
  const sessions: FakeSession[] = [];
  const dialed: (() => void)[] = [];
  const dial: Dialer = (_url, handlers) => {
    const s: FakeSession = { handlers, results: [], held: [], silent: false };
    sessions.push(s);
    const socket: Socket = {
      send(text) {
        const type = JSON.parse(text).type;
        if (s.silent) {
          return new Promise((ok) => s.held.push(() => ok()));
        }
        if (type === "task.result") s.results.push(JSON.parse(text).payload.task_id);
        return Promise.resolve();
      },
      close: (code = 1000, reason = "") => handlers.onClose(code, reason),
    };
    queueMicrotask(() => {
      handlers.onMessage(
        JSON.stringify(envelope("welcome", { worknode_id: "wn", name: "n", labels: [] })),
      );
      dialed.shift()?.();
    });
    return Promise.resolve(socket);
  };
  const nextDial = () => new Promise<void>((r) => dialed.push(r));
  return { dial, sessions, nextDial };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

Deno.test("connection: a result sent while its session ends stays queued and goes out once, on the next session", async () => {
  const fake = fakeDialer();
  const conn = new Connection({
    url: "ws://platform.invalid/ws",
    token: "t",
    dial: fake.dial,
    log: logger("test"),
    heartbeat: (id) => Promise.resolve({ ...id, version: "test" }),
    onMessage: () => {},
    pingIntervalMs: 60_000,
    backoff: new Backoff(1, 1),
  });
  try {
    let dialed = fake.nextDial();
    conn.start();
    await dialed;
    await tick();
    const first = fake.sessions[0];
    first.silent = true; // the peer stops reading: the send below never completes
    const r = conn.deliver("task.result", { task_id: "r1", success: true });
    await tick();
    expect(first.held.length).toBe(1);
    expect(conn.outbox.size).toBe(1); // not taken yet: still ours

    dialed = fake.nextDial();
    first.handlers.onClose(1006, "gone"); // the session ends with the send pending
    await dialed;
    await tick(50);
    first.held.forEach((ok) => ok()); // the dead socket answers late: changes nothing

    const second = fake.sessions[1];
    expect(second.results).toEqual(["r1"]); // sent on the next session
    expect(await r.settled).toBe("sent");
    expect(conn.outbox.size).toBe(0);
    await tick(50);
    expect(second.results).toEqual(["r1"]); // once
    expect(first.results).toEqual([]);
  } finally {
    await conn.stop();
  }
});
