/**
 * The tcp transport's framing (ws_client_frames.ts) byte by byte: client
 * frames decode to what was sent, masked with a fresh mask each; the
 * parser reads frames split at every byte, and refuses what the RFC
 * forbids from the header alone. The whole client against hostile servers:
 * tests/ws_client_redteam.test.ts.
 */
import { expect } from "../../tests/deps.ts";
import {
  applyMask,
  CLOSE_INVALID_DATA,
  CLOSE_NO_STATUS,
  CLOSE_PROTOCOL,
  CLOSE_TOO_BIG,
  closePayload,
  encodeControl,
  encodeText,
  FrameError,
  FrameParser,
  OP_PING,
  TOO_BIG_REASON,
} from "./ws_client_frames.ts";

/** Decodes one client frame (as a server would): opcode, fin, mask and unmasked payload. */
function decodeClientFrame(frame: Uint8Array) {
  let len = frame[1] & 0x7f;
  let at = 2;
  if (len === 126) [len, at] = [(frame[2] << 8) | frame[3], 4];
  else if (len === 127) {
    [len, at] = [Number(new DataView(frame.buffer, frame.byteOffset).getBigUint64(2)), 10];
  }
  const mask = frame.slice(at, at + 4);
  const payload = frame.slice(at + 4).map((b, i) => b ^ mask[i & 3]);
  expect(frame.length).toBe(at + 4 + len); // exactly one frame, header and payload together
  return {
    fin: (frame[0] & 0x80) !== 0,
    op: frame[0] & 0x0f,
    masked: (frame[1] & 0x80) !== 0,
    mask,
    payload,
  };
}

/** An unmasked server frame. */
function serverFrame(op: number, payload: Uint8Array | string, fin = true): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const head = body.length < 126
    ? [(fin ? 0x80 : 0) | op, body.length]
    : body.length < 65536
    ? [(fin ? 0x80 : 0) | op, 126, body.length >> 8, body.length & 255]
    : [
      (fin ? 0x80 : 0) | op,
      127,
      0,
      0,
      0,
      0,
      (body.length >>> 24) & 255,
      (body.length >> 16) & 255,
      (body.length >> 8) & 255,
      body.length & 255,
    ];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function collector(max = 1 << 20) {
  const got: string[] = [];
  const parser = new FrameParser(max, {
    text: (t) => got.push(`text:${t}`),
    binary: (n) => got.push(`binary:${n}`),
    ping: (p) => got.push(`ping:${new TextDecoder().decode(p)}`),
    pong: (p) => got.push(`pong:${new TextDecoder().decode(p)}`),
    close: (code, reason) => got.push(`close:${code}:${reason}`),
  });
  return { got, parser };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("encodeText: one masked frame per message, every length form, ASCII and not", () => {
  const texts = [
    "",
    "x",
    "a".repeat(125),
    "a".repeat(126),
    "a".repeat(65535),
    "a".repeat(65536),
    "é".repeat(40_000), // 80 000 bytes from 40 000 characters: the 3-byte bound path
    "日本".repeat(50_000), // over 64 K characters and not ASCII: encoded first, then framed
    '{"type":"task.result","payload":{"ok":true}}',
  ];
  for (const text of texts) {
    const f = decodeClientFrame(encodeText(text));
    expect([f.fin, f.op, f.masked]).toEqual([true, 1, true]);
    expect(new TextDecoder().decode(f.payload)).toBe(text);
  }
});

Deno.test("encodeText: a fresh mask for every frame", () => {
  const masks = new Set<string>();
  for (let i = 0; i < 20; i++) masks.add(decodeClientFrame(encodeText("same")).mask.join(","));
  expect(masks.size).toBeGreaterThan(1);
});

Deno.test("applyMask: the word loop equals the byte loop at every alignment and length", () => {
  const mask = new Uint8Array([0x12, 0x34, 0x56, 0x78]);
  for (const offset of [0, 1, 2, 3, 4]) {
    for (const n of [0, 3, 15, 16, 17, 64, 101]) {
      const buf = new Uint8Array(offset + n + 3).map((_, i) => i * 7);
      const want = buf.slice();
      for (let i = 0; i < n; i++) want[offset + i] ^= mask[i & 3];
      applyMask(buf, offset, n, mask);
      expect(buf).toEqual(want);
    }
  }
});

Deno.test("control frames: ping payload kept; a close reason is cut to fit 125 bytes", () => {
  const ping = decodeClientFrame(encodeControl(OP_PING, new TextEncoder().encode("hi")));
  expect([ping.op, new TextDecoder().decode(ping.payload)]).toEqual([OP_PING, "hi"]);
  const close = closePayload(1000, "r".repeat(300));
  expect(close.length).toBe(125);
  expect([close[0], close[1]]).toEqual([0x03, 0xe8]);
});

Deno.test("FrameParser: frames split at every byte read the same as whole", () => {
  const stream = concat(
    serverFrame(1, "hello"),
    serverFrame(9, "p"),
    serverFrame(1, "b".repeat(300)), // 16-bit length
    serverFrame(1, "frag-", false),
    serverFrame(10, "q"), // a control frame between fragments
    serverFrame(0, "mént", false),
    serverFrame(0, "ed"),
    serverFrame(2, new Uint8Array(70_000)), // 64-bit length, binary
    serverFrame(8, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65])),
  );
  const whole = collector();
  whole.parser.push(stream);
  const want = [
    "text:hello",
    "ping:p",
    `text:${"b".repeat(300)}`,
    "pong:q",
    "text:frag-ménted",
    "binary:70000",
    "close:1000:bye",
  ];
  expect(whole.got).toEqual(want);
  for (const step of [1, 2, 3, 7, 13, 1000]) {
    const split = collector();
    for (let i = 0; i < stream.length; i += step) split.parser.push(stream.slice(i, i + step));
    expect(split.got).toEqual(want);
  }
});

Deno.test("FrameParser: a read buffer reused between pushes does not corrupt a kept fragment", () => {
  const { got, parser } = collector();
  const read = new Uint8Array(8);
  const first = serverFrame(1, "abc", false);
  read.set(first);
  parser.push(read.subarray(0, first.length));
  read.fill(0x7a); // the next read overwrites the buffer the fragment came in
  const last = serverFrame(0, "def");
  read.set(last);
  parser.push(read.subarray(0, last.length));
  expect(got).toEqual(["text:abcdef"]);
});

function refused(bytes: Uint8Array, max = 1024): FrameError {
  const { parser } = collector(max);
  try {
    parser.push(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error("accepted");
}

Deno.test("FrameParser: refusals and their close codes, from the header alone", () => {
  const header64 = (hi: number, lo: number) =>
    new Uint8Array([
      0x81,
      127,
      hi >>> 24,
      (hi >> 16) & 255,
      (hi >> 8) & 255,
      hi & 255,
      lo >>> 24,
      (lo >> 16) & 255,
      (lo >> 8) & 255,
      lo & 255,
    ]);
  const big = refused(header64(0x80000000, 0));
  expect([big.code, big.message]).toEqual([CLOSE_TOO_BIG, TOO_BIG_REASON]);
  expect(refused(header64(0, 1025)).code).toBe(CLOSE_TOO_BIG);
  expect(refused(new Uint8Array([0x81, 126, 0x04, 0x01])).code).toBe(CLOSE_TOO_BIG); // 1025
  expect(
    refused(concat(serverFrame(1, "a".repeat(600), false), new Uint8Array([0x80, 126, 2, 0x58])))
      .code,
  )
    .toBe(CLOSE_TOO_BIG); // 600 + 600
  expect(refused(new Uint8Array([0xc1, 0])).code).toBe(CLOSE_PROTOCOL); // RSV1
  expect(refused(new Uint8Array([0x83, 0])).code).toBe(CLOSE_PROTOCOL); // opcode 3
  expect(refused(new Uint8Array([0x8b, 0])).code).toBe(CLOSE_PROTOCOL); // opcode 0xB
  expect(refused(new Uint8Array([0x81, 0x81, 1, 2, 3, 4])).code).toBe(CLOSE_PROTOCOL); // masked
  expect(refused(new Uint8Array([0x89, 126, 0, 126])).code).toBe(CLOSE_PROTOCOL); // ping 126
  expect(refused(new Uint8Array([0x09, 0])).code).toBe(CLOSE_PROTOCOL); // fragmented ping
  expect(refused(new Uint8Array([0x80, 0])).code).toBe(CLOSE_PROTOCOL); // continuation first
  expect(refused(concat(serverFrame(1, "a", false), serverFrame(1, "b"))).code).toBe(
    CLOSE_PROTOCOL,
  );
  expect(refused(serverFrame(1, new Uint8Array([0xc3, 0x28]))).code).toBe(CLOSE_INVALID_DATA);
  expect(refused(serverFrame(8, new Uint8Array([3]))).code).toBe(CLOSE_PROTOCOL);
  expect(refused(serverFrame(8, new Uint8Array([0x03, 0xed]))).code).toBe(CLOSE_PROTOCOL); // 1005
});

Deno.test("FrameParser: an empty close reports 1005 (no status)", () => {
  const { got, parser } = collector();
  parser.push(serverFrame(8, new Uint8Array(0)));
  expect(got).toEqual([`close:${CLOSE_NO_STATUS}:`]);
});

Deno.test("FrameParser: a real U+FFFD is text; a lone continuation byte or a surrogate is not", () => {
  const { got, parser } = collector();
  parser.push(serverFrame(1, "a\uFFFDb"));
  expect(got).toEqual(["text:a\uFFFDb"]);
  expect(refused(serverFrame(1, new Uint8Array([0x61, 0x80]))).code).toBe(CLOSE_INVALID_DATA);
  expect(refused(serverFrame(1, new Uint8Array([0xed, 0xa0, 0x80]))).code).toBe(CLOSE_INVALID_DATA);
  expect(refused(serverFrame(1, new Uint8Array([0xf0, 0x9f]))).code).toBe(CLOSE_INVALID_DATA);
});

Deno.test("FrameParser: every invalid close code is a protocol error; every valid one is reported", () => {
  const close = (code: number) => serverFrame(8, new Uint8Array([code >> 8, code & 255]));
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    expect(refused(close(code)).code).toBe(CLOSE_PROTOCOL);
  }
  for (const code of [1000, 1003, 1007, 1011, 1014, 3000, 4999]) {
    const { got, parser } = collector();
    parser.push(close(code));
    expect(got).toEqual([`close:${code}:`]);
  }
});

Deno.test("FrameParser: nothing after a close frame is read (RFC 6455 §5.5.1)", () => {
  for (
    const close of [serverFrame(8, new Uint8Array(0)), serverFrame(8, closePayload(1000, "x"))]
  ) {
    const { got, parser } = collector();
    // the frames after it, and even garbage (RSV bits), are neither delivered nor an error
    parser.push(concat(close, serverFrame(1, "after"), serverFrame(9, "p")));
    parser.push(new Uint8Array([0xff, 0xff]));
    expect(got.length).toBe(1);
    expect(got[0]).toMatch(/^close:/);
  }
});

Deno.test("FrameParser: a non-minimal 16/64-bit length is read (size checks use the value)", () => {
  // RFC 6455 §5.2 says the minimal form MUST be used; like npm:ws the parser does not insist
  // (no peer gains anything: the cap applies to the value), and documents so in docs/wire.md.
  const { got, parser } = collector();
  parser.push(new Uint8Array([0x81, 126, 0, 2, 0x68, 0x69]));
  parser.push(new Uint8Array([0x81, 127, 0, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]));
  expect(got).toEqual(["text:hi", "text:hi"]);
});

/** the pieces a parser holds for the fragmented message in progress (a count of objects) */
function piecesHeld(parser: FrameParser): number {
  const p = parser as unknown as { fragments: Uint8Array[] };
  return p.fragments.length;
}

Deno.test("FrameParser: a flood of empty or 1-byte fragments holds their bytes, not an object each", () => {
  const { got, parser } = collector(1 << 20);
  parser.push(serverFrame(1, "s", false));
  const empty = serverFrame(0, new Uint8Array(0), false);
  const one = serverFrame(0, "x", false);
  // 100k empty and 100k 1-byte fragments, in reads of many frames and one at a time
  const reads = concat(...Array.from({ length: 1000 }, () => empty));
  for (let i = 0; i < 100; i++) parser.push(reads);
  const ones = concat(...Array.from({ length: 1000 }, () => one));
  for (let i = 0; i < 99; i++) parser.push(ones);
  for (let i = 0; i < 1000; i++) parser.push(one);
  // 100,001 bytes are in two 64 KiB chunks: the first is sealed, the second still filling
  expect(piecesHeld(parser)).toBeLessThanOrEqual(2);
  parser.push(serverFrame(0, "e"));
  expect(got).toEqual([`text:s${"x".repeat(100_000)}e`]);
});

Deno.test("FrameParser: small and large fragments interleaved keep their order and bytes", () => {
  const { got, parser } = collector(1 << 22);
  const big = (c: string) => c.repeat(20_000);
  const parts = ["a", big("B"), "c", "d", big("E"), big("F"), "g".repeat(16_383), "h"];
  const stream = concat(
    ...parts.map((p, i) => serverFrame(i === 0 ? 1 : 0, p, i === parts.length - 1)),
  );
  for (const step of [stream.length, 7, 65_536]) {
    got.length = 0;
    for (let i = 0; i < stream.length; i += step) parser.push(stream.slice(i, i + step));
    expect(got).toEqual([`text:${parts.join("")}`]);
  }
});
