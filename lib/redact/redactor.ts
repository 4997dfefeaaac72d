/**
 * Redaction: well-known secret shapes (./patterns.ts) and the values an
 * operator lists (config `redact.values`, plus the runner's own token) are
 * replaced by `[REDACTED]` in results, streamed output, logs and the audit
 * log.
 *
 * Streamed output arrives in chunks that may split a secret anywhere, so a
 * stream holds back its tail: the last HOLD characters, never cutting
 * between two non-space characters (a long token is one word) nor inside a
 * match, and everything from an unclosed private-key header. What it
 * releases is redacted exactly as the whole text would have been.
 */
import {
  type Needs,
  PRIVATE_KEY_BEGIN,
  PRIVATE_KEY_BEGIN_LITERAL,
  PRIVATE_KEY_END,
  SECRET_PATTERNS,
  type SecretPattern,
} from "./patterns.ts";

export const REDACTED = "[REDACTED]";
/** characters a stream always holds back (more than any bounded pattern's length) */
const HOLD = 1024;
/** a word (or an unclosed key) longer than this is released anyway: memory is bounded */
const MAX_HOLD = 64 * 1024;

interface Match {
  /** the whole match (context included): a stream never cuts inside it */
  start: number;
  end: number;
  /** the part replaced */
  secretStart: number;
  secretEnd: number;
}

export class Redactor {
  private readonly patterns: readonly SecretPattern[];
  private readonly hold: number;

  /** `values`: literal secrets (shorter than 4 characters are ignored: they would mask everything). */
  constructor(values: readonly string[] = []) {
    const literal = [...new Set(values.filter((v) => v.length >= 4))]
      .sort((a, b) => b.length - a.length);
    this.patterns = literal.length === 0 ? SECRET_PATTERNS : [
      ...SECRET_PATTERNS,
      {
        name: "value",
        regex: new RegExp(literal.map(escapeRegExp).join("|"), "gd"),
        needs: anyOf(literal),
      },
    ];
    this.hold = Math.max(HOLD, ...literal.map((v) => v.length * 2));
  }

  /** Every secret in `text`, whole matches sorted by start. */
  private matches(text: string, final: boolean): Match[] {
    const out: Match[] = [];
    for (const { regex, needs } of this.patterns) {
      if (needs !== undefined && !needs.test(text)) continue; // cannot match (patterns.ts)
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        const whole = m.indices![0]!;
        const s = m.indices!.groups?.s ?? whole;
        out.push({ start: whole[0], end: whole[1], secretStart: s[0], secretEnd: s[1] });
        if (m[0] === "") regex.lastIndex++;
      }
    }
    const open = unclosedKey(text);
    if (open >= 0 && final) {
      out.push({ start: open, end: text.length, secretStart: open, secretEnd: text.length });
    }
    return out.sort((a, b) => a.start - b.start);
  }

  /** The text with every secret replaced (an unclosed private key: to the end). */
  redact(text: string): string {
    if (text.length < 4) return text;
    const ms = this.matches(text, true);
    if (ms.length === 0) return text;
    // Union the secret ranges (patterns may overlap), then replace each once.
    const ranges = ms.map((m) => [m.secretStart, m.secretEnd] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    let out = "";
    let at = 0;
    let cur: [number, number] | undefined;
    for (const r of ranges) {
      if (cur && r[0] <= cur[1]) cur[1] = Math.max(cur[1], r[1]);
      else {
        if (cur) {
          out += text.slice(at, cur[0]) + REDACTED;
          at = cur[1];
        }
        cur = [...r];
      }
    }
    out += text.slice(at, cur![0]) + REDACTED + text.slice(cur![1]);
    return out;
  }

  /** Every string inside `value` (objects and arrays walked) redacted; a copy. */
  redactDeep<T>(value: T): T {
    if (typeof value === "string") return this.redact(value) as T;
    if (typeof value !== "object" || value === null || value instanceof Uint8Array) return value;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    // A loop rather than entries/fromEntries: this runs on every result.
    const from = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // (Deno has no __proto__ setter: a "__proto__" key from JSON stays a plain key.)
    for (const k of Object.keys(from)) out[k] = this.redactDeep(from[k]);
    return out as T;
  }

  /** A redacting stream for one output stream of one task. */
  stream(): RedactStream {
    return new RedactStream(this, this.hold);
  }

  /** @internal where a stream may cut `buf` (everything before is released). */
  safeCut(buf: string, hold: number): number {
    let cut = buf.length - hold;
    if (cut <= 0) return 0;
    // Never between two non-space characters: a token split there would match neither half.
    const floor = Math.max(0, buf.length - MAX_HOLD);
    while (cut > floor && !isSpace(buf.charCodeAt(cut - 1)) && !isSpace(buf.charCodeAt(cut))) {
      cut--;
    }
    // Never inside a match (moving left can enter an earlier one: repeat until none).
    const ms = this.matches(buf, false);
    for (let moved = true; moved;) {
      moved = false;
      for (const m of ms) {
        if (m.start < cut && m.end > cut) {
          cut = m.start;
          moved = true;
        }
      }
    }
    // Nor after an unclosed private-key header (unless it has grown too long to hold).
    const open = unclosedKey(buf);
    if (open >= 0 && open < cut && buf.length - open <= MAX_HOLD) cut = open;
    return cut;
  }
}

/**
 * Redacts a stream of chunks: `write` returns what may go out now, `end`
 * the rest. Concatenated, the outputs equal `redact(whole input)`.
 */
export class RedactStream {
  private buf = "";

  constructor(private readonly redactor: Redactor, private readonly hold: number) {}

  write(chunk: string): string {
    this.buf += chunk;
    if (this.buf.length <= this.hold) return "";
    const cut = this.redactor.safeCut(this.buf, this.hold);
    if (cut === 0) return "";
    const out = this.redactor.redact(this.buf.slice(0, cut));
    this.buf = this.buf.slice(cut);
    return out;
  }

  end(): string {
    const out = this.redactor.redact(this.buf);
    this.buf = "";
    return out;
  }
}

/** The start of a private-key header with no footer after it, or -1. */
function unclosedKey(text: string): number {
  // a plain search spares the scan of a text with no header at all (most of them)
  if (!text.includes(PRIVATE_KEY_BEGIN_LITERAL)) return -1;
  PRIVATE_KEY_BEGIN.lastIndex = 0;
  let last = -1;
  for (let m = PRIVATE_KEY_BEGIN.exec(text); m !== null; m = PRIVATE_KEY_BEGIN.exec(text)) {
    last = m.index;
  }
  if (last < 0) return -1;
  PRIVATE_KEY_END.lastIndex = last;
  return PRIVATE_KEY_END.exec(text) === null ? last : -1;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9 || c === 12 || c === 11;
}

/** The literal values' quick test: the alternation of them matches exactly where one of them is found. */
function anyOf(values: readonly string[]): Needs {
  return { test: (text) => values.some((v) => text.includes(v)) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
