/**
 * Peak memory of one huge frame. By the time a frame reaches us the socket
 * layer has held it twice (the chunks it read, then the one buffer it joined
 * them into), and reading it takes two more copies (the text, then the
 * parsed field): four times its size if the garbage is not collected in
 * between. For a frame over LARGE_FRAME_BYTES, `InboundQueue` lets the
 * socket layer's stack unwind (dropping its buffer), collects garbage, and
 * only then hands the text on, so at most about two copies are alive at once
 * (bench/frame_memory_bench.ts). Frames keep their order: while one waits,
 * the ones after it wait behind it.
 */
import { collector } from "../sys/gc.ts";

/** Frames at least this big get the garbage collected around them. */
export const LARGE_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * Collects garbage before a large frame is turned into text: the socket
 * layer's read chunks are garbage by now, and freeing them first keeps
 * them from counting on top of the text.
 */
export function beforeLargeText(size: number): void {
  if (size >= LARGE_FRAME_BYTES) collector()?.();
}

/** Passes frames on in order; a large one after a macrotask and a collection. */
export class InboundQueue {
  private readonly waiting: string[] = [];
  private scheduled = false;

  constructor(private readonly deliver: (text: string) => void) {}

  /** `size` is the frame's byte length as it came off the socket. */
  push(text: string, size: number): void {
    if (size < LARGE_FRAME_BYTES && this.waiting.length === 0) {
      this.deliver(text);
      return;
    }
    this.waiting.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.drain(), 0);
    }
  }

  private drain(): void {
    this.scheduled = false;
    while (this.waiting.length > 0) {
      const text = this.waiting.shift()!;
      if (text.length >= LARGE_FRAME_BYTES) collector()?.();
      this.deliver(text);
    }
  }
}
