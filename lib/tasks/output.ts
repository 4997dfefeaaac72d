import type { Truncation } from "../wire/protocol.ts";
import type { Workspace } from "../fs/workspace.ts";
import type { AtomicFile } from "../fs/workspace_fs.ts";

/** docs/protocol.md "Large output": the limits the platform's prompts are written for. */
export const MAX_OUTPUT_CHARS = 30_000;
export const PREVIEW_LINES = 20;
export const PREVIEW_CHARS = 8_000;
export const OUTPUTS_DIR = ".work/outputs";

export interface LimitedText extends Truncation {
  content: string;
}

/**
 * Replaces a text longer than 30,000 characters by a preview, saving the
 * whole text under `.work/outputs/` so the model can page through it with
 * `read`. Shared by every operation that returns text.
 */
export async function limitOutput(
  ws: Workspace,
  op: string,
  text: string,
): Promise<LimitedText> {
  const spool = new OutputSpool(ws, op);
  await spool.write(text);
  return await spool.finish();
}

/**
 * UTF-16 units encoded and written at a time (at most 3 bytes each in UTF-8):
 * a decoded 64 KiB read fits whole.
 */
const ENCODE_UNITS = 64 * 1024;

/**
 * limitOutput for a text that arrives in pieces (a command's stdout): the
 * same result, but the text is never held whole. Until it passes 30,000
 * characters it is kept (it may go out unchanged); from then on it is
 * written to the saved file as it arrives, and only what the preview needs
 * stays in memory: the first PREVIEW_CHARS + 1 characters, the length and
 * the count of newlines. The file holds exactly the UTF-8 encoding of the
 * whole text, as when it was encoded at once.
 */
export class OutputSpool {
  /** the whole text while it may go out unchanged; once over, its first PREVIEW_CHARS + 1 units */
  #head = "";
  #chars = 0;
  #newlines = 0;
  #over = false;
  #path: string | undefined;
  #file: AtomicFile | undefined;
  #done = false;
  /** saves run one after another, in the order of the writes */
  #queue: Promise<void> = Promise.resolve();
  /** a trailing high surrogate: encoded with the low half the next write may start with */
  #carry = "";
  #buffer: Uint8Array | undefined;

  constructor(private readonly ws: Workspace, private readonly op: string) {}

  /** Characters of text held in memory (the head); the rest is on disk or counted only. */
  get held(): number {
    return this.#head.length + this.#carry.length;
  }

  /**
   * Adds text. Resolves when it is written to the file (a writer that waits
   * reads its source no faster than the disk takes it); never rejects: a
   * failed save only loses the file, as limitOutput's did.
   */
  write(text: string): Promise<void> {
    if (text === "" || this.#done) return this.#queue;
    this.#chars += text.length;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) this.#newlines++;
    if (!this.#over) {
      this.#head += text;
      if (this.#chars <= MAX_OUTPUT_CHARS) return this.#queue;
      // over the limit: everything so far goes to the file, only the preview's head stays
      this.#over = true;
      const all = this.#head;
      this.#head = all.slice(0, PREVIEW_CHARS + 1);
      return this.#then(async () => {
        await this.#open();
        await this.#save(all, false);
      });
    }
    if (this.#head.length <= PREVIEW_CHARS) {
      this.#head += text.slice(0, PREVIEW_CHARS + 1 - this.#head.length);
    }
    return this.#then(() => this.#save(text, false));
  }

  /** The result: the text itself, or the preview with the saved file committed. */
  async finish(): Promise<LimitedText> {
    await this.#then(() => this.#save("", true));
    this.#done = true;
    if (!this.#over) return { content: this.#head };
    try {
      await this.#file?.commit();
    } catch {
      this.#path = undefined;
    }
    this.#file = undefined;
    const path = this.#path;
    return {
      content: preview(this.#head, this.#chars, this.#newlines, path),
      truncated: true,
      ...(path ? { file_path: path } : {}),
      total_size: this.#chars,
    };
  }

  /** Drops the saved file (the task failed or was cancelled); nothing is left behind. */
  async discard(): Promise<void> {
    this.#done = true;
    await this.#queue; // a write in flight still holds the descriptor
    this.#file?.discard();
    this.#file = undefined;
  }

  #then(step: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(step);
    return this.#queue;
  }

  async #open(): Promise<void> {
    if (this.#done) return;
    const rel = `${OUTPUTS_DIR}/${this.op}_${randomChars(8)}_${Math.floor(Date.now() / 1000)}.txt`;
    try {
      // written through directory descriptors (ws.fs), so a `.work` swapped
      // for a symlink meanwhile cannot redirect the save outside
      this.#file = await this.ws.fs.createAtomic(rel, rel);
      this.#path = rel;
    } catch {
      // the preview still goes out, just without a file to page through
    }
  }

  async #save(text: string, last: boolean): Promise<void> {
    const file = this.#file;
    if (!file || this.#done) return;
    // no concatenation or slice unless needed: each would copy the chunk once more
    let rest = this.#carry ? this.#carry + text : text;
    this.#carry = "";
    if (!last && isHighSurrogate(rest.charCodeAt(rest.length - 1))) {
      this.#carry = rest.slice(-1);
      rest = rest.slice(0, -1);
    }
    const buffer = this.#buffer ??= new Uint8Array(ENCODE_UNITS * 3);
    try {
      for (let at = 0; at < rest.length;) {
        let end = Math.min(at + ENCODE_UNITS, rest.length);
        // a pair cut in two would be encoded as two replacement characters
        if (end < rest.length && isHighSurrogate(rest.charCodeAt(end - 1))) end--;
        const part = at === 0 && end === rest.length ? rest : rest.slice(at, end);
        const { written } = ENCODER.encodeInto(part, buffer);
        await file.write(buffer.subarray(0, written));
        at = end;
      }
    } catch {
      file.discard();
      this.#file = undefined;
      this.#path = undefined;
    }
  }
}

const ENCODER = new TextEncoder();

/**
 * The reference's preview of a text of `chars` UTF-16 units and `newlines`
 * newlines, from its first PREVIEW_CHARS + 1 units (`head`): the first 20
 * lines, at most 8,000 characters. The line count and the lines shown come
 * from the newline count, so the text need not be split into lines.
 */
function preview(
  head: string,
  chars: number,
  newlines: number,
  savedPath: string | undefined,
): string {
  const shown = Math.min(newlines + 1, PREVIEW_LINES);
  let shownText = head.slice(0, Math.min(firstLines(head, PREVIEW_LINES).end, PREVIEW_CHARS + 1));
  if (shownText.length > PREVIEW_CHARS) {
    // never cut between the two halves of a surrogate pair (a lone half is invalid UTF-8)
    const cut = isHighSurrogate(shownText.charCodeAt(PREVIEW_CHARS - 1))
      ? PREVIEW_CHARS - 1
      : PREVIEW_CHARS;
    shownText = shownText.slice(0, cut) + "\n... [preview truncated]";
  }
  const parts = [
    "<output_truncated>",
    `Output too large (${chars} chars, ${newlines + 1} lines).` +
    (savedPath ? ` Full content saved to: ${savedPath}` : " Could not save full content."),
    "",
    `Preview (first ${shown} lines):`,
    "```",
    shownText,
    "```",
    "",
  ];
  if (savedPath) parts.push(`To read more: read("${savedPath}", offset=${shown}, limit=100)`);
  parts.push("</output_truncated>");
  return parts.join("\n");
}

/** Lines as `split("\n")` counts them: one more than the newlines. */
export function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * The first `max` lines as `split("\n").slice(0, max).join("\n")` gives them:
 * how many there are and where they end.
 */
export function firstLines(text: string, max: number): { shown: number; end: number } {
  let shown = 1;
  let end = text.indexOf("\n");
  while (end !== -1 && shown < max) {
    shown++;
    end = text.indexOf("\n", end + 1);
  }
  return { shown, end: end === -1 ? text.length : end };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

const ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

function randomChars(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
}

/** The reference's rule: a command that only reads a saved output is not truncated again. */
export function readsSavedOutput(command: string): boolean {
  const readers = ["cat ", "head ", "tail ", "less ", "more ", "bat "];
  return readers.some((r) => command.includes(r)) && command.includes(".work/");
}
