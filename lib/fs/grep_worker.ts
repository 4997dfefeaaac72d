/**
 * Runs a grep job off the main thread, so a big search never stalls the
 * runner's event loop (heartbeats, other tasks). Deliberately small: it
 * reads and matches; every path decision was made (and confined) by the
 * main thread. RE2 matching is linear in each line, and the stop flag is
 * checked before every line, so a stop takes effect within one line.
 */
import { RE2JS } from "../deps/re2.ts";
import type { GrepMatch } from "../wire/protocol.ts";
import type { GrepJob, GrepReply } from "./grep_job.ts";
import { closeSync } from "node:fs";
import { join } from "node:path";
import { Beneath } from "./beneath.ts";
import { openVerifiedSync, readAtSync } from "./open_file.ts";

const BINARY_SNIFF_BYTES = 8192;
const LINE_CUT_MARK = " [... line truncated]";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<GrepJob>) => void) | null;
  postMessage(reply: GrepReply): void;
};

scope.onmessage = (e) => {
  try {
    scope.postMessage(search(e.data));
  } catch (err) {
    scope.postMessage({ ok: false, error: (err as Error)?.message ?? String(err) });
  }
};

/** The root's descriptor, opened once per worker (and per root, for tests that use several). */
const roots = new Map<string, Beneath | undefined>();

/**
 * A file's first `maxBytes` and its size. Through the root's descriptor with
 * no symlink allowed on the path (Beneath.readRealSync), so a directory
 * swapped for a symlink after the main thread chose the file is not followed;
 * by path where descriptors are unavailable (PathFs's platforms).
 */
function readChosen(root: string, real: string, display: string, maxBytes: number) {
  if (!roots.has(root)) roots.set(root, Beneath.open(root));
  const beneath = roots.get(root);
  if (beneath) return beneath.readRealSync(real, maxBytes);
  const { fd, size } = openVerifiedSync(join(root, real), display);
  try {
    return { bytes: readAtSync(fd, 0, Math.min(size, maxBytes)), size };
  } finally {
    closeSync(fd);
  }
}

function search(job: GrepJob): GrepReply {
  const re = RE2JS.compile(job.source, job.flags);
  const stop = new Int32Array(job.stop);
  const decoder = new TextDecoder();
  const matches: GrepMatch[] = [];
  let cutFiles = 0;
  for (const f of job.files) {
    if (Atomics.load(stop, 0) !== 0) return { ok: false, stopped: true };
    let bytes: Uint8Array;
    try {
      // synchronous: this thread has nothing else to do, and each call costs microseconds
      const chosen = readChosen(job.root, f.real, f.path, job.maxFileBytes);
      if (chosen.size > job.maxFileBytes) cutFiles++;
      bytes = chosen.bytes;
    } catch {
      continue; // vanished, swapped or unreadable: skipped, as ripgrep does
    }
    if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) continue;
    const lines = decoder.decode(bytes).split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (let i = 0; i < lines.length; i++) {
      if (Atomics.load(stop, 0) !== 0) return { ok: false, stopped: true };
      let line = lines[i];
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (!re.test(line)) continue;
      if (line.length > job.maxLineChars) line = line.slice(0, job.maxLineChars) + LINE_CUT_MARK;
      matches.push({ path: f.path, line_number: i + 1, content: line });
      if (matches.length >= job.maxMatches) return { ok: true, matches, capped: true, cutFiles };
    }
  }
  return { ok: true, matches, capped: false, cutFiles };
}
