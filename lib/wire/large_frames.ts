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
import process from "node:process";

/** Frames at least this big get the garbage collected around them. */
export const LARGE_FRAME_BYTES = 8 * 1024 * 1024;

let gc: (() => void) | undefined | null = null;

/**
 * V8's collector, exposed the way Node programs do it (no permission is
 * involved); undefined when the engine refuses, and then a large frame
 * costs more memory but is read the same.
 */
function collector(): (() => void) | undefined {
  if (gc === null) {
    try {
      // node:v8 and node:vm load here, on the first large frame, not at start
      // (~25 ms of the runner's start-up, docs/benchmarks.md).
      const v8 = process.getBuiltinModule("node:v8") as typeof import("node:v8");
      const vm = process.getBuiltinModule("node:vm") as typeof import("node:vm");
      v8.setFlagsFromString("--expose-gc");
      const fn = vm.runInNewContext("gc");
      gc = typeof fn === "function" ? fn as () => void : undefined;
    } catch {
      gc = undefined;
    }
  }
  return gc;
}

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
