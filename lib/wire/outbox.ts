import type { Envelope } from "./protocol.ts";

/**
 * Results that must not be lost: `task.result` and `mcp.result` produced
 * while the connection is down wait here and go out after the next connect,
 * oldest first. Bounded by count and by bytes so a long outage cannot eat
 * the host's memory; past the bound the oldest is dropped (and reported).
 */
export class Outbox {
  private queue: { env: Envelope; text: string }[] = [];
  private bytes = 0;

  constructor(
    readonly maxMessages = 1000,
    readonly maxBytes = 64 * 1024 * 1024,
    private readonly onDrop: (env: Envelope) => void = () => {},
  ) {}

  get size(): number {
    return this.queue.length;
  }

  push(env: Envelope, text = JSON.stringify(env)): void {
    this.queue.push({ env, text });
    this.bytes += text.length;
    while (
      this.queue.length > this.maxMessages || (this.bytes > this.maxBytes && this.queue.length > 1)
    ) {
      const dropped = this.queue.shift()!;
      this.bytes -= dropped.text.length;
      this.onDrop(dropped.env);
    }
  }

  /** Puts back messages that failed to send, ahead of newer ones. */
  unshift(items: { env: Envelope; text: string }[]): void {
    this.queue.unshift(...items);
    this.bytes += items.reduce((n, i) => n + i.text.length, 0);
  }

  takeAll(): { env: Envelope; text: string }[] {
    const all = this.queue;
    this.queue = [];
    this.bytes = 0;
    return all;
  }
}
