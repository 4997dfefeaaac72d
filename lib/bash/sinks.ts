/**
 * Where a program's output goes: the task's captured (and streamed) stdout
 * or stderr, a workspace file, the next program's stdin, or nowhere. Several
 * writers may share one destination (`2>&1`, `&>`, `|&`); it closes when
 * the last of them is done.
 */

import type { FileHandle } from "../fs/workspace_fs.ts";

export const MAX_STREAM_BYTES = 10 * 1024 * 1024;

/** One writer's handle on a destination; `write` resolves false once nobody reads any more. */
export interface SinkWriter {
  write(chunk: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

export interface Sink {
  writer(): SinkWriter;
  /** closes the destination if no writer ever came (a pipe nobody feeds still ends) */
  settle(): Promise<void>;
}

/** Where a capture's text goes instead of memory (lib/tasks/output.ts OutputSpool). */
export interface TextSpool {
  /** resolves when the text is stored: the capture reads on no faster */
  write(text: string): Promise<void>;
}

/**
 * A captured stream, up to 10 MB, streamed as it arrives and either kept in
 * memory (`text`) or handed to a spool that keeps only a bounded part of it.
 * Each writer decodes on its own, so two programs' bytes never split one
 * UTF-8 character between them.
 */
export class Capture implements Sink {
  /** written only here: what the runner reports is computed from it, never written back */
  #text = "";
  bytes = 0;
  capped = false;

  /** the whole text; empty when a spool took it */
  get text(): string {
    return this.#text;
  }

  constructor(
    readonly stream: "stdout" | "stderr",
    private readonly emit: (stream: "stdout" | "stderr", data: string) => void,
    private readonly max = MAX_STREAM_BYTES,
    /** backpressure: resolves when more may be streamed (ctx.outputRoom) */
    private readonly room?: () => Promise<void>,
    private readonly spool?: TextSpool,
  ) {}

  writer(): SinkWriter {
    const decoder = new TextDecoder();
    return {
      write: async (chunk) => {
        await this.add(chunk, decoder, false);
        // A capture never stops reading for good (the program must not block
        // forever), but it reads no faster than the platform takes the output.
        if (this.room && !this.capped) await this.room().catch(() => {});
        return true;
      },
      close: () => this.add(new Uint8Array(), decoder, true),
    };
  }

  settle(): Promise<void> {
    return Promise.resolve();
  }

  /** Text the runner itself adds (`command not found`, `command timed out`). */
  note(text: string): void {
    void this.add(new TextEncoder().encode(text), new TextDecoder(), true);
  }

  private add(chunk: Uint8Array, decoder: TextDecoder, flush: boolean): Promise<void> {
    if (this.capped) return Promise.resolve();
    let part = chunk;
    if (this.bytes + chunk.length > this.max) {
      part = chunk.subarray(0, this.max - this.bytes);
      this.capped = true;
    }
    this.bytes += part.length;
    const text = decoder.decode(part, { stream: !flush && !this.capped });
    let stored = text ? this.keep(text) : undefined;
    if (this.capped) {
      stored = this.keep(
        `\n[runner: ${this.stream} capped at ${this.max} bytes; the rest was discarded]\n`,
      );
    }
    return stored ?? Promise.resolve();
  }

  /** Streams `text` and stores it (in the spool, whose writes resolve in order, or here). */
  private keep(text: string): Promise<void> {
    this.send(text);
    if (this.spool) return this.spool.write(text);
    this.#text += text;
    return Promise.resolve();
  }

  // Streaming is best effort: a failing listener must not stop the program's output being read.
  private send(text: string): void {
    try {
      this.emit(this.stream, text);
    } catch {
      // the result still carries the text
    }
  }
}

/** Bytes go nowhere (`>/dev/null` shared with another fd, or a program's fd nobody wants). */
export class Discard implements Sink {
  writer(): SinkWriter {
    return { write: () => Promise.resolve(true), close: () => Promise.resolve() };
  }
  settle(): Promise<void> {
    return Promise.resolve();
  }
}

/** Shared-ownership close: the resource closes when its last writer (or settle, if none) is done. */
abstract class Shared implements Sink {
  private writers = 0;
  private opened = false;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  protected abstract put(chunk: Uint8Array): Promise<boolean>;
  protected abstract end(): Promise<void>;

  writer(): SinkWriter {
    this.writers++;
    this.opened = true;
    let done = false;
    return {
      // Writes from several writers are serialized, so chunks never interleave mid-write.
      write: (chunk) => {
        const p = this.queue.then(() => this.closed ? false : this.put(chunk));
        this.queue = p.catch(() => false);
        return p.catch(() => false);
      },
      close: async () => {
        if (done) return;
        done = true;
        if (--this.writers === 0) await this.finish();
      },
    };
  }

  async settle(): Promise<void> {
    if (!this.opened) await this.finish();
  }

  private async finish(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    try {
      await this.end();
    } catch {
      // already closed by the other side
    }
  }
}

/** A workspace file opened by a redirect. */
export class FileSink extends Shared {
  constructor(private readonly file: FileHandle) {
    super();
  }
  protected async put(chunk: Uint8Array): Promise<boolean> {
    await this.file.write(chunk);
    return true;
  }
  protected end(): Promise<void> {
    this.file.close();
    return Promise.resolve();
  }
}

const PUMP_BUFFER_BYTES = 64 * 1024;

function byobReader(source: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return source.getReader({ mode: "byob" });
  } catch {
    return undefined; // not a byte stream
  }
}

/**
 * Copies a program's output into a destination; stops reading when nobody
 * reads on, or when `abandon` fires (after a kill: a process that escaped the
 * kill may still hold the pipe open, and must not hold the task too).
 */
export async function pump(
  source: ReadableStream<Uint8Array>,
  dest: SinkWriter,
  abandon?: AbortSignal,
): Promise<void> {
  // A byte stream (a child's pipe) is read into one reused buffer: a fresh
  // 64 KiB chunk a read is garbage by the next one, and a flood of output
  // outruns the collector. Every sink is done with a chunk once write resolves.
  const byob = byobReader(source);
  const reader = byob ?? source.getReader();
  let buffer = new Uint8Array(PUMP_BUFFER_BYTES);
  const stop = () => void reader.cancel().catch(() => {});
  abandon?.addEventListener("abort", stop);
  if (abandon?.aborted) stop();
  try {
    for (;;) {
      const { value, done } = byob
        ? await byob.read(buffer)
        : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      if (done || !value) break;
      // the read transferred the buffer into `value`: take it back for the next read
      if (byob) buffer = new Uint8Array(value.buffer as ArrayBuffer);
      if (!(await dest.write(value))) {
        await reader.cancel(); // closes our end: the writer gets SIGPIPE
        break;
      }
    }
  } catch {
    // the program was killed mid-read
  } finally {
    abandon?.removeEventListener("abort", stop);
    reader.releaseLock();
    await dest.close();
  }
}

/**
 * A pipe between two stages that the interpreter may read itself (a builtin
 * like `read`, a loop fed by `|`) or hand to a program's stdin. Writes wait
 * until the reader took the previous chunk; once the reader cancels (the
 * stage ended), writes fail, so the producer gets SIGPIPE as under bash.
 */
export class Pipe extends Shared {
  readonly readable: ReadableStream<Uint8Array>;
  private ctrl!: ReadableStreamDefaultController<Uint8Array>;
  private cancelled = false;
  private wake: (() => void) | undefined;

  constructor() {
    super();
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.ctrl = c;
      },
      pull: () => this.wakeUp(),
      cancel: () => {
        this.cancelled = true;
        this.wakeUp();
      },
    }, { highWaterMark: 1 });
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  protected async put(chunk: Uint8Array): Promise<boolean> {
    if (this.cancelled) return false;
    // A copy: the writer (pump) reuses its buffer once this resolves, and the
    // reader may still hold the chunk then (a program's stdin write in flight).
    this.ctrl.enqueue(chunk.slice());
    while (!this.cancelled && (this.ctrl.desiredSize ?? 0) <= 0) {
      await new Promise<void>((r) => this.wake = r);
    }
    return !this.cancelled;
  }

  protected end(): Promise<void> {
    if (!this.cancelled) {
      try {
        this.ctrl.close();
      } catch {
        // the reader cancelled meanwhile
      }
    }
    return Promise.resolve();
  }
}

/** The output of a command substitution, kept in memory up to `max` bytes. */
export class Collect implements Sink {
  private readonly chunks: Uint8Array[] = [];
  bytes = 0;
  overflow = false;

  constructor(private readonly max: number) {}

  writer(): SinkWriter {
    return {
      write: (chunk) => {
        if (this.bytes + chunk.length > this.max) {
          this.overflow = true;
          return Promise.resolve(false);
        }
        this.chunks.push(chunk.slice());
        this.bytes += chunk.length;
        return Promise.resolve(true);
      },
      close: () => Promise.resolve(),
    };
  }

  settle(): Promise<void> {
    return Promise.resolve();
  }

  text(): string {
    const all = new Uint8Array(this.bytes);
    let off = 0;
    for (const c of this.chunks) {
      all.set(c, off);
      off += c.length;
    }
    return new TextDecoder().decode(all);
  }
}
