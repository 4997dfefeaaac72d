/**
 * `--audit-log FILE`: one JSON line per task, appended, rotated by size.
 * Fed by the dispatcher's onTaskEnd (data flows one way); it never sees
 * the token (operations and their args never carry it) and every line
 * passes through the redactor (lib/redact) before it is written.
 *
 * A line: time (the task's start), task_id, trace_id, operation, the
 * subject (command, path, URL or MCP server/tool), decision (allowed,
 * denied or error) and the rule(s) that decided it, exit code,
 * duration, bytes out, and the error for a failed task.
 */
import type { TaskEnd } from "../tasks/dispatcher.ts";
import { safeUrl } from "../policy/url_policy.ts";

export interface AuditLogOptions {
  path: string;
  /** rotate when the file would grow past this; default 100 MiB */
  maxBytes?: number;
  /** rotated files kept (FILE.1 is the newest); default 5 */
  keep?: number;
  /** applied to every line before it is written */
  redact?: (text: string) => string;
}

export const AUDIT_DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
export const AUDIT_DEFAULT_KEEP = 5;

export interface AuditRecord {
  time: string;
  task_id: string;
  trace_id?: string;
  kind: "task" | "mcp";
  operation: string;
  command?: string;
  path?: string;
  pattern?: string;
  url?: string;
  server?: string;
  tool?: string;
  decision: "allowed" | "denied" | "error";
  rule?: string;
  exit_code?: number;
  duration_ms: number;
  bytes_out: number;
  error?: string;
}

/** The paths a log at `path` with `keep` rotations writes (for the sandbox's write grant). */
export function auditLogPaths(path: string, keep = AUDIT_DEFAULT_KEEP): string[] {
  return [path, ...Array.from({ length: keep }, (_, k) => `${path}.${k + 1}`)];
}

const encoder = new TextEncoder();

export class AuditLog {
  private file: Deno.FsFile;
  private size: number;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly redact: (text: string) => string;

  private constructor(private readonly opts: AuditLogOptions) {
    this.maxBytes = opts.maxBytes ?? AUDIT_DEFAULT_MAX_BYTES;
    this.keep = opts.keep ?? AUDIT_DEFAULT_KEEP;
    this.redact = opts.redact ?? ((t) => t);
    this.file = AuditLog.openFile(opts.path);
    this.size = this.file.statSync().size;
  }

  /** Opens (creating, mode 0600) the file for appending; throws if it cannot. */
  static open(opts: AuditLogOptions): AuditLog {
    return new AuditLog(opts);
  }

  private static openFile(path: string): Deno.FsFile {
    return Deno.openSync(path, { append: true, create: true, mode: 0o600 });
  }

  /** Writes one task's line. Synchronous: a crash right after a task loses no line. */
  write(end: TaskEnd): void {
    this.writeRecord(auditRecord(end));
  }

  writeRecord(record: AuditRecord): void {
    const line = encoder.encode(this.redact(JSON.stringify(record)) + "\n");
    if (this.size > 0 && this.size + line.length > this.maxBytes) this.rotate();
    let written = 0;
    while (written < line.length) written += this.file.writeSync(line.subarray(written));
    this.size += line.length;
  }

  /** FILE -> FILE.1 -> FILE.2 ... the oldest beyond `keep` is dropped. */
  private rotate(): void {
    this.file.close();
    const paths = auditLogPaths(this.opts.path, this.keep);
    if (this.keep === 0) {
      Deno.truncateSync(this.opts.path);
    } else {
      for (let k = paths.length - 1; k > 0; k--) {
        try {
          Deno.renameSync(paths[k - 1], paths[k]);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    }
    this.file = AuditLog.openFile(this.opts.path);
    this.size = 0;
  }

  close(): void {
    this.file.close();
  }
}

/** The line for one finished task. */
export function auditRecord(end: TaskEnd): AuditRecord {
  const record: AuditRecord = {
    time: new Date(end.startedAt ?? Date.now()).toISOString(),
    task_id: end.id,
    ...(end.traceId ? { trace_id: end.traceId } : {}),
    kind: end.kind,
    operation: end.operation,
    ...subject(end.operation, end.args),
    ...decision(end),
    duration_ms: end.durationMs,
    bytes_out: end.bytesOut,
  };
  return record;
}

type Subject = Pick<AuditRecord, "command" | "path" | "pattern" | "url" | "server" | "tool">;

/** What the task was about, read from its args as sent (never the write's content). */
function subject(operation: string, args: unknown): Subject {
  const a = (typeof args === "object" && args !== null ? args : {}) as Record<string, unknown>;
  const str = (v: unknown) => typeof v === "string" ? v : undefined;
  switch (operation) {
    case "bash":
      return { command: str(a.command), path: str(a.workdir) };
    case "read":
    case "write":
    case "list":
      return { path: str(a.path) };
    case "glob":
    case "grep":
      return { pattern: str(a.pattern), path: str(a.path) };
    case "webfetch":
      return { url: urlForLog(str(a.url)) };
    case "sync_skill":
      return { path: str(a.skill_dir) };
    case "mcp_call":
    case "mcp_list_tools": {
      const server = a.server as Record<string, unknown> | undefined;
      return { server: str(server?.name), tool: str(a.tool_name) };
    }
    default:
      return {};
  }
}

/** A URL without its user:password part. */
function urlForLog(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return safeUrl(new URL(text.trim()));
  } catch {
    return text;
  }
}

/** The phrases a refusal starts with (the ones users grep for). */
const DENIED = /^(command denied|url denied|path escapes workspace)/;
const RULE =
  /\(rule "((?:[^"\\]|\\.)*)": deny\)|\bpermission\.webfetch rule "((?:[^"\\]|\\.)*)": deny/;

function decision(end: TaskEnd): Pick<AuditRecord, "decision" | "rule" | "exit_code" | "error"> {
  const o = end.outcome;
  if (o.success) {
    const code = (o.result as { exit_code?: unknown } | null)?.exit_code;
    return {
      decision: "allowed",
      // the rules that allowed the programs checked before the command ran
      ...(end.allowedBy.length > 0 ? { rule: end.allowedBy.join("; ") } : {}),
      ...(typeof code === "number" ? { exit_code: code } : {}),
    };
  }
  if (!DENIED.test(o.error)) return { decision: "error", error: o.error };
  const m = RULE.exec(o.error);
  const rule = m
    ? JSON.parse(`"${m[1] ?? m[2]}"`) as string
    : /no rule allowed it/.test(o.error)
    ? "(no rule allowed it)"
    : o.error.startsWith("path escapes workspace")
    ? "(workspace confinement)"
    : "(built-in)";
  return { decision: "denied", rule, error: o.error };
}
