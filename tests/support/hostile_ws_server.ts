/**
 * A hostile WebSocket server on 127.0.0.1 for tests/ws_client_redteam.test.ts:
 * raw TCP, the upgrade answer and the frames written by hand from a case of
 * tests/redteam/ws_frames.json, and the client's frames read back (its close
 * code and pongs). Written apart from lib/wire/ws_client_frames.ts on
 * purpose: the client is not checked against its own encoder.
 */

import type { Socket } from "../../lib/wire/transport.ts";
import { dialTcp } from "../../lib/wire/ws_client.ts";

export interface FrameSpec {
  op: number;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  text?: string;
  payloadHex?: string;
  repeat?: number;
  /** the declared length, when it differs from the payload's (a string for 64-bit values) */
  length?: number | string;
  /** send the header only */
  headerOnly?: boolean;
}

export interface HostileCase {
  id: string;
  why: string;
  upgrade: string;
  /** upgrade "raw": the whole answer head, `{accept}` standing for the right Sec-WebSocket-Accept */
  head?: string;
  /**
   * Acts as the CONNECT proxy first: answers the CONNECT with this ("" answers nothing),
   * then, when it is a 200, as the platform inside the "tunnel"
   */
  proxyAnswer?: string;
  frames?: FrameSpec[];
  /** frames (and a raw head or proxy answer) one byte a write */
  slow?: boolean;
  maxPayload?: number;
}

export interface ClientFrames {
  /** the code of the close frame the client sent, if it sent one */
  closeCode?: number;
  pongs: string[];
  /** the client's upgrade request head, and its CONNECT request when the case is a proxy */
  request?: string;
  proxyRequest?: string;
}

const enc = new TextEncoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function payloadOf(f: FrameSpec): Uint8Array {
  if (f.text !== undefined) return enc.encode(f.text);
  if (f.payloadHex !== undefined) {
    return new Uint8Array(f.payloadHex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
  }
  return new Uint8Array(f.repeat ?? 0).fill(0x61);
}

export function encodeServerFrame(f: FrameSpec): Uint8Array {
  const payload = payloadOf(f);
  const declared = BigInt(f.length ?? payload.length);
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.op];
  const maskBit = f.masked ? 0x80 : 0;
  if (declared < 126n) head.push(maskBit | Number(declared));
  else if (declared < 65536n) {
    head.push(maskBit | 126, Number(declared >> 8n), Number(declared & 255n));
  } else {
    head.push(maskBit | 127);
    for (let s = 56n; s >= 0n; s -= 8n) head.push(Number((declared >> s) & 255n));
  }
  const body = f.headerOnly ? new Uint8Array(0) : payload.slice();
  if (f.masked) {
    const mask = [1, 2, 3, 4];
    head.push(...mask);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  }
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

async function accept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", enc.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Reads one request head (the client sends nothing after it before an answer). */
async function readRequest(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("client went away before its request");
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

function keyOf(request: string): string {
  return /^sec-websocket-key: *(\S+)/im.exec(request)?.[1] ?? "";
}

async function readRequestKey(conn: Deno.Conn): Promise<string> {
  return keyOf(await readRequest(conn));
}

async function writeSlowly(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    await conn.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, 1)); // so the client reads them apart
  }
}

/** Reads the client's (masked) frames until it closes the connection. */
async function readClientFrames(conn: Deno.Conn, into: ClientFrames): Promise<void> {
  let pending = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return;
    }
    if (n === null) return;
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(buf.subarray(0, n), pending.length);
    pending = joined;
    while (pending.length >= 2) {
      let len = pending[1] & 0x7f;
      let at = 2;
      if (len === 126) [len, at] = [(pending[2] << 8) | pending[3], 4];
      else if (len === 127) [len, at] = [Number(new DataView(pending.buffer).getBigUint64(2)), 10];
      if (!(pending[1] & 0x80)) throw new Error("client frame not masked");
      if (pending.length < at + 4 + len) break;
      const mask = pending.subarray(at, at + 4);
      const body = pending.slice(at + 4, at + 4 + len).map((b, i) => b ^ mask[i & 3]);
      const op = pending[0] & 0x0f;
      if (op === 0x8 && body.length >= 2) into.closeCode ??= (body[0] << 8) | body[1];
      if (op === 0xa) into.pongs.push(new TextDecoder().decode(body));
      pending = pending.slice(at + 4 + len);
    }
  }
}

/**
 * Serves `c` to one client; `done` settles when the client has gone, or
 * after `hangUp` (for a client that cannot hang up: see the wss-silent-server
 * case of tests/redteam/ws_handshake.json).
 */
export function serveHostile(
  c: HostileCase,
): { url: string; done: Promise<ClientFrames>; hangUp(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/safari/worknode/ws`;
  let accepted: Deno.Conn | undefined;
  const hangUp = () => {
    try {
      accepted?.close();
    } catch { /* closed */ }
  };
  const done = (async () => {
    const conn = await listener.accept();
    accepted = conn;
    listener.close();
    conn.setNoDelay(true);
    const got: ClientFrames = { pongs: [] };
    try {
      if (c.proxyAnswer !== undefined) {
        got.proxyRequest = await readRequest(conn);
        const answer = enc.encode(c.proxyAnswer);
        await (c.slow ? writeSlowly(conn, answer) : conn.write(answer));
        if (!c.proxyAnswer.startsWith("HTTP/1.1 200")) {
          await conn.read(new Uint8Array(1)); // until the client hangs up
          throw new Error("no tunnel");
        }
      }
      got.request = await readRequest(conn);
      const key = keyOf(got.request);
      const reading = readClientFrames(conn, got);
      await answer(conn, c, key);
      await reading;
    } catch { /* the client dropped us: what it sent is recorded */ }
    try {
      conn.close();
    } catch { /* closed */ }
    return got;
  })();
  return { url, done, hangUp };
}

async function answer(conn: Deno.Conn, c: HostileCase, key: string): Promise<void> {
  const write = async (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  };
  const upgradeHead = (extra = "", acceptKey?: string) =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptKey}\r\n${extra}\r\n`;
  const frames = (c.frames ?? []).map(encodeServerFrame);
  const ok = await accept(key);
  const status = /^status:(\d+)$/.exec(c.upgrade);
  if (status) {
    await write(enc.encode(
      `HTTP/1.1 ${
        status[1]
      } Nope\r\nLocation: ws://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n`,
    ));
    return;
  }
  switch (c.upgrade) {
    case "silent":
      return; // the client's timeout ends it
    case "bad-accept":
      return await write(enc.encode(upgradeHead("", await accept(key + "x"))));
    case "extension":
      return await write(
        enc.encode(upgradeHead("Sec-WebSocket-Extensions: permessage-deflate\r\n", ok)),
      );
    case "no-upgrade-header":
      return await write(
        enc.encode(
          `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ok}\r\n\r\n`,
        ),
      );
    case "endless-header": {
      await write(enc.encode("HTTP/1.1 101 Switching Protocols\r\n"));
      const line = enc.encode(`X-Pad: ${"a".repeat(1000)}\r\n`);
      for (let i = 0; i < 1000; i++) await write(line); // until the client hangs up
      return;
    }
    case "ok-with-frames": {
      const head = enc.encode(upgradeHead("", ok));
      const all = new Uint8Array(head.length + frames.reduce((n, f) => n + f.length, 0));
      let off = 0;
      for (const part of [head, ...frames]) {
        all.set(part, off);
        off += part.length;
      }
      return await write(all);
    }
    case "raw": {
      const head = enc.encode(c.head!.replaceAll("{accept}", ok));
      await (c.slow ? writeSlowly(conn, head) : write(head));
      break;
    }
    case "ok":
      await write(enc.encode(upgradeHead("", ok)));
      break;
    default:
      throw new Error(`unknown upgrade ${c.upgrade}`);
  }
  for (const f of frames) await (c.slow ? writeSlowly(conn, f) : write(f));
}

/**
 * One upgrade answered properly, then the raw connection handed to the test,
 * which decides what the server writes and whether it reads at all (a peer
 * that never reads, one that resets mid-write).
 */
export function serveRaw(): { url: string; conn: Promise<Deno.Conn> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/ws`;
  const conn = (async () => {
    const conn = await listener.accept();
    listener.close();
    const key = await readRequestKey(conn);
    await conn.write(enc.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await accept(key)}\r\n\r\n`,
    ));
    return conn;
  })();
  return { url, conn };
}

/**
 * The tcp client dialled at `url`, recording how it closes: the socket, the
 * close events, and a promise of the first one.
 */
export async function dialRecording(
  url: string,
  onMessage: (t: string) => void = () => {},
  maxPayload = 64 * 1024 * 1024,
) {
  const closes: { code: number; reason: string }[] = [];
  let closed: () => void = () => {};
  const closedP = new Promise<void>((r) => closed = r);
  const socket: Socket = await dialTcp(url, {
    onMessage,
    onClose: (code, reason) => {
      closes.push({ code, reason });
      closed();
    },
  }, { headers: {}, timeoutMs: 10_000, maxPayload });
  return { socket, closes, closedP };
}
