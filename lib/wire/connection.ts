import type { Logger } from "../deps.ts";
import { Backoff } from "./backoff.ts";
import { Outbox } from "./outbox.ts";
import {
  type Envelope,
  envelope,
  type HeartbeatPayload,
  type MessageType,
  parseFrame,
  type WelcomePayload,
} from "./protocol.ts";
import { type Dialer, DialError, type Socket } from "./transport.ts";

export interface ConnectionOptions {
  url: string;
  token: string;
  dial: Dialer;
  log: Logger;
  /** builds a heartbeat; `first` asks for the environment block */
  heartbeat(identity: WelcomePayload, first: boolean): Promise<HeartbeatPayload>;
  /** every parsed frame other than `welcome` */
  onMessage(env: Envelope<Record<string, unknown>>): void;
  welcomeTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  connectTimeoutMs?: number;
  maxFrameBytes?: number;
  backoff?: Backoff;
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

/** Unsent bytes on the socket above which live output waits (see outputRoom). */
export const OUTPUT_HIGH_WATER = 1024 * 1024;
const OUTPUT_MAX_WAIT_MS = 30_000;

/**
 * The one outbound WebSocket to the platform: dials, reads `welcome`, sends
 * heartbeats, reconnects forever with backoff, and delivers results through
 * an outbox so none is lost to a reconnect. It knows nothing about tasks.
 */
export class Connection {
  identity: WelcomePayload = { worknode_id: "", name: "", labels: [] };
  private socket?: Socket;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  private flushing = false;
  private closedByUs?: () => void;
  readonly outbox: Outbox;
  /** connections made so far (1 after the first connect) */
  connects = 0;

  constructor(private readonly opts: ConnectionOptions) {
    this.outbox = new Outbox(
      1000,
      64 * 1024 * 1024,
      (env) =>
        opts.log.error("outbox full: dropped the oldest undelivered {type}", {
          type: env.type,
          message_id: env.id,
        }),
    );
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reconnecting and closes the socket; undelivered results stay in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.socket?.close(1000, "runner shutting down");
    this.closedByUs?.();
    await this.loop;
  }

  /** Reliable delivery: results go out now, or after the next connect. */
  deliver(type: MessageType, payload: unknown): void {
    this.outbox.push(envelope(type, payload));
    void this.flush();
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
   * stuck socket is the heartbeat's to detect; a command is not held forever).
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

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.socket && this.outbox.size > 0) {
        const socket = this.socket;
        const batch = this.outbox.takeAll();
        for (let i = 0; i < batch.length; i++) {
          try {
            await socket.send(batch[i].text);
          } catch {
            this.outbox.unshift(batch.slice(i)); // kept for the next connection
            return;
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    const backoff = this.opts.backoff ?? new Backoff();
    const safeUrl = redactUrl(this.opts.url);
    while (!this.stopped) {
      try {
        await this.session(safeUrl, backoff);
      } catch (err) {
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
      const delay = backoff.next();
      log.info("reconnecting in {delay_ms} ms", { delay_ms: delay });
      await this.sleep(delay);
    }
  }

  /** One connection's life: resolves when it closes, throws if the dial fails. */
  private async session(safeUrl: string, backoff: Backoff): Promise<void> {
    const { log } = this.opts;
    const url = new URL(this.opts.url);
    url.searchParams.set("token", this.opts.token);
    let welcomed: (w: WelcomePayload | undefined) => void = () => {};
    const welcome = new Promise<WelcomePayload | undefined>((r) => welcomed = r);
    let closed: (info: { code: number; reason: string }) => void = () => {};
    const closedP = new Promise<{ code: number; reason: string }>((r) => closed = r);

    const socket = await this.opts.dial(url.toString(), {
      onMessage: (text) => {
        const frame = parseFrame(text);
        if (!frame.ok) {
          log.warn("dropped a malformed frame: {reason}", { reason: frame.reason });
          return;
        }
        if (frame.envelope.type === "welcome") {
          const w = readWelcome(frame.envelope.payload);
          this.identity = w; // a later welcome renames us; the next heartbeat says so
          welcomed(w);
          return;
        }
        this.opts.onMessage(frame.envelope);
      },
      onClose: (code, reason) => closed({ code, reason }),
    }, {
      headers: { Authorization: `Bearer ${this.opts.token}` },
      timeoutMs: this.opts.connectTimeoutMs ?? 30_000,
      maxPayload: this.opts.maxFrameBytes ?? 256 * 1024 * 1024,
    });
    if (this.stopped) {
      socket.close(1000, "runner shutting down");
      return;
    }
    this.connects++;
    log.info("connected to {url}", { url: safeUrl });

    const timeout = this.opts.welcomeTimeoutMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const identity = await Promise.race([
      welcome,
      closedP.then(() => undefined),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), timeout)),
    ]);
    clearTimeout(timer);
    if (identity) {
      this.identity = identity;
      log.info("welcomed as {worknode_id} ({name})", { ...identity });
    } else {
      log.warn("no welcome from the platform within {ms} ms; going on with an empty identity", {
        ms: timeout,
      });
      this.identity = { worknode_id: "", name: "", labels: [] };
    }

    this.socket = socket;
    backoff.reset();
    const beat = async (first: boolean) => {
      try {
        const payload = await this.opts.heartbeat(this.identity, first);
        if (this.socket === socket) {
          await socket.send(JSON.stringify(envelope("heartbeat", payload)));
        }
      } catch (err) {
        log.debug("heartbeat not sent: {reason}", { reason: (err as Error).message });
      }
    };
    await beat(true);
    void this.flush();
    const interval = setInterval(async () => {
      await beat(false);
      // A half-open TCP connection never reports a close: probe it.
      if (socket.ping && !(await socket.ping(20_000)) && this.socket === socket) {
        log.warn("no pong from the platform; dropping the connection");
        socket.close(4000, "ping timeout");
        closed({ code: 4000, reason: "ping timeout" });
      }
    }, this.opts.heartbeatIntervalMs ?? 30_000);

    const stopWait = new Promise<{ code: number; reason: string }>((r) =>
      this.closedByUs = () => r({ code: 1000, reason: "runner shutting down" })
    );
    const { code, reason } = await Promise.race([closedP, stopWait]);
    clearInterval(interval);
    this.socket = undefined;
    if (!this.stopped) {
      log.warn("connection lost ({code}{reason})", { code, reason: reason ? `: ${reason}` : "" });
    }
  }
}

function readWelcome(payload: Record<string, unknown>): WelcomePayload {
  const labels = Array.isArray(payload.labels)
    ? payload.labels.filter((l) => typeof l === "string")
    : [];
  return {
    worknode_id: typeof payload.worknode_id === "string" ? payload.worknode_id : "",
    name: typeof payload.name === "string" ? payload.name : "",
    labels,
  };
}
