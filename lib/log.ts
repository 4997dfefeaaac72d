import { configureLogging, getLogger, type Logger, type LogLevel, type LogRecord } from "./deps.ts";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

const encoder = new TextEncoder();

/** Normalizes the user's spelling ("warn" is what Go users type). */
export function parseLogLevel(level: string): LogLevel {
  const l = level.toLowerCase();
  if (l === "warn") return "warning";
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new Error(`unknown log level ${JSON.stringify(level)} (use debug, info, warn or error)`);
}

/**
 * Logs go to stderr, one line a record, synchronously (a crash loses no
 * line): `text` for people, `json` for log shippers. Properties such as
 * task_id, trace_id and operation are printed on every line.
 */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  const fmt = format === "json" ? jsonLine : textLine;
  await configureLogging({
    reset: true,
    sinks: { stderr: (record: LogRecord) => Deno.stderr.writeSync(encoder.encode(fmt(record))) },
    loggers: [
      { category: ["flashduty"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

export function logger(...category: string[]): Logger {
  return getLogger(["flashduty", ...category]);
}

/** A logged value longer than this is cut, and the line says where and how long it was. */
export const MAX_LOGGED_CHARS = 200;
/** Stacks are ours, but carry messages that may quote input: longer, still bounded. */
const MAX_STACK_CHARS = 4000;

/**
 * Caps one value at `max` characters, saying where it was cut. The platform
 * chooses task ids, types and paths; a log line must not be theirs to size.
 */
export function capValue(text: string, max = MAX_LOGGED_CHARS): string {
  if (text.length <= max) return text;
  // never leave half a surrogate pair at the cut
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]) ? max - 1 : max;
  return `${text.slice(0, end)}…[cut at ${end} of ${text.length} chars]`;
}

// Everything that could end a line, move the cursor, recolour or reorder the
// text on a terminal: C0 and C1 controls, DEL, line and paragraph separators,
// bidi overrides and isolates ("trojan source").
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Text-log form of a value: one line, control characters spelled out, capped. */
export function escapeForText(text: string, max = MAX_LOGGED_CHARS): string {
  return capValue(text, max).replace(
    UNSAFE,
    (c) => SHORT[c] ?? unicodeEscape(c),
  );
}

function render(record: LogRecord, safe: (text: string) => string): string {
  return record.message.map((part, i) => i % 2 === 0 ? String(part) : safe(format(part))).join(
    "",
  );
}
function format(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

const LEVEL_LABEL: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warning: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

const limitFor = (key: string) => key === "stack" ? MAX_STACK_CHARS : MAX_LOGGED_CHARS;

/**
 * One line whatever the values hold: the template is ours, every value
 * (interpolated or a key=value property) is escaped and capped, and a
 * property that is not a plain word is quoted with `"` and `\\` escaped, so
 * no value can end the line or pass for another field.
 */
function textLine(record: LogRecord): string {
  // Properties already spelled out by the message template are not repeated.
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const props = Object.entries(record.properties)
    .filter(([k, v]) => v !== undefined && v !== "" && !raw.includes(`{${k}}`))
    .map(([k, v]) => {
      const text = format(v);
      if (/^[\w.:/@-]{1,200}$/.test(text)) return `${k}=${text}`;
      return `${k}="${escapeForText(text.replace(/[\\"]/g, "\\$&"), limitFor(k))}"`;
    })
    .join(" ");
  const time = new Date(record.timestamp).toISOString();
  return `${time} ${LEVEL_LABEL[record.level]} ${record.category.slice(1).join(".") || "runner"}: ${
    render(record, (t) => escapeForText(t))
  }${props ? " " + props : ""}\n`;
}

/**
 * One JSON object a line: JSON.stringify escapes C0 controls; DEL, C1,
 * U+2028/U+2029 and bidi controls are escaped too (JSON allows them raw,
 * but line readers split on some and terminals act on others). Strings are capped like text values; other values are kept as
 * JSON when short and become a capped string when long.
 */
function jsonLine(record: LogRecord): string {
  const props = Object.entries(record.properties).map(([k, v]) => {
    const value = v instanceof Error ? v.message : v;
    if (typeof value === "string") return [k, capValue(value, limitFor(k))];
    if (value === null || typeof value !== "object") return [k, value];
    const text = format(value);
    return [k, text.length <= MAX_LOGGED_CHARS ? value : capValue(text)];
  });
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "warn" : record.level,
    logger: record.category.slice(1).join("."),
    msg: render(record, (t) => capValue(t)),
    ...Object.fromEntries(props),
  }).replace(UNSAFE, unicodeEscape) + "\n"; // only what JSON.stringify left raw is left to match
}
