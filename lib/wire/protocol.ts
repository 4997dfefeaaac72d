/**
 * The wire contract with the Flashduty platform (docs/protocol.md): every
 * message type, its payload, and how frames are made and read. Inbound frames
 * are decoded here, once, into `Inbound`; nothing past this module looks at a
 * raw payload. Field names are compatibility-critical: they match the Go
 * reference runner.
 */
import { FIELD_LIMITS } from "./limits.ts";

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

export interface McpResultPayload {
  call_id: string;
  success: boolean;
  result?: unknown;
  error?: string;
}

// ---- operation args, as checked by each operation (lib/operations/<op>.ts) ----
// The wire shape with types; string lengths are bounded by FIELD_LIMITS.

export interface ReadArgs {
  path: string;
  offset?: number;
  limit?: number;
}
export interface WriteArgs {
  path: string;
  /** base64 */
  content: string;
}
export interface ListArgs {
  path?: string;
  recursive?: boolean;
  ignore?: string[];
}
export interface GlobArgs {
  pattern: string;
}
export interface GrepArgs {
  pattern: string;
  include?: string[];
}
export interface BashArgs {
  command: string;
  workdir?: string;
  /** seconds */
  timeout?: number;
}
export interface WebfetchArgs {
  url: string;
  format?: string;
  /** seconds */
  timeout?: number;
}
/** `server` is read by lib/mcp/server_config.ts, the one reader of an MCP server config. */
export interface McpCallArgs {
  server: Record<string, unknown>;
  tool_name: string;
  args?: Record<string, unknown>;
  /** seconds */
  timeout?: number;
}
export interface McpListToolsArgs {
  server: Record<string, unknown>;
  timeout?: number;
}
export interface SyncSkillArgs {
  skill_name?: string;
  skill_dir: string;
  /** base64 zip archive */
  zip_data: string;
  checksum?: string;
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
const BASE57_CODES = Array.from(BASE57, (c) => c.charCodeAt(0));

/** Random bytes drawn from the CSPRNG a pool at a time: one call per ~180 ids instead of one each. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
const idCodes = new Array<number>(22);

/** `msg_` + 22 base57 characters from a CSPRNG. */
export function newMessageId(): string {
  // 57 does not divide 256: rejection sampling keeps the characters uniform.
  for (let n = 0; n < 22;) {
    if (poolAt === pool.length) {
      crypto.getRandomValues(pool);
      poolAt = 0;
    }
    const b = pool[poolAt++];
    if (b < 228) idCodes[n++] = BASE57_CODES[b % 57];
  }
  return "msg_" + String.fromCharCode(...idCodes);
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

/** Reads one text frame into an envelope; never throws. (The simulator reads the runner's frames with it.) */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  return envelopeOf(value);
}

function envelopeOf(value: unknown): ParsedFrame {
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

// ---- what the platform sends, decoded once ----

/** A `task.request`, checked. `args` stay raw: each operation decodes its own (lib/operations/). */
export interface TaskRequest {
  task_id: string;
  trace_id: string;
  source_instance_id?: string;
  operation: string;
  args: unknown;
}

/** An `mcp.call`, checked; `server` is read by lib/mcp/server_config.ts like mcp_call's. */
export interface McpCall {
  call_id: string;
  server: unknown;
  tool_name: string;
  arguments: Record<string, unknown>;
}

/** Who to answer when a request is refused before it runs. */
export interface ReplyTo {
  kind: "task" | "mcp";
  id: string;
  source_instance_id?: string;
}

/**
 * Every inbound frame is exactly one of these. `invalid` carries `reply`
 * when the frame named an id to answer (its error goes back as a result);
 * without one there is nothing to answer and it is only logged.
 */
export type Inbound =
  | { kind: "welcome"; welcome: WelcomePayload }
  | { kind: "task"; request: TaskRequest }
  | { kind: "cancel"; task_id: string }
  | { kind: "mcp"; call: McpCall }
  | { kind: "unknown"; type: string }
  | { kind: "invalid"; type: string; reason: string; reply?: ReplyTo };

/** Decodes one text frame; never throws. */
export function decodeInbound(text: string): Inbound {
  return decodeFrame(parseFrame(text));
}

/** Decodes an envelope already read as JSON (tests build them with `envelope()`). */
export function decodeEnvelope(value: unknown): Inbound {
  return decodeFrame(envelopeOf(value));
}

/** The payload of an envelope checked once (by envelopeOf), on every frame. */
function decodeFrame(frame: ParsedFrame): Inbound {
  if (!frame.ok) return { kind: "invalid", type: "", reason: frame.reason };
  const { type, payload: p } = frame.envelope;
  const invalid = (reason: string, reply?: ReplyTo): Inbound => ({
    kind: "invalid",
    type,
    reason: `invalid ${type}: ${reason}`,
    reply,
  });
  switch (type) {
    case "welcome":
      return { kind: "welcome", welcome: decodeWelcome(p) };
    case "task.request": {
      const task_id = idField(p, "task_id");
      if (typeof task_id !== "string") return invalid(task_id.problem);
      const source = idField(p, "source_instance_id", true);
      const reply: ReplyTo = { kind: "task", id: task_id };
      if (typeof source !== "string") return invalid(source.problem, reply);
      if (source) reply.source_instance_id = source;
      const trace = idField(p, "trace_id", true);
      if (typeof trace !== "string") return invalid(trace.problem, reply);
      const op = p.operation;
      if (typeof op !== "string" || op === "") {
        return invalid("`operation` must be a non-empty string", reply);
      }
      if (op.length > FIELD_LIMITS.name) {
        return invalid(`\`operation\` is over ${FIELD_LIMITS.name} characters`, reply);
      }
      const request: TaskRequest = { task_id, trace_id: trace, operation: op, args: p.args };
      if (source) request.source_instance_id = source;
      return { kind: "task", request };
    }
    case "task.cancel": {
      const task_id = idField(p, "task_id");
      if (typeof task_id !== "string") return invalid(task_id.problem);
      return { kind: "cancel", task_id };
    }
    case "mcp.call": {
      const call_id = idField(p, "call_id");
      if (typeof call_id !== "string") return invalid(call_id.problem);
      const reply: ReplyTo = { kind: "mcp", id: call_id };
      const tool = p.tool_name;
      if (typeof tool !== "string" || tool === "" || tool.length > FIELD_LIMITS.name) {
        return invalid(
          `\`tool_name\` must be a non-empty string of at most ${FIELD_LIMITS.name} characters`,
          reply,
        );
      }
      const args = p.arguments ?? {};
      if (!isObject(args)) return invalid("`arguments` must be an object", reply);
      return { kind: "mcp", call: { call_id, server: p.server, tool_name: tool, arguments: args } };
    }
    default:
      return { kind: "unknown", type };
  }
}

/** An id field: a non-empty string within FIELD_LIMITS.id (or absent, when optional). */
function idField(
  p: Record<string, unknown>,
  name: string,
  optional = false,
): string | { problem: string } {
  const v = p[name];
  if (optional && (v === undefined || v === null)) return "";
  if (typeof v !== "string" || (v === "" && !optional)) {
    return { problem: `\`${name}\` must be a non-empty string` };
  }
  if (v.length > FIELD_LIMITS.id) {
    return { problem: `\`${name}\` is over ${FIELD_LIMITS.id} characters` };
  }
  return v;
}

function decodeWelcome(p: Record<string, unknown>): WelcomePayload {
  const text = (v: unknown) => typeof v === "string" ? v.slice(0, FIELD_LIMITS.name) : "";
  const labels = Array.isArray(p.labels)
    ? p.labels.filter((l) => typeof l === "string").slice(0, 256).map(text)
    : [];
  return { worknode_id: text(p.worknode_id), name: text(p.name), labels };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
