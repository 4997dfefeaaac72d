import type { Truncation } from "../wire/protocol.ts";
import type { Workspace } from "../fs/workspace.ts";

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
  if (text.length <= MAX_OUTPUT_CHARS) return { content: text };
  const rel = `${OUTPUTS_DIR}/${op}_${randomChars(8)}_${Math.floor(Date.now() / 1000)}.txt`;
  let saved: string | undefined = rel;
  try {
    // written through directory descriptors (ws.fs), so a `.work` swapped
    // for a symlink meanwhile cannot redirect the save outside
    await ws.fs.writeAtomic(rel, new TextEncoder().encode(text), rel);
  } catch {
    saved = undefined; // the preview still goes out, just without a file to page through
  }
  return {
    content: preview(text, saved),
    truncated: true,
    ...(saved ? { file_path: saved } : {}),
    total_size: text.length,
  };
}

function preview(text: string, savedPath: string | undefined): string {
  // The preview needs the first lines and a line count, not the lines: a
  // split of a 10 MB output would allocate an array of every line (the main
  // cost of a flood of large outputs), so both come from indexOf scans.
  const { shown, end } = firstLines(text, PREVIEW_LINES);
  let head = text.slice(0, Math.min(end, PREVIEW_CHARS + 1));
  if (head.length > PREVIEW_CHARS) {
    // never cut between the two halves of a surrogate pair (a lone half is invalid UTF-8)
    const cut = isHighSurrogate(head.charCodeAt(PREVIEW_CHARS - 1))
      ? PREVIEW_CHARS - 1
      : PREVIEW_CHARS;
    head = head.slice(0, cut) + "\n... [preview truncated]";
  }
  const parts = [
    "<output_truncated>",
    `Output too large (${text.length} chars, ${countLines(text)} lines).` +
    (savedPath ? ` Full content saved to: ${savedPath}` : " Could not save full content."),
    "",
    `Preview (first ${shown} lines):`,
    "```",
    head,
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
