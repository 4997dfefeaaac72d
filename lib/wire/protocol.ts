/**
 * The wire contract with the Flashduty platform (docs/protocol.md):
 * every message type, its payload, and how frames are made and read.
 * Field names are compatibility-critical: they match the Go reference runner.
 */

export type MessageType =
  | "welcome"
  | "heartbeat"
  | "task.request"
  | "task.cancel"
  | "task.output"
  | "task.result"
  | "mcp.call"
  | "mcp.result";

export interface Envelope<T = unknown> {
  id: string;
  type: MessageType | string;
  payload: T;
  timestamp: number;
}

export interface WelcomePayload {
  worknode_id: string;
  name: string;
  labels: string[];
}

export interface EnvironmentInfo {
  os: string;
  os_version: string;
  arch: string;
  hostname: string;
  shell: string;
  home_dir: string;
  workspace_root: string;
  username: string;
  num_cpu: number;
  total_memory_mb: number;
  current_time: string;
  timezone: string;
  utc_offset: string;
}

export interface Metrics {
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
}

export interface HeartbeatPayload {
  worknode_id: string;
  name: string;
  labels: string[];
  version: string;
  environment?: EnvironmentInfo;
  metrics?: Metrics;
}

export interface TaskRequestPayload {
  task_id: string;
  trace_id?: string;
  source_instance_id?: string;
  operation: string;
  args: unknown;
}

export interface TaskCancelPayload {
  task_id: string;
}

export interface TaskOutputPayload {
  task_id: string;
  stream: "stdout" | "stderr";
  data: string;
}

export interface TaskResultPayload {
  task_id: string;
  source_instance_id?: string;
  success: boolean;
  result?: unknown;
  error?: string;
  exit_code?: number;
}

/** An MCP server as the platform describes it (mcp_call, mcp_list_tools, mcp.call). */
export interface McpServerConfig {
  name: string;
  transport: "stdio" | "sse" | string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
  dynamic_headers?: Record<string, string>;
}

export interface McpCallPayload {
  call_id: string;
  server: McpServerConfig;
  tool_name: string;
  arguments?: Record<string, unknown>;
}

export interface McpResultPayload {
  call_id: string;
  success: boolean;
  result?: unknown;
  error?: string;
}

// ---- operation results (docs/protocol.md "Operations") ----

/** Fields every text-returning result may carry after large-output handling. */
export interface Truncation {
  truncated?: boolean;
  file_path?: string;
  total_size?: number;
}

export interface ReadResult {
  content: string;
  total_size: number;
}
export interface WriteResult {
  success: true;
}
export interface ListEntry {
  path: string;
  is_dir: boolean;
  size: number;
}
export interface ListResult {
  entries: ListEntry[];
  /** extension: set when the listing stopped at the entry cap */
  truncated?: boolean;
}
export interface GlobResult {
  matches: string[];
  /** extension: set when the walk stopped at its cap */
  truncated?: boolean;
}
export interface GrepMatch {
  path: string;
  line_number: number;
  content: string;
}
export interface GrepResult extends Truncation {
  matches: GrepMatch[];
  content: string;
}
export interface BashResult extends Truncation {
  stdout: string;
  stderr: string;
  exit_code: number;
}
export interface WebfetchResult extends Truncation {
  content: string;
  url: string;
}
export interface McpCallResult extends Truncation {
  content: string;
  is_error?: boolean;
}
export interface McpToolInfo {
  name: string;
  description: string;
  input_schema: unknown;
}
export interface McpListToolsResult {
  tools: McpToolInfo[];
}
export interface SyncSkillResult {
  success: true;
  path: string;
}

// ---- making and reading frames ----

// shortuuid's alphabet, as the reference uses for its ids.
const BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** `msg_` + 22 base57 characters from a CSPRNG. */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let id = "msg_";
  // 57 does not divide 256: rejection sampling keeps the characters uniform.
  for (let i = 0; id.length < 26; i++) {
    if (i === bytes.length) {
      crypto.getRandomValues(bytes);
      i = 0;
    }
    if (bytes[i] < 228) id += BASE57[bytes[i] % 57];
  }
  return id;
}

export function envelope<T>(type: MessageType, payload: T): Envelope<T> {
  return { id: newMessageId(), type, payload, timestamp: Date.now() };
}

/** Go's `omitempty` for a task.result: zero values are left out. */
export function taskResult(r: TaskResultPayload): TaskResultPayload {
  const out: TaskResultPayload = { task_id: r.task_id, success: r.success };
  if (r.source_instance_id) out.source_instance_id = r.source_instance_id;
  if (r.result !== undefined && r.result !== null) out.result = r.result;
  if (r.error) out.error = r.error;
  if (r.exit_code) out.exit_code = r.exit_code;
  return out;
}

export type ParsedFrame =
  | { ok: true; envelope: Envelope<Record<string, unknown>> }
  | { ok: false; reason: string };

/** Reads one text frame; never throws. A frame that is not an envelope is a reason, not a crash. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, reason: "frame is not a JSON object" };
  if (typeof value.type !== "string") return { ok: false, reason: "frame has no string `type`" };
  const payload = value.payload ?? {};
  if (!isObject(payload)) return { ok: false, reason: "`payload` is not an object" };
  return {
    ok: true,
    envelope: {
      id: typeof value.id === "string" ? value.id : "",
      type: value.type,
      payload,
      timestamp: typeof value.timestamp === "number" ? value.timestamp : 0,
    },
  };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
