import { withDeadline } from "../async/deadline.ts";
import { delay } from "../async/delay.ts";
import type { Logger } from "../deps.ts";
import { Backoff } from "./backoff.ts";
import { Outbox, type Settled } from "./outbox.ts";
import {
  decodeInbound,
  envelope,
  type HeartbeatPayload,
  type Inbound,
  type MessageType,
  type WelcomePayload,
} from "./protocol.ts";
import { SessionLink } from "./session_link.ts";
import { type Dialer, DialError } from "./transport.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.ts";

export interface ConnectionOptions {
  url: string;
  token: string;
  dial: Dialer;
  log: Logger;
  /** builds a heartbeat; `first` asks for the environment block */
  heartbeat(identity: WelcomePayload, first: boolean): Promise<HeartbeatPayload>;
  /** every decoded frame other than `welcome` (invalid and unknown ones too: the dispatcher answers or logs them) */
  onMessage(msg: Inbound): void;
  welcomeTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * Liveness: a transport ping this often; one still unanswered when the next
   * is due ends the connection. Independent of sends, so a peer that went
   * silent while output was streaming is noticed within two intervals.
   */
  pingIntervalMs?: number;
  connectTimeoutMs?: number;
  maxFrameBytes?: number;
  backoff?: Backoff;
  /** told each time a connection is up and the platform has welcomed the runner */
  onWelcomed?: () => void;
  /**
   * told once when a dial fails with `exhausted` (this process cannot dial
   * again without leaking); the connection stops trying
   */
  onExhausted?: () => void;
}

/** The URL with its query (and so the token) removed: the only form that is ever logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.search = "";
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

/**
 * The upgrade request that presents the token: in the query (as the Go
 * runner does) and as a bearer header. One definition for the runner's
 * connection and `doctor`'s probe.
 */
export function upgradeRequest(
  platformUrl: string,
  token: string,
): { url: string; headers: Record<string, string> } {
  const url = new URL(platformUrl);
  url.searchParams.set("token", token);
  return { url: url.toString(), headers: { Authorization: `Bearer ${token}` } };
}

/** Unsent bytes on the socket above which live output waits (see outputRoom). */
export const OUTPUT_HIGH_WATER = 1024 * 1024;
const OUTPUT_MAX_WAIT_MS = 30_000;
/** Results sent in one socket write at most (all ready ones, usually far fewer). */
const MAX_BATCH = 256;

/**
 * The one outbound WebSocket to the platform: dials, reads `welcome`, sends
 * heartbeats, reconnects forever with backoff, and delivers results through
 * an outbox so none is lost to a reconnect. It knows nothing about tasks.
 */
export class Connection {
  private _identity: WelcomePayload = { worknode_id: "", name: "", labels: [] };
  /** the current session's socket and end; undefined between sessions */
  private link?: SessionLink;
  private stopped = false;
  /** aborted by stop(): ends a reconnect wait at once */
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private flushing = false;
  private closedByUs?: () => void;
  readonly outbox: Outbox;
  /** connections made so far (1 after the first connect) */
  connects = 0;
  /** connected and welcomed by the platform (what /readyz reports) */
  welcomed = false;

  constructor(private readonly opts: ConnectionOptions) {
    this.outbox = new Outbox(
      10_000,
      64 * 1024 * 1024,
      (env) =>
        opts.log.error(
          "outbox full while disconnected: dropped the oldest undelivered {type} ({dropped} so far)",
          { type: env.type, message_id: env.id, dropped: this.outbox.dropped },
        ),
    );
  }

  /** who the platform says we are (the last `welcome`) */
  get identity(): Readonly<WelcomePayload> {
    return this._identity;
  }

  get connected(): boolean {
    return this.link !== undefined;
  }

  private get socket() {
    return this.link?.socket;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reconnecting and closes the socket; undelivered results stay in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.socket?.close(1000, "runner shutting down");
    this.closedByUs?.();
    await this.loop;
  }

  /**
   * Reliable delivery: results go out now, or after the next connect. Never
   * dropped while connected; `settled` says when it left the queue.
   */
  deliver(type: MessageType, payload: unknown): { bytes: number; settled: Promise<Settled> } {
    const queued = this.outbox.push(envelope(type, payload));
    if (this.socket) void this.flush();
    else this.outbox.trim();
    return queued;
  }

  /** Best-effort: dropped while disconnected (live output, heartbeats). */
  sendNow(type: MessageType, payload: unknown): void {
    const socket = this.socket;
    if (!socket) return;
    socket.send(JSON.stringify(envelope(type, payload))).catch(() => {});
  }

  /**
   * Backpressure for live output: resolves once the socket holds less than
   * OUTPUT_HIGH_WATER unsent bytes, or there is no socket (output is then
   * dropped anyway), or `signal` aborts, or OUTPUT_MAX_WAIT_MS passed (a
   * stuck socket is the liveness ping's to detect; a command is not held forever).
   * A command's output is read no faster than the platform takes it, instead
   * of queueing in this process.
   */
  async outputRoom(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + OUTPUT_MAX_WAIT_MS;
    for (;;) {
      const socket = this.socket;
      if (!socket?.bufferedAmount || socket.bufferedAmount() < OUTPUT_HIGH_WATER) return;
      if (signal?.aborted || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves once every queued result has been handed to the socket (or `ms` passed). */
  async drained(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while ((this.outbox.size > 0 || this.flushing) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.outbox.size === 0 && !this.flushing;
  }

  /**
   * Sends the outbox oldest first; a message leaves it only once the socket
   * took it. One write at a time: whatever became ready while it was in
   * flight goes out together in the next (under load, many results a write;
   * alone, a result goes at once).
   */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let link = this.link; link && this.outbox.size > 0; link = this.link) {
        const batch = this.outbox.head(MAX_BATCH);
        // A send to a silent peer may never complete: the session's end frees the loop (SessionLink).
        const took = await link.sendAll(batch.map((item) => item.text));
        // handed to the OS: if the connection dies now, a re-send is answered
        for (let i = 0; i < took; i++) this.outbox.sent(batch[i]);
        // the rest is kept: a session that replaced this one meanwhile takes it now, else the next
        if (took < batch.length && (this.link === undefined || this.link === link)) return;
      }
    } finally {
      this.flushing = false;
      if (!this.socket) this.outbox.trim();
    }
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    const backoff = this.opts.backoff ?? new Backoff();
    const safeUrl = redactUrl(this.opts.url);
    while (!this.stopped) {
      try {
        await this.session(safeUrl, backoff);
      } catch (err) {
        if (err instanceof DialError && err.kind === "exhausted") {
          log.error("failed to connect to {url}: {reason}; stopping", {
            url: safeUrl,
            reason: err.message,
          });
          this.opts.onExhausted?.();
          return;
        }
        if (err instanceof DialError && err.kind === "auth") {
          log.error("authentication failed: the platform rejected the token ({status}) at {url}", {
            status: `HTTP ${err.status}`,
            url: safeUrl,
          });
        } else {
          log.error("failed to connect to {url}: {reason}", {
            url: safeUrl,
            reason: (err as Error).message,
          });
        }
      }
      if (this.stopped) break;
      const delayMs = backoff.next();
      log.info("reconnecting in {delay_ms} ms", { delay_ms: delayMs });
      await delay(delayMs, this.stopping.signal);
    }
  }

  /** One connection's life: resolves when it closes, throws if the dial fails. */
  private async session(safeUrl: string, backoff: Backoff): Promise<void> {
    const { log } = this.opts;
    const upgrade = upgradeRequest(this.opts.url, this.opts.token);
    let welcomed: (w: WelcomePayload | undefined) => void = () => {};
    const welcome = new Promise<WelcomePayload | undefined>((r) => welcomed = r);
    let closed: (info: { code: number; reason: string }) => void = () => {};
    const closedP = new Promise<{ code: number; reason: string }>((r) => closed = r);

    const socket = await this.opts.dial(upgrade.url, {
      onMessage: (text) => {
        const msg = decodeInbound(text);
        if (msg.kind === "welcome") {
          this._identity = msg.welcome; // a later welcome renames us; the next heartbeat says so
          welcomed(msg.welcome);
          return;
        }
        this.opts.onMessage(msg);
      },
      onClose: (code, reason) => closed({ code, reason }),
    }, {
      headers: upgrade.headers,
      timeoutMs: this.opts.connectTimeoutMs ?? 30_000,
      maxPayload: this.opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    });
    if (this.stopped) {
      socket.close(1000, "runner shutting down");
      return;
    }
    this.connects++;
    log.info("connected to {url}", { url: safeUrl });

    const timeout = this.opts.welcomeTimeoutMs ?? 5000;
    const identity = await withDeadline(
      Promise.race([welcome, closedP.then(() => undefined)]),
      timeout,
      () => undefined,
    );
    if (identity) {
      this._identity = identity;
      log.info("welcomed as {worknode_id} ({name})", { ...identity });
    } else {
      log.warn("no welcome from the platform within {ms} ms; going on with an empty identity", {
        ms: timeout,
      });
      this._identity = { worknode_id: "", name: "", labels: [] };
    }

    const link = new SessionLink(socket);
    this.link = link;
    this.welcomed = identity !== undefined;
    if (this.welcomed) this.opts.onWelcomed?.();
    backoff.reset();
    let beating = false;
    const beat = async (first: boolean) => {
      // A heartbeat still being written (a stalled socket) is not piled on.
      if (beating) return;
      beating = true;
      try {
        const payload = await this.opts.heartbeat(this._identity, first);
        if (this.socket === socket) {
          await socket.send(JSON.stringify(envelope("heartbeat", payload)));
        }
      } catch (err) {
        log.debug("heartbeat not sent: {reason}", { reason: (err as Error).message });
      } finally {
        beating = false;
      }
    };
    void beat(true).then(() => this.flush());
    const heartbeats = setInterval(() => void beat(false), this.opts.heartbeatIntervalMs ?? 30_000);
    // Liveness never waits on a send: its own timer, the transport's ping.
    const pingMs = this.opts.pingIntervalMs ?? 30_000;
    let unanswered = false;
    const pings = socket.ping
      ? setInterval(() => {
        if (unanswered) {
          log.warn("no pong from the platform within {ms} ms; dropping the connection", {
            ms: pingMs,
          });
          if (socket.terminate) socket.terminate();
          else socket.close(4000, "ping timeout");
          closed({ code: 4000, reason: "ping timeout" });
          return;
        }
        unanswered = true;
        socket.ping!(() => unanswered = false);
      }, pingMs)
      : undefined;

    const stopWait = new Promise<{ code: number; reason: string }>((r) =>
      this.closedByUs = () => r({ code: 1000, reason: "runner shutting down" })
    );
    const { code, reason } = await Promise.race([closedP, stopWait]);
    clearInterval(heartbeats);
    clearInterval(pings);
    this.link = undefined;
    this.welcomed = false;
    link.end();
    this.outbox.trim();
    if (!this.stopped) {
      log.warn("connection lost ({code}{reason})", { code, reason: reason ? `: ${reason}` : "" });
    }
  }
}
