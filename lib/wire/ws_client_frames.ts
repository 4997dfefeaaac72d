/**
 * RFC 6455 framing for the runner's own WebSocket client (lib/wire/ws_client.ts):
 * the encoder for client frames (always masked) and an incremental parser
 * for server frames. No I/O here, so both are tested byte by byte
 * (ws_client_test.ts).
 *
 * The parser copies each payload byte at most once: a frame that arrives
 * whole in one read is handed on as a view of that read; one that spans
 * reads is copied into a buffer of its exact size, allocated only after its
 * header passed the size check. Fragments are joined once, at the final one.
 */

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes the client sends or reports (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;

/** npm:ws's wording, which the runner's "connection lost" log already shows. */
export const TOO_BIG_REASON = "Max payload size exceeded";

/** A violation of the protocol by the server: the connection is failed with `code`. */
export class FrameError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "FrameError";
  }
}

export interface FrameSink {
  /** a whole text message of `bytes` is about to be decoded (a last chance to collect garbage) */
  beforeText?(bytes: number): void;
  /** a whole text message, UTF-8 checked; `bytes` is its encoded size */
  text(text: string, bytes: number): void;
  /** a whole binary message: the protocol has none, so only its size is told */
  binary(bytes: number): void;
  ping(payload: Uint8Array): void;
  pong(payload: Uint8Array): void;
  /** `code` is CLOSE_NO_STATUS when the frame carried none */
  close(code: number, reason: string): void;
}

const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * UTF-8 to text, refusing invalid UTF-8 (1007). Deno's non-fatal decoder
 * makes the string straight from the bytes; the fatal one decodes into an
 * intermediate copy first, which for a 129 MiB frame is a third copy at the
 * peak (bench:frames: 3.99x the frame size). So: decode leniently, and only
 * a text holding U+FFFD (a replacement, or a real U+FFFD) is checked again
 * strictly.
 */
function decodeText(bytes: Uint8Array): string {
  const text = lenient.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return strict.decode(bytes);
  } catch {
    throw new FrameError(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
  }
}

/** Codes a peer may put in a close frame (RFC 6455 §7.4). */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
}

const HEADER_MAX = 14;
/** fragments under this size are gathered into chunks of FRAGMENT_CHUNK bytes */
const SMALL_FRAGMENT = 16 * 1024;
const FRAGMENT_CHUNK = 64 * 1024;

/**
 * Server frames in, messages and control frames out (to a FrameSink). Call
 * `push` with each read; it throws a FrameError on the first violation,
 * after which the parser must not be used again. After a close frame it
 * reads nothing more: a frame after it is not delivered.
 */
export class FrameParser {
  /** the current frame's header bytes, gathered when a header spans reads */
  private readonly head = new Uint8Array(HEADER_MAX);
  private headLen = 0;
  /** the current frame's payload when it spans reads (exact size) */
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  private fin = false;
  private opcode = 0;
  /** fragments of the text message in progress (their total stays within maxPayload) */
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  /**
   * Where small fragments are gathered (see keepFragment): a server sending
   * a message as 100k 1-byte (or endless empty) fragments costs their bytes,
   * not an object each, which no byte cap would bound.
   */
  private chunk: Uint8Array | null = null;
  private chunkFill = 0;
  /** a close frame was read: what follows is not a frame (RFC 6455 §5.5.1) */
  private closed = false;
  /** the opcode of the fragmented message in progress, or -1 */
  private messageOp = -1;

  constructor(private readonly maxPayload: number, private readonly sink: FrameSink) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && !this.closed) {
      if (this.payload) {
        const n = Math.min(chunk.length - at, this.payload.length - this.payloadFill);
        this.payload.set(chunk.subarray(at, at + n), this.payloadFill);
        this.payloadFill += n;
        at += n;
        if (this.payloadFill === this.payload.length) {
          const whole = this.payload;
          this.payload = null;
          this.frame(whole, true);
        }
        continue;
      }
      if (this.headLen === 0) {
        // Fast path: a whole header (and maybe a whole frame) in this chunk.
        const parsed = this.header(chunk, at, chunk.length);
        if (parsed < 0) {
          // partial header: keep its bytes (at most 13) for the next read
          const rest = chunk.length - at;
          this.head.set(chunk.subarray(at), 0);
          this.headLen = rest;
          return;
        }
        at += parsed;
      } else {
        // A header that spans reads: add bytes until it parses.
        const take = Math.min(HEADER_MAX - this.headLen, chunk.length - at);
        this.head.set(chunk.subarray(at, at + take), this.headLen);
        const had = this.headLen;
        this.headLen += take;
        const parsed = this.header(this.head, 0, this.headLen);
        if (parsed < 0) {
          at += take;
          continue;
        }
        at += parsed - had;
        this.headLen = 0;
      }
      // the header set `length`; now the payload
      const length = this.length;
      if (chunk.length - at >= length) {
        this.frame(chunk.subarray(at, at + length), false);
        at += length;
      } else {
        this.payload = new Uint8Array(length);
        this.payloadFill = 0;
      }
    }
  }

  private length = 0;

  /**
   * Parses a header at bytes[from, to): its size, or -1 when incomplete.
   * Every check that needs only the header happens here, before any
   * payload byte is kept.
   */
  private header(bytes: Uint8Array, from: number, to: number): number {
    if (to - from < 2) return -1;
    const b0 = bytes[from];
    const b1 = bytes[from + 1];
    let size = 2;
    let length = b1 & 0x7f;
    if (length === 126) size = 4;
    else if (length === 127) size = 10;
    if (b1 & 0x80) size += 4;
    if (to - from < size) return -1;

    if (b0 & 0x70) throw new FrameError(CLOSE_PROTOCOL, "reserved bits set in a frame");
    if (b1 & 0x80) throw new FrameError(CLOSE_PROTOCOL, "masked frame from the server");
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (length === 126) {
      length = (bytes[from + 2] << 8) | bytes[from + 3];
    } else if (length === 127) {
      const hi = ((bytes[from + 2] << 24) >>> 0) + (bytes[from + 3] << 16) +
        (bytes[from + 4] << 8) + bytes[from + 5];
      const lo = ((bytes[from + 6] << 24) >>> 0) + (bytes[from + 7] << 16) +
        (bytes[from + 8] << 8) + bytes[from + 9];
      // over 2^53 is over any cap: keep it a number that compares as too big
      length = hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
    }

    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) throw new FrameError(CLOSE_PROTOCOL, `reserved opcode ${opcode}`);
      if (!fin) throw new FrameError(CLOSE_PROTOCOL, "fragmented control frame");
      if (length > 125) throw new FrameError(CLOSE_PROTOCOL, "control frame over 125 bytes");
    } else {
      if (opcode > OP_BINARY) throw new FrameError(CLOSE_PROTOCOL, `reserved opcode ${opcode}`);
      if (opcode === OP_CONTINUATION) {
        if (this.messageOp < 0) {
          throw new FrameError(CLOSE_PROTOCOL, "continuation frame without a message");
        }
      } else if (this.messageOp >= 0) {
        throw new FrameError(CLOSE_PROTOCOL, "new message inside a fragmented one");
      }
      const total = opcode === OP_CONTINUATION ? this.fragmentBytes + length : length;
      if (total > this.maxPayload) throw new FrameError(CLOSE_TOO_BIG, TOO_BIG_REASON);
    }
    this.fin = fin;
    this.opcode = opcode;
    this.length = length;
    return size;
  }

  /**
   * A whole frame's payload: `owned` when it is the parser's own buffer,
   * else a view of the caller's read, valid only during this call.
   */
  private frame(payload: Uint8Array, owned: boolean): void {
    const opcode = this.opcode;
    switch (opcode) {
      case OP_PING:
        return this.sink.ping(payload.slice());
      case OP_PONG:
        return this.sink.pong(payload.slice());
      case OP_CLOSE:
        return this.closeFrame(payload);
    }
    if (opcode !== OP_CONTINUATION && this.fin) return this.message(opcode, payload);
    if (opcode !== OP_CONTINUATION) this.messageOp = opcode;
    this.keepFragment(payload, owned);
    if (!this.fin) return;
    this.sealChunk();
    const whole = new Uint8Array(this.fragmentBytes);
    let off = 0;
    for (const f of this.fragments) {
      whole.set(f, off);
      off += f.length;
    }
    const op = this.messageOp;
    this.fragments = [];
    this.fragmentBytes = 0;
    this.messageOp = -1;
    this.message(op, whole);
  }

  /**
   * A large fragment is kept as it is when the parser owns it, else copied
   * out of the read; a small one (an empty one costs nothing) is copied
   * into the current chunk, so the pieces held number at most one per
   * SMALL_FRAGMENT bytes of message, plus one.
   */
  private keepFragment(payload: Uint8Array, owned: boolean): void {
    this.fragmentBytes += payload.length;
    if (payload.length >= SMALL_FRAGMENT) {
      this.sealChunk();
      this.fragments.push(owned ? payload : payload.slice());
      return;
    }
    if (payload.length === 0) return;
    if (this.chunk && this.chunk.length - this.chunkFill < payload.length) this.sealChunk();
    this.chunk ??= new Uint8Array(FRAGMENT_CHUNK);
    this.chunk.set(payload, this.chunkFill);
    this.chunkFill += payload.length;
  }

  /** Moves the chunk into `fragments`, cut to its fill (each small byte is copied at most twice). */
  private sealChunk(): void {
    if (!this.chunk) return;
    if (this.chunkFill > 0) {
      this.fragments.push(
        this.chunkFill === this.chunk.length ? this.chunk : this.chunk.slice(0, this.chunkFill),
      );
    }
    this.chunk = null;
    this.chunkFill = 0;
  }

  private message(opcode: number, payload: Uint8Array): void {
    if (opcode !== OP_TEXT) return this.sink.binary(payload.length);
    this.sink.beforeText?.(payload.length);
    this.sink.text(decodeText(payload), payload.length);
  }

  private closeFrame(payload: Uint8Array): void {
    if (payload.length === 0) {
      this.closed = true;
      return this.sink.close(CLOSE_NO_STATUS, "");
    }
    if (payload.length === 1) throw new FrameError(CLOSE_PROTOCOL, "close frame of 1 byte");
    const code = (payload[0] << 8) | payload[1];
    if (!validCloseCode(code)) throw new FrameError(CLOSE_PROTOCOL, `invalid close code ${code}`);
    const reason = decodeText(payload.subarray(2));
    this.closed = true;
    this.sink.close(code, reason);
  }
}

const encoder = new TextEncoder();
/** where the payload starts in a frame buffer: 4-aligned, room for the longest header */
const PAYLOAD_AT = 16;

/** Four random bytes, fresh for every frame (RFC 6455 §5.3). */
function newMask(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(4));
}

/** XORs bytes[at, at+n) with `mask` in place, four bytes at a time where aligned. */
export function applyMask(bytes: Uint8Array, at: number, n: number, mask: Uint8Array): void {
  let i = 0;
  if ((bytes.byteOffset + at) % 4 === 0 && n >= 16) {
    const words = n >>> 2;
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + at, words);
    const m = new Uint32Array(mask.buffer, mask.byteOffset, 1)[0];
    for (let w = 0; w < words; w++) view[w] ^= m;
    i = words << 2;
  }
  for (; i < n; i++) bytes[at + i] ^= mask[i & 3];
}

/** Writes the header ending at `end` for a masked frame; returns where it starts. */
function writeHeader(buf: Uint8Array, end: number, opcode: number, n: number, mask: Uint8Array) {
  const start = end - (n < 126 ? 6 : n < 65536 ? 8 : 14);
  buf[start] = 0x80 | opcode;
  if (n < 126) {
    buf[start + 1] = 0x80 | n;
  } else if (n < 65536) {
    buf[start + 1] = 0x80 | 126;
    buf[start + 2] = n >>> 8;
    buf[start + 3] = n & 0xff;
  } else {
    buf[start + 1] = 0x80 | 127;
    const hi = Math.floor(n / 0x100000000);
    buf[start + 2] = 0;
    buf[start + 3] = 0;
    buf[start + 4] = (hi >>> 8) & 0xff;
    buf[start + 5] = hi & 0xff;
    buf[start + 6] = (n >>> 24) & 0xff;
    buf[start + 7] = (n >>> 16) & 0xff;
    buf[start + 8] = (n >>> 8) & 0xff;
    buf[start + 9] = n & 0xff;
  }
  buf.set(mask, end - 4);
  return start;
}

/**
 * One masked text frame, header and payload in one buffer (one write).
 * The text is encoded straight into the frame buffer; only text that is not
 * all ASCII and too big for the 3-bytes-a-character bound is encoded first.
 */
export function encodeText(text: string): Uint8Array {
  let buf: Uint8Array;
  let n: number;
  if (text.length <= 64 * 1024) {
    buf = new Uint8Array(PAYLOAD_AT + text.length * 3);
    n = encoder.encodeInto(text, buf.subarray(PAYLOAD_AT)).written;
  } else {
    buf = new Uint8Array(PAYLOAD_AT + text.length);
    const r = encoder.encodeInto(text, buf.subarray(PAYLOAD_AT));
    n = r.written;
    if (r.read < text.length) {
      const bytes = encoder.encode(text);
      buf = new Uint8Array(PAYLOAD_AT + bytes.length);
      buf.set(bytes, PAYLOAD_AT);
      n = bytes.length;
    }
  }
  return frameAround(buf, OP_TEXT, n);
}

/** A masked control frame (ping, pong, close); payload at most 125 bytes. */
export function encodeControl(opcode: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const buf = new Uint8Array(PAYLOAD_AT + payload.length);
  buf.set(payload, PAYLOAD_AT);
  return frameAround(buf, opcode, payload.length);
}

/** A close frame's payload: the code, then the reason cut to fit 125 bytes. */
export function closePayload(code: number, reason: string): Uint8Array {
  const out = new Uint8Array(125);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  const { written } = encoder.encodeInto(reason, out.subarray(2));
  return out.subarray(0, 2 + written);
}

function frameAround(buf: Uint8Array, opcode: number, n: number): Uint8Array {
  const mask = newMask();
  const start = writeHeader(buf, PAYLOAD_AT, opcode, n, mask);
  applyMask(buf, PAYLOAD_AT, n, mask);
  return buf.subarray(start, PAYLOAD_AT + n);
}
