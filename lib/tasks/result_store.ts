/**
 * Where finished tasks' results are kept to answer a re-sent request
 * (lib/tasks/dispatcher.ts): as the UTF-8 of their JSON, packed one after
 * another into large buffers outside the V8 heap.
 *
 * Why not keep the result objects: up to 64 MiB of them stay for ten
 * minutes, so under load every result (a read's base64 content, mostly)
 * survived the young generation, was copied twice and then grew the old
 * one, and the collector paid for all of it (about a third of the runner's
 * time a read task, docs/benchmarks.md). Packed here, a result is one JSON
 * and one copy into a buffer the collector never scans; a buffer is freed
 * when the last result in it is forgotten, and results are forgotten oldest
 * first, as they were packed. A re-send (rare) decodes its result again.
 *
 * @module
 */

/** Bytes of one shared buffer; a result larger than a quarter of it gets its own. */
const CHUNK_BYTES = 1024 * 1024;

/** One kept result: where its JSON lies. */
export interface StoredResult {
  readonly buf: Uint8Array;
  readonly start: number;
  readonly end: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ResultStore {
  #chunk = new Uint8Array(0);
  #used = 0;

  /** `value` kept as its JSON; `undefined` for what JSON cannot hold (it is then not kept). */
  put(value: unknown): StoredResult | undefined {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      return undefined; // a cycle or a BigInt: it could not have been sent either
    }
    if (json === undefined) return undefined;
    // UTF-8 takes at most 3 bytes a UTF-16 unit: room for the worst case is made first
    const most = json.length * 3;
    if (most > CHUNK_BYTES / 4) {
      const buf = encoder.encode(json);
      return { buf, start: 0, end: buf.length };
    }
    if (this.#used + most > this.#chunk.length) {
      this.#chunk = new Uint8Array(CHUNK_BYTES);
      this.#used = 0;
    }
    const start = this.#used;
    const { written } = encoder.encodeInto(json, this.#chunk.subarray(start));
    this.#used += written;
    return { buf: this.#chunk, start, end: start + written };
  }

  /** The value `put` was given, as JSON gives it back. */
  get(stored: StoredResult): unknown {
    return JSON.parse(decoder.decode(stored.buf.subarray(stored.start, stored.end)));
  }
}
