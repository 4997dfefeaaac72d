import { configureLogging, getLogger, type Logger, type LogLevel, type LogRecord } from "./deps.ts";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

const encoder = new TextEncoder();

/** Masks secrets in every line logged (lib/redact); set once the settings are known. */
let redactLine: (line: string) => string = (line) => line;
export function setLogRedactor(redact: ((line: string) => string) | undefined): void {
  redactLine = redact ?? ((line) => line);
}

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
    sinks: {
      stderr: (record: LogRecord) => Deno.stderr.writeSync(encoder.encode(redactLine(fmt(record)))),
    },
    loggers: [
      { category: ["flashduty"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

export function logger(...category: string[]): Logger {
  return getLogger(["flashduty", ...category]);
}

function render(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : format(part)).join("");
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

function textLine(record: LogRecord): string {
  // Properties already spelled out by the message template are not repeated.
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const props = Object.entries(record.properties)
    .filter(([k, v]) => v !== undefined && v !== "" && !raw.includes(`{${k}}`))
    .map(([k, v]) =>
      `${k}=${/^[\w.:/@-]+$/.test(format(v)) ? format(v) : JSON.stringify(format(v))}`
    )
    .join(" ");
  const time = new Date(record.timestamp).toISOString();
  return `${time} ${LEVEL_LABEL[record.level]} ${record.category.slice(1).join(".") || "runner"}: ${
    render(record)
  }${props ? " " + props : ""}\n`;
}

function jsonLine(record: LogRecord): string {
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "warn" : record.level,
    logger: record.category.slice(1).join("."),
    msg: render(record),
    ...Object.fromEntries(
      Object.entries(record.properties).map(([k, v]) => [k, v instanceof Error ? v.message : v]),
    ),
  }) + "\n";
}
