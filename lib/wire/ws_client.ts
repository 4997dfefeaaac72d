/**
 * The runner's own WebSocket client (`--transport tcp`, the default): RFC
 * 6455 text frames over Deno.connect / Deno.connectTls with TCP_NODELAY.
 *
 * Why not a library: npm:ws needs Node's net/tls/http compat layers, which
 * cost the child ~9-17 MB of RSS and most of its transport start-up
 * (docs/benchmarks.md); Deno's native WebSocket stalls ~40 ms on Nagle for
 * 1.4-64 KB messages (bench:transport). The protocol needs little of
 * WebSocket: text frames, ping/pong, close; this is that little.
 *
 * Each frame is one buffer, handed to the OS in one write; frames sent
 * while a write is in flight (or inside `corked`) go out together in the
 * next one. The parser (ws_client_frames.ts) checks a frame's size from its
 * header before keeping a byte of it.
 */
import { beforeLargeText, InboundQueue } from "./large_frames.ts";
import { type Dialer, DialError, type Socket, type SocketHandlers } from "./transport.ts";
import {
  CLOSE_ABNORMAL,
  CLOSE_NO_STATUS,
  CLOSE_NORMAL,
  closePayload,
  encodeControl,
  encodeText,
  FrameError,
  FrameParser,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
} from "./ws_client_frames.ts";
import { abandonedTlsHandshake, openStream, upgrade } from "./ws_client_handshake.ts";

/** how long a closing handshake may take before the connection is dropped */
export const CLOSE_WAIT_MS = 2000;
/** frames queued behind a write go out together, up to this many bytes a write */
const BATCH_BYTES = 256 * 1024;
const READ_CHUNK = 64 * 1024;

interface Pending {
  bytes: Uint8Array;
  done?: () => void;
  fail?: (err: Error) => void;
}

type State = "open" | "closing" | "closed";

class ClientSocket implements Socket {
  private state: State = "open";
  private readonly queue: Pending[] = [];
  private queued = 0;
  private writing = false;
  private corks = 0;
  private onPong?: () => void;
  /**
   * The pong still waiting in the queue, if any. A ping that comes before it
   * is written replaces its payload instead of queueing another (RFC 6455
   * §5.5.3 allows answering only the latest ping): a ping flood from a peer
   * that does not read costs one pong, not one per ping.
   */
  private waitingPong?: Pending;
  private closeTimer?: ReturnType<typeof setTimeout>;
  private peerClose?: { code: number; reason: string };
  private readonly inbound: InboundQueue;
  private readonly parser: FrameParser;

  constructor(
    private readonly conn: Deno.Conn,
    private readonly handlers: SocketHandlers,
    maxPayload: number,
  ) {
    this.inbound = new InboundQueue((text) => handlers.onMessage(text));
    this.parser = new FrameParser(maxPayload, {
      // A large message's fragments are garbage by now: collected before its text exists.
      beforeText: (bytes) => beforeLargeText(bytes),
      text: (text, bytes) => {
        if (this.state !== "closed") this.inbound.push(text, bytes);
      },
      binary: () => {}, // the protocol is JSON text frames only
      ping: (payload) => this.pong(payload),
      pong: () => this.onPong?.(),
      close: (code, reason) => this.peerClosed(code, reason),
    });
  }

  /** Reads until the connection ends; `first` is what the upgrade read past its head. */
  async run(first: Uint8Array): Promise<void> {
    // Frames that came with the upgrade answer wait until the dialer's caller has the socket.
    await new Promise((r) => setTimeout(r, 0));
    const buf = new Uint8Array(READ_CHUNK);
    try {
      if (first.length > 0) this.parser.push(first);
      while (this.state !== "closed") {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.parser.push(buf.subarray(0, n));
      }
      this.finish(CLOSE_ABNORMAL, "");
    } catch (err) {
      if (this.state === "closed") return;
      if (err instanceof FrameError) return this.fail(err.code, err.message);
      this.finish(CLOSE_ABNORMAL, (err as Error).message);
    }
  }

  send(text: string): Promise<void> {
    if (this.state !== "open") return Promise.reject(new Error("socket is not open"));
    return this.enqueue(encodeText(text));
  }

  close(code = CLOSE_NORMAL, reason = ""): void {
    if (this.state !== "open") return;
    this.state = "closing";
    this.enqueue(encodeControl(OP_CLOSE, closePayload(code, reason))).catch(() => {});
    this.closeTimer = setTimeout(() => this.finish(code, reason), CLOSE_WAIT_MS);
  }

  terminate(): void {
    this.finish(CLOSE_ABNORMAL, "");
  }

  ping(onPong: () => void): void {
    this.onPong = onPong;
    // not open: no pong will come, and the caller's timer says so
    if (this.state === "open") this.enqueue(encodeControl(OP_PING)).catch(() => {});
  }

  bufferedAmount(): number {
    return this.queued;
  }

  corked(write: () => void): void {
    this.corks++;
    try {
      write();
    } finally {
      if (--this.corks === 0) void this.pump();
    }
  }

  private pong(payload: Uint8Array): void {
    if (this.state !== "open") return;
    const bytes = encodeControl(OP_PONG, payload);
    if (this.waitingPong) {
      this.queued += bytes.length - this.waitingPong.bytes.length;
      this.waitingPong.bytes = bytes;
      return;
    }
    this.waitingPong = { bytes };
    this.queue.push(this.waitingPong);
    this.queued += bytes.length;
    if (this.corks === 0) void this.pump();
  }

  private enqueue(bytes: Uint8Array): Promise<void> {
    return new Promise((done, fail) => {
      this.queue.push({ bytes, done, fail });
      this.queued += bytes.length;
      if (this.corks === 0) void this.pump();
    });
  }

  /** One write at a time, in order; what queued meanwhile goes out together next. */
  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && this.corks === 0) {
        let take = 1;
        let size = this.queue[0].bytes.length;
        while (
          take < this.queue.length && size + this.queue[take].bytes.length <= BATCH_BYTES
        ) size += this.queue[take++].bytes.length;
        const batch = this.queue.splice(0, take);
        if (this.waitingPong && batch.includes(this.waitingPong)) this.waitingPong = undefined;
        let out = batch[0].bytes;
        if (take > 1) {
          out = new Uint8Array(size);
          let off = 0;
          for (const p of batch) {
            out.set(p.bytes, off);
            off += p.bytes.length;
          }
        }
        try {
          let off = 0;
          while (off < out.length) off += await this.conn.write(out.subarray(off));
        } catch (err) {
          for (const p of batch) p.fail?.(err as Error);
          this.finish(CLOSE_ABNORMAL, (err as Error).message);
          return;
        } finally {
          // finish() (a terminate or a read error while this write was out) has zeroed the count
          if (this.state !== "closed") this.queued -= size;
        }
        for (const p of batch) p.done?.();
      }
    } finally {
      this.writing = false;
    }
  }

  private async peerClosed(code: number, reason: string): Promise<void> {
    // What the peer said is what the end reports, even if TCP ends before our answer is out.
    this.peerClose ??= { code, reason };
    if (this.state === "closing") return this.finish(code, reason);
    if (this.state !== "open") return;
    // Answer with a close (the same code), then end; the server closes TCP first.
    this.state = "closing";
    const payload = code === CLOSE_NO_STATUS ? undefined : closePayload(code, "");
    await this.flushThen(encodeControl(OP_CLOSE, payload));
    this.finish(code, reason);
  }

  /** Fails the connection: a close with `code` (1002/1007/1009), then the end. */
  private async fail(code: number, reason: string): Promise<void> {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closing";
    if (wasOpen) await this.flushThen(encodeControl(OP_CLOSE, closePayload(code, reason)));
    this.finish(code, reason);
  }

  /** Queues `frame` and waits for it to be written, at most CLOSE_WAIT_MS. */
  private async flushThen(frame: Uint8Array): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.enqueue(frame).catch(() => {}),
      new Promise((r) => timer = setTimeout(r, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
  }

  /** The end, whatever the cause: onClose is called exactly once. */
  private finish(code: number, reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.peerClose) ({ code, reason } = this.peerClose);
    clearTimeout(this.closeTimer);
    try {
      this.conn.close();
    } catch { /* already closed */ }
    const pending = this.queue.splice(0);
    this.queued = 0;
    this.waitingPong = undefined;
    for (const p of pending) p.fail?.(new Error("socket is not open"));
    this.handlers.onClose(code, reason);
  }
}

/**
 * Opens a connection: TCP (or TLS, through a proxy when given), the upgrade,
 * all within `opts.timeoutMs`.
 */
export const dialTcp: Dialer = async (url, handlers, opts) => {
  const target = new URL(url);
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    throw new DialError("network", `not a ws:// or wss:// URL: ${target.protocol}`);
  }
  const conns: Deno.Conn[] = [];
  let timedOut = false;
  /** between the TLS connection's start and its handshake's end */
  let inTls = false;
  const dropAll = () => {
    for (const c of conns.splice(0)) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      if (inTls) abandonedTlsHandshake(); // its socket stays held (ws_client_handshake.ts)
      dropAll();
      reject(new DialError("network", `handshake timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
  });
  const opening = (async () => {
    const conn = await openStream(target, opts.proxy, (c) => {
      conns.push(c);
      if ("handshake" in c) inTls = true; // the TLS connection: its handshake runs next
      if (timedOut) dropAll(); // a connect that completes after the timeout
    });
    inTls = false;
    const first = await upgrade(conn, target, opts.headers);
    if (timedOut) throw new Error("timed out");
    return { conn, first };
  })();
  try {
    const { conn, first } = await Promise.race([opening, timeout]);
    const socket = new ClientSocket(conn, handlers, opts.maxPayload);
    void socket.run(first);
    return socket;
  } catch (err) {
    dropAll();
    opening.catch(() => {}); // its failure after the timeout is the timeout's
    if (err instanceof DialError) throw err;
    throw new DialError("network", (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
};
