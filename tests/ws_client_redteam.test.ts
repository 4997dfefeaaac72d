/**
 * The tcp transport's WebSocket client (lib/wire/ws_client.ts) against
 * hostile servers (tests/redteam/ws_frames.json): every protocol violation
 * fails the connection with the right close code, sent to the server and
 * reported once; every bad upgrade fails the dial with the right kind; what
 * is valid (UTF-8 split over fragments, byte-by-byte frames) is read.
 * Memory stays bounded: an oversized frame is sent as its header alone, so
 * the client must refuse it before any payload exists.
 */
import { expect } from "./deps.ts";
import { DialError } from "../lib/wire/transport.ts";
import { dialTcp } from "../lib/wire/ws_client.ts";
import { type HostileCase, serveHostile } from "./support/hostile_ws_server.ts";

interface Expect {
  dial?: "auth" | "network";
  message?: string;
  messages?: string[];
  close?: number;
  reason?: string;
  sentClose?: number;
  pong?: string;
}

const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/ws_frames.json", import.meta.url)),
) as { cases: (HostileCase & { expect: Expect })[] };

/** 'a*1024' is 1024 copies of 'a' */
function expand(text: string): string {
  const m = /^(.)\*(\d+)$/.exec(text);
  return m ? m[1].repeat(Number(m[2])) : text;
}

Deno.test("ws_frames corpus: at least 15 cases, unique ids", () => {
  expect(corpus.cases.length).toBeGreaterThanOrEqual(15);
  expect(new Set(corpus.cases.map((c) => c.id)).size).toBe(corpus.cases.length);
});

for (const c of corpus.cases) {
  Deno.test(`hostile server ${c.id}: ${c.why}`, async () => {
    const server = serveHostile(c);
    const messages: string[] = [];
    const closes: { code: number; reason: string }[] = [];
    let closed: () => void = () => {};
    const closedP = new Promise<void>((r) => closed = r);
    let dialError: unknown;
    try {
      await dialTcp(server.url, {
        onMessage: (text) => messages.push(text),
        onClose: (code, reason) => {
          closes.push({ code, reason });
          closed();
        },
      }, {
        headers: { Authorization: "Bearer wnt_test" },
        timeoutMs: c.upgrade === "silent" ? 300 : 10_000,
        maxPayload: c.maxPayload ?? 1024,
      });
    } catch (err) {
      dialError = err;
    }
    const e = c.expect;
    if (e.dial) {
      expect(dialError).toBeInstanceOf(DialError);
      expect((dialError as DialError).kind).toBe(e.dial);
      expect((dialError as DialError).message).toContain(e.message!);
      await server.done;
      return;
    }
    expect(dialError).toBeUndefined();
    // A client that waits for a payload it should have refused would hang the suite: a
    // generous guard turns that into a failure (not a timing claim).
    let guard: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<string>((r) => guard = setTimeout(() => r("never closed"), 20_000));
    expect(await Promise.race([closedP.then(() => "closed"), hung])).toBe("closed");
    clearTimeout(guard);
    const sent = await server.done; // the client has dropped the connection
    expect(messages).toEqual((e.messages ?? []).map(expand));
    expect(closes.length).toBe(1);
    expect(closes[0].code).toBe(e.close);
    if (e.reason) expect(closes[0].reason).toContain(e.reason);
    expect(sent.closeCode).toBe(e.sentClose);
    if (e.pong) expect(sent.pongs).toEqual([e.pong]);
  });
}
