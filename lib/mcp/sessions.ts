/**
 * The MCP session pool: one live session per server `name`, reused across
 * calls. A config that changed under the same name gets a new session (the
 * old one is closed once its calls finish); a session whose server went away
 * or whose call failed at the transport is dropped so the next call
 * reconnects; an idle session is closed; `closeAll` ends everything,
 * stdio server processes included.
 */
import { TIMEOUTS } from "../tasks/timeout.ts";
import type { Logger, McpCallToolResult, McpTool } from "../deps.ts";
import { McpError, McpErrorCode, StreamableHTTPError } from "../deps/mcp.ts";
import type { Policy } from "../policy/mod.ts";
import { errorMessage, TaskError } from "../tasks/errors.ts";
import { connect, type Connection } from "./connect.ts";
import { describeServer, type McpServer, sessionKey } from "./server_config.ts";
import { callerMistake } from "./tool_check.ts";

export const CONNECT_TIMEOUT_MS = 30_000;
export const CALL_TIMEOUT_MS = TIMEOUTS.mcp.defaultS * 1000;
export const IDLE_CLOSE_MS = 5 * 60_000;
/** Idle sessions beyond this many are closed, least recently used first (each may be a process). */
export const MAX_SESSIONS = 32;
/** A server whose tool list never ends is refused rather than followed forever. */
const MAX_TOOL_PAGES = 1_000;

export interface McpSessionsOptions {
  log: Logger;
  /** close a session unused this long (default 5 minutes) */
  idleMs?: number;
  /** default 30 s */
  connectTimeoutMs?: number;
}

export interface UseOptions {
  /** a stdio server's working directory: the workspace root */
  cwd: string;
  /** the rules a new session's launch (stdio) or URL (HTTP) is checked against: the task's */
  policy: Policy;
  /** task.cancel / shutdown */
  signal?: AbortSignal;
  /** per request; default 60 s */
  timeoutMs?: number;
  /** the task's logger (task_id, trace_id) */
  log?: Logger;
}

/**
 * One server's session. Its state changes only through these methods, each
 * one step of a call's life: hold -> enter -> leave -> letGo, and retire /
 * close. The pool decides when; the session keeps its counts consistent.
 */
class Session {
  readonly ready: Promise<Connection>;
  #connection?: Connection;
  /** calls holding the session (connecting, waiting or running) */
  #users = 0;
  /** calls sending requests, all with the dynamic headers in `#headersKey` */
  #running = 0;
  #headersKey = "{}";
  #idleWaiters: (() => void)[] = [];
  /** replaced by a new config, or failed: closes once its last user leaves */
  #retired = false;
  #closing?: Promise<void>;
  #idleTimer?: ReturnType<typeof setTimeout>;
  #lastUsed = Date.now();
  #tools?: Map<string, McpTool>;
  readonly #abort = new AbortController();

  constructor(
    readonly key: string,
    readonly server: McpServer,
    /** the policy its launch or URL was checked against */
    readonly policy: Policy,
    start: (s: Session, signal: AbortSignal) => Promise<Connection>,
  ) {
    this.ready = start(this, this.#abort.signal);
    this.ready.then((c) => this.#connection = c, () => {});
  }

  get connection(): Connection | undefined {
    return this.#connection;
  }
  get retired(): boolean {
    return this.#retired;
  }
  get idle(): boolean {
    return this.#users === 0;
  }
  get lastUsed(): number {
    return this.#lastUsed;
  }
  /** the server's tools, once listed */
  get tools(): Map<string, McpTool> | undefined {
    return this.#tools;
  }

  /** A call takes the session: no idle close while it is held. */
  hold(): void {
    this.#users++;
    clearTimeout(this.#idleTimer);
  }

  /** A call lets go of it; true when nobody holds it any more. */
  letGo(): boolean {
    this.#lastUsed = Date.now();
    return --this.#users === 0;
  }

  /** `onIdle` runs if the session is still unheld `ms` from now. */
  closeWhenIdle(ms: number, onIdle: () => void): void {
    this.#idleTimer = setTimeout(() => {
      if (this.#users === 0) onIdle();
    }, ms);
  }

  /**
   * Lets a call send requests with dynamic headers `headersKey`; waits
   * while calls with other headers run (headers are per session).
   */
  async enter(headersKey: string, signal?: AbortSignal): Promise<void> {
    while (this.#running > 0 && this.#headersKey !== headersKey) {
      await raceAbort(new Promise<void>((r) => this.#idleWaiters.push(r)), signal);
    }
    this.#headersKey = headersKey;
    this.#running++;
  }

  /** The call that entered is done sending. */
  leave(): void {
    if (--this.#running === 0) { for (const wake of this.#idleWaiters.splice(0)) wake(); }
  }

  /** Marks it retired; false when it already was. */
  retire(): boolean {
    if (this.#retired) return false;
    this.#retired = true;
    return true;
  }

  /** The listed tools, kept for the session's life. */
  rememberTools(tools: McpTool[]): void {
    this.#tools = new Map(tools.map((t) => [t.name, t]));
  }

  /**
   * Abandons a pending connect and closes the connection, once: the promise
   * settles when it is closed; undefined when a close already began.
   */
  close(why: string): Promise<void> | undefined {
    this.#retired = true;
    clearTimeout(this.#idleTimer);
    if (this.#closing) return undefined;
    this.#abort.abort(new TaskError(`connect abandoned: ${why}`));
    this.#closing = this.ready.then((c) => c.close(), () => {});
    return this.#closing;
  }
}

export class McpSessions {
  private readonly byName = new Map<string, Session>();
  private readonly closings = new Set<Promise<void>>();
  private shuttingDown = false;
  private readonly log: Logger;
  private readonly idleMs: number;
  private readonly connectTimeoutMs: number;

  constructor(opts: McpSessionsOptions) {
    this.log = opts.log;
    this.idleMs = opts.idleMs ?? IDLE_CLOSE_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  }

  /** Calls one tool; a tool's own error comes back as `isError`, everything else throws TaskError. */
  async callTool(
    server: McpServer,
    tool: string,
    args: Record<string, unknown>,
    opts: UseOptions,
  ): Promise<McpCallToolResult> {
    const what = `tool ${JSON.stringify(tool)}`;
    const timeout = opts.timeoutMs ?? CALL_TIMEOUT_MS;
    return await this.use(server, what, opts, async (s, conn) => {
      const result = await conn.client.callTool({ name: tool, arguments: args }, undefined, {
        signal: opts.signal,
        timeout,
      }) as McpCallToolResult;
      if (result.isError) {
        const tools = await this.knownTools(s, conn, opts);
        const mistake = tools && callerMistake(tools, tool, args);
        if (mistake) throw new TaskError(`${prefix(server, what)}: ${mistake}`);
      }
      return result;
    });
  }

  /** Every tool the server offers, following `nextCursor` to the end. */
  async listTools(server: McpServer, opts: UseOptions): Promise<McpTool[]> {
    return await this.use(server, "list tools", opts, async (s, conn) => {
      const tools = await listAll(conn, opts.signal, opts.timeoutMs ?? CALL_TIMEOUT_MS);
      s.rememberTools(tools);
      return tools;
    });
  }

  /** closeAll, for `await using` and the Services' disposal */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  /** Closes every session and stops every stdio server; later calls are refused. */
  async closeAll(): Promise<void> {
    this.shuttingDown = true;
    for (const s of [...this.byName.values()]) this.close(s, "runner shutting down");
    this.byName.clear();
    while (this.closings.size > 0) await Promise.allSettled([...this.closings]);
  }

  /** Live sessions by server name (for diagnostics and tests). */
  sessions(): { name: string; kind?: Connection["kind"]; pid?: number }[] {
    return [...this.byName.values()].map((s) => ({
      name: s.server.name,
      kind: s.connection?.kind,
      pid: s.connection?.pid,
    }));
  }

  // ---- internals ----

  private async use<T>(
    server: McpServer,
    what: string,
    opts: UseOptions,
    fn: (s: Session, conn: Connection) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0;; attempt++) {
      if (this.shuttingDown) {
        throw new TaskError(`${prefix(server, what)}: the runner is shutting down`);
      }
      if (opts.signal?.aborted) throw cancelled(server, what);
      const { session: s, reused } = this.acquire(server, opts);
      s.hold();
      let entered = false;
      try {
        let conn: Connection;
        try {
          conn = await raceAbort(s.ready, opts.signal);
        } catch (err) {
          if (opts.signal?.aborted) throw cancelled(server, what);
          throw failure(server, what, err);
        }
        await this.enter(s, conn, server, opts.signal);
        entered = true;
        return await fn(s, conn);
      } catch (err) {
        if (opts.signal?.aborted) throw cancelled(server, what);
        if (err instanceof TaskError) throw err; // already says which server and tool
        // The tool cannot have run when the session was already gone: try once on a new one.
        if (attempt === 0 && reused && sessionGone(err)) {
          (opts.log ?? this.log).info("MCP server {server}: session gone, reconnecting", {
            server: server.name,
          });
          this.retire(s, "session gone");
          continue;
        }
        if (!serverAnswered(err)) this.retire(s, `failed: ${errorMessage(err)}`);
        throw failure(server, what, err, opts.timeoutMs ?? CALL_TIMEOUT_MS);
      } finally {
        if (entered) s.leave();
        this.release(s);
      }
    }
  }

  /** The session for this config, opening one (and retiring a stale one) as needed. */
  private acquire(server: McpServer, opts: UseOptions): { session: Session; reused: boolean } {
    const key = sessionKey(server, opts.cwd);
    const current = this.byName.get(server.name);
    // A session checked against an older policy (a reload) is checked again by reopening it.
    if (current && current.key === key && current.policy === opts.policy && !current.retired) {
      return { session: current, reused: true };
    }
    if (current) this.retire(current, current.key === key ? "policy changed" : "config changed");
    this.evictIdle(MAX_SESSIONS - 1);
    const session = new Session(
      key,
      server,
      opts.policy,
      (s, signal) => this.open(s, opts.cwd, s.policy, signal),
    );
    this.byName.set(server.name, session);
    return { session, reused: false };
  }

  /** Closes idle sessions, least recently used first, until at most `keep` remain. */
  private evictIdle(keep: number): void {
    const idle = [...this.byName.values()].filter((s) => s.idle)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (let excess = this.byName.size - keep; excess > 0 && idle.length > 0; excess--) {
      this.retire(idle.shift()!, "too many sessions");
    }
  }

  private async open(
    s: Session,
    cwd: string,
    policy: Policy,
    signal: AbortSignal,
  ): Promise<Connection> {
    this.log.info("MCP connecting to {server}", describeServer(s.server));
    try {
      const conn = await connect(s.server, {
        policy,
        cwd,
        log: this.log,
        timeoutMs: this.connectTimeoutMs,
        signal,
      });
      this.log.info("MCP connected to {server} ({kind})", {
        server: s.server.name,
        kind: conn.kind,
        pid: conn.pid,
      });
      conn.closed.then(() => {
        if (this.byName.get(s.server.name) === s) {
          this.log.info("MCP server {server} closed the session", { server: s.server.name });
          this.retire(s, "server went away");
        }
      });
      return conn;
    } catch (err) {
      this.log.warn("MCP connect to {server} failed: {error}", {
        server: s.server.name,
        error: errorMessage(err),
      });
      this.retire(s, "connect failed");
      throw err;
    }
  }

  /**
   * Lets a call send its requests. Dynamic headers are per session, so a
   * call whose dynamic headers differ from those of the calls running now
   * waits for them to finish: no request ever carries another call's headers.
   */
  private async enter(
    s: Session,
    conn: Connection,
    server: McpServer,
    signal?: AbortSignal,
  ): Promise<void> {
    await s.enter(server.transport === "sse" ? canonical(server.dynamicHeaders) : "{}", signal);
    if (server.transport === "sse") conn.setDynamicHeaders(server.dynamicHeaders);
  }

  private release(s: Session): void {
    if (!s.letGo()) return;
    if (s.retired) this.close(s, "retired");
    else s.closeWhenIdle(this.idleMs, () => this.retire(s, "idle"));
  }

  /** Takes the session out of the pool; it closes now, or when its last user leaves. */
  private retire(s: Session, why: string): void {
    if (this.byName.get(s.server.name) === s) this.byName.delete(s.server.name);
    if (!s.retire()) return;
    this.log.debug("MCP session {server} retired: {why}", { server: s.server.name, why });
    if (s.idle) this.close(s, why);
  }

  private close(s: Session, why: string): void {
    const closed = s.close(why);
    if (!closed) return;
    const closing = closed.finally(() => this.closings.delete(closing));
    this.closings.add(closing);
  }

  /** The server's tools, listed once per session and only after an error result. */
  private async knownTools(
    s: Session,
    conn: Connection,
    opts: UseOptions,
  ): Promise<Map<string, McpTool> | undefined> {
    if (!s.tools) {
      try {
        s.rememberTools(await listAll(conn, opts.signal, opts.timeoutMs ?? CALL_TIMEOUT_MS));
      } catch {
        return undefined; // cannot tell: the tool's own error result stands
      }
    }
    return s.tools;
  }
}

async function listAll(
  conn: Connection,
  signal: AbortSignal | undefined,
  timeout: number,
): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const res = await conn.client.listTools(cursor === undefined ? {} : { cursor }, {
      signal,
      timeout,
    });
    tools.push(...res.tools);
    if (!res.nextCursor) return tools;
    if (seen.has(res.nextCursor)) {
      throw new Error(`the server's tool list repeats cursor ${JSON.stringify(res.nextCursor)}`);
    }
    seen.add(res.nextCursor);
    cursor = res.nextCursor;
  }
  throw new Error(`the server's tool list has more than ${MAX_TOOL_PAGES} pages`);
}

/** A JSON-RPC error the server sent back: the session itself is fine. */
function serverAnswered(err: unknown): boolean {
  return err instanceof McpError && err.code !== McpErrorCode.ConnectionClosed &&
    err.code !== McpErrorCode.RequestTimeout;
}

/** The request never reached a live session: a Streamable HTTP server that forgot it, a dead stdio pipe. */
function sessionGone(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 404;
  return err instanceof Error && err.message === "Not connected";
}

function prefix(server: McpServer, what: string): string {
  return `MCP server ${JSON.stringify(server.name)}, ${what}`;
}

function cancelled(server: McpServer, what: string): TaskError {
  return new TaskError(`${prefix(server, what)}: cancelled`);
}

/** The platform-facing message; denials keep their `command denied` / `url denied` start. */
function failure(server: McpServer, what: string, err: unknown, timeoutMs?: number): TaskError {
  let reason = errorMessage(err);
  if (err instanceof McpError && err.code === McpErrorCode.RequestTimeout && timeoutMs) {
    reason = `timed out after ${timeoutMs / 1000} s`;
  } else if (err instanceof McpError && err.code === McpErrorCode.ConnectionClosed) {
    reason = "the server closed the connection";
  }
  if (/^(command|url) denied/.test(reason)) {
    return new TaskError(`${reason} [${prefix(server, what)}]`);
  }
  return new TaskError(`${prefix(server, what)}: ${reason}`);
}

function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function canonical(m: Record<string, string>): string {
  return JSON.stringify(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]).sort());
}
