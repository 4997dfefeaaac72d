/**
 * A command's standard input as the interpreter holds it: a file, a here-
 * document, or the pipe from the previous stage. Builtins read lines from it
 * (`read`); a program gets the rest of it fed to its stdin.
 */

export class Source {
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private buf = new Uint8Array(0);
  private eof = false;
  /** `read` took lines from it: programs started later in the same loop get no stdin */
  lineRead = false;

  constructor(stream: ReadableStream<Uint8Array> | undefined) {
    if (stream) this.reader = stream.getReader();
    else this.eof = true;
  }

  static text(text: string): Source {
    const s = new Source(undefined);
    s.buf = new TextEncoder().encode(text);
    return s;
  }

  private async more(): Promise<boolean> {
    if (this.eof || !this.reader) return false;
    try {
      const { value, done } = await this.reader.read();
      if (done) {
        this.eof = true;
        return false;
      }
      const next = new Uint8Array(this.buf.length + value.length);
      next.set(this.buf);
      next.set(value, this.buf.length);
      this.buf = next;
      return true;
    } catch {
      this.eof = true;
      return false;
    }
  }

  /** One line without its delimiter; undefined at the end (a last line without `\n` comes back with eof set). */
  async readLine(
    delim = 10,
    maxBytes = 1 << 20,
  ): Promise<{ line: string; eof: boolean } | undefined> {
    this.lineRead = true;
    for (;;) {
      const at = this.buf.indexOf(delim);
      if (at >= 0) {
        const line = new TextDecoder().decode(this.buf.subarray(0, at));
        this.buf = this.buf.slice(at + 1);
        return { line, eof: false };
      }
      if (this.buf.length > maxBytes || !(await this.more())) {
        if (this.buf.length === 0) return undefined;
        const line = new TextDecoder().decode(this.buf);
        this.buf = new Uint8Array(0);
        return { line, eof: true };
      }
    }
  }

  /** Everything left, up to `maxBytes` (xargs). */
  async readAll(maxBytes: number): Promise<Uint8Array> {
    while (this.buf.length <= maxBytes && (await this.more()));
    const all = this.buf;
    this.buf = new Uint8Array(0);
    return all;
  }

  /** Feeds the rest to a program's stdin until either side ends, then closes it. */
  async feed(stdin: WritableStream<Uint8Array>): Promise<void> {
    const w = stdin.getWriter();
    try {
      if (this.buf.length > 0) {
        const b = this.buf;
        this.buf = new Uint8Array(0);
        await w.write(b);
      }
      while (!this.eof && this.reader) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await this.reader.read();
        } catch {
          break;
        }
        if (r.done) {
          this.eof = true;
          break;
        }
        await w.write(r.value);
      }
    } catch {
      // the program exited without reading everything (SIGPIPE's counterpart)
    } finally {
      await w.close().catch(() => {});
    }
  }

  /** The stage that owned this input ended: the writer upstream stops (SIGPIPE). */
  cancel(): void {
    this.eof = true;
    void this.reader?.cancel().catch(() => {});
  }
}
