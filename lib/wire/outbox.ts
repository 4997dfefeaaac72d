import type { Envelope } from "./protocol.ts";

/** What became of one queued message: handed to the socket, or dropped while disconnected. */
export type Settled = "sent" | "dropped";

export interface OutboxItem {
  env: Envelope;
  text: string;
  settle(how: Settled): void;
}

/**
 * Results that must not be lost: `task.result` and `mcp.result` wait here
 * until the socket takes them, oldest first, across reconnects. While
 * connected nothing is ever dropped (the send loop drains the queue). Only
 * while disconnected is the queue bounded, by count and by bytes, so a long
 * outage cannot eat the host's memory: past the bound the oldest is dropped,
 * counted and reported.
 */
export class Outbox {
  private queue: OutboxItem[] = [];
  private bytes = 0;
  /** messages dropped so far (only ever while disconnected) */
  dropped = 0;

  constructor(
    readonly maxMessages = 10_000,
    readonly maxBytes = 64 * 1024 * 1024,
    private readonly onDrop: (env: Envelope) => void = () => {},
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Queues one message; `settled` resolves once it is sent or dropped. */
  push(env: Envelope, text = JSON.stringify(env)): { bytes: number; settled: Promise<Settled> } {
    const { promise, resolve } = Promise.withResolvers<Settled>();
    this.queue.push({ env, text, settle: resolve });
    this.bytes += text.length;
    return { bytes: text.length, settled: promise };
  }

  /** Applies the bound: called while disconnected, never while a socket drains the queue. */
  trim(): void {
    while (
      this.queue.length > this.maxMessages || (this.bytes > this.maxBytes && this.queue.length > 1)
    ) {
      const item = this.queue.shift()!;
      this.bytes -= item.text.length;
      this.dropped++;
      this.onDrop(item.env);
      item.settle("dropped");
    }
  }

  /** The oldest message, left in the queue until `shift` (a failed send keeps it first). */
  peek(): OutboxItem | undefined {
    return this.queue[0];
  }

  /** The oldest `max` messages, left in the queue until `sent` (a failed send keeps them first). */
  head(max: number): OutboxItem[] {
    return this.queue.slice(0, max);
  }

  /** Removes the oldest message once the socket took it. */
  shift(): void {
    const item = this.queue.shift();
    if (!item) return;
    this.bytes -= item.text.length;
    item.settle("sent");
  }

  /**
   * `item` was taken by the socket: removed if it is still the oldest (a
   * trim while it was in flight may have dropped it already; then nothing else is removed).
   */
  sent(item: OutboxItem): void {
    if (this.queue[0] === item) this.shift();
  }
}
