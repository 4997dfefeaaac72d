/**
 * Opening one MCP session with the official SDK: a stdio server the runner
 * launches (only if `permission.bash` allows its command line), or an HTTP
 * server (only if the webfetch URL policy allows its URL) spoken to with
 * Streamable HTTP, falling back to the legacy SSE transport.
 */
import { withDeadline } from "../async/deadline.ts";
import type { Logger, McpTransport } from "../deps.ts";
import {
  McpClient,
  SSEClientTransport,
  StdioClientTransport,
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "../deps/mcp.ts";
import type { Policy } from "../policy/mod.ts";
import { errorMessage, TaskError } from "../tasks/errors.ts";
import { VERSION } from "../ops/version.ts";
import { deniedMessage } from "../policy/command_policy.ts";
import type { UrlPolicy } from "../policy/url_policy.ts";
import { childEnv, refusedEnvName } from "../proc/child_env.ts";
import { findProgram, searchPath } from "../proc/program_path.ts";
import {
  type HttpServer,
  type McpServer,
  requestHeaders,
  type StdioServer,
} from "./server_config.ts";
import { descendants, killAll } from "../proc/process_tree.ts";
import { TaskMarker } from "../proc/task_marker.ts";
import { StderrLog } from "./stderr_log.ts";

export interface ConnectOptions {
  /** the launch (stdio) and every URL (HTTP) are checked against it */
  policy: Policy;
  /** a stdio server's working directory (the workspace root) */
  cwd: string;
  log: Logger;
  timeoutMs: number;
  /** aborts the attempt (shutdown) */
  signal?: AbortSignal;
}

/** A live session. `closed` settles when the server side goes away, for whatever reason. */
export interface Connection {
  client: McpClient;
  /** how we ended up talking to it */
  kind: "stdio" | "streamable-http" | "sse";
  /** the stdio server's process id */
  pid?: number;
  closed: Promise<void>;
  /** the dynamic headers the next HTTP requests carry */
  setDynamicHeaders(headers: Record<string, string>): void;
  /** the last lines the stdio server wrote to stderr, for error messages */
  stderrTail(): string;
  /** ends the session; for stdio, stops the server and every process below it */
  close(): Promise<void>;
}

export async function connect(server: McpServer, opts: ConnectOptions): Promise<Connection> {
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new TaskError(`connect timed out after ${opts.timeoutMs / 1000} s`)),
    opts.timeoutMs,
  );
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
  try {
    return server.transport === "stdio"
      ? await connectStdio(server, opts, signal)
      : await connectHttp(server, opts, signal);
  } catch (err) {
    // The SDK rejects an aborted request with the abort reason; keep ours readable.
    throw signal.aborted ? signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The `command denied` check for a stdio server's launch; throws TaskError.
 * Returns the program file to start: found on `env`'s PATH by the one
 * lookup (lib/proc/program_path.ts), never inside the workspace.
 */
export function assertLaunchAllowed(
  server: StdioServer,
  policy: Policy,
  cwd: string,
  env: Record<string, string>,
): string {
  const argv = [server.command, ...server.args];
  const decision = policy.command.check(argv);
  if (decision.action === "deny") {
    throw new TaskError(
      `${deniedMessage(argv, decision)}: a stdio MCP server is launched as a command, ` +
        `so permission.bash must allow it`,
    );
  }
  // With restricted rules, an env var that changes what the allowed command
  // loads or runs (LD_PRELOAD, PERLLIB, NODE_OPTIONS...) would make the check meaningless.
  if (!policy.command.trusted) {
    for (const name of Object.keys(server.env)) {
      const why = refusedEnvName(name);
      if (why) {
        throw new TaskError(
          `command denied: env ${name} of the stdio MCP server is refused ` +
            `(${why}; permission.bash has no catch-all allow)`,
        );
      }
    }
  }
  const program = findProgram(server.command, searchPath(env.PATH, cwd), {
    cwd,
    workspaceRoot: cwd,
  });
  if (program === undefined) {
    throw new TaskError(
      `cannot start: command not found: ${JSON.stringify(server.command)} ` +
        `(looked up on PATH, workspace directories excluded)`,
    );
  }
  return program;
}

async function connectStdio(
  server: StdioServer,
  opts: ConnectOptions,
  signal: AbortSignal,
): Promise<Connection> {
  const env = childEnv(server.env);
  const program = assertLaunchAllowed(server, opts.policy, opts.cwd, env);
  // the server and all it starts carry the marker, so closing finds even what detached
  const marker = new TaskMarker();
  marker.beforeFirstStart(); // the server starts below
  const transport = new StdioClientTransport({
    command: program,
    args: server.args,
    env: marker.mark(env),
    cwd: opts.cwd,
    // Piped, never inherited: a chatty server must not write into the runner's own log stream.
    stderr: "pipe",
  });
  const stderr = new StderrLog(opts.log, server.name);
  transport.stderr?.on("data", (chunk: Uint8Array) => stderr.write(chunk));
  transport.stderr?.on("error", () => {});
  const client = newClient();
  const closed = closedPromise(client);
  let pid: number | undefined;
  const close = async () => {
    // Note the tree before the SDK stops its child: afterwards the grandchildren
    // are re-parented and can no longer be found.
    const tree = pid ? await descendants(pid) : [];
    if (!tree) {
      opts.log.warn(
        "MCP server {server}: cannot list processes (no /proc access, no ps): " +
          "processes it started may outlive it",
        { server: server.name },
      );
    }
    await client.close().catch(() => {});
    const killed = await killAll(tree ?? []) + await marker.sweep();
    if (killed > 0) {
      opts.log.debug("killed {count} leftover processes of MCP server {server}", {
        count: killed,
        server: server.name,
      });
    }
  };
  try {
    await client.connect(transport, { signal, timeout: opts.timeoutMs });
    pid = transport.pid ?? undefined;
  } catch (err) {
    pid = transport.pid ?? undefined;
    await close();
    throw new TaskError(startFailure(server, err, stderr.tail()));
  }
  return {
    client,
    kind: "stdio",
    pid,
    closed,
    setDynamicHeaders: () => {},
    stderrTail: () => stderr.tail(),
    close,
  };
}

async function connectHttp(
  server: HttpServer,
  opts: ConnectOptions,
  signal: AbortSignal,
): Promise<Connection> {
  await opts.policy.url.check(server.url, signal);
  let dynamic = server.dynamicHeaders;
  const fetchFn = guardedFetch(server, opts.policy.url, () => dynamic);

  const streamable = new StreamableHTTPClientTransport(server.url, { fetch: fetchFn });
  let client = newClient();
  let kind: Connection["kind"] = "streamable-http";
  try {
    await client.connect(streamable, { signal, timeout: opts.timeoutMs });
  } catch (err) {
    await client.close().catch(() => {});
    // The spec's backwards-compatibility rule: a 4xx to the initialize POST
    // means the server may only speak the legacy HTTP+SSE transport.
    if (signal.aborted || !isClientError(err)) throw new TaskError(httpFailure(server, err));
    opts.log.debug("MCP server {server}: Streamable HTTP refused ({error}), trying legacy SSE", {
      server: server.name,
      error: errorMessage(err),
    });
    client = newClient();
    kind = "sse";
    try {
      await client.connect(new SSEClientTransport(server.url, { fetch: fetchFn }), {
        signal,
        timeout: opts.timeoutMs,
      });
    } catch (sseErr) {
      await client.close().catch(() => {});
      if (signal.aborted) throw sseErr;
      throw new TaskError(
        `${httpFailure(server, err)}; the legacy SSE fallback failed too: ${errorMessage(sseErr)}`,
      );
    }
  }
  const closed = closedPromise(client);
  const transport = client.transport as McpTransport | undefined;
  return {
    client,
    kind,
    closed,
    setDynamicHeaders: (h) => dynamic = h,
    stderrTail: () => "",
    close: async () => {
      // Tell a Streamable HTTP server to free the session; bounded, it is only a courtesy.
      if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
        await withTimeout(transport.terminateSession(), 2_000).catch(() => {});
      }
      await client.close().catch(() => {});
    },
  };
}

/**
 * The fetch every HTTP request of a session goes through: each URL it
 * reaches (the configured one, a legacy SSE server's message endpoint) is
 * checked against the webfetch URL policy, and the configured headers are
 * put on. Headers the SDK sets itself (session id, protocol version) win.
 */
function guardedFetch(
  server: HttpServer,
  urlPolicy: UrlPolicy,
  dynamic: () => Record<string, string>,
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const checked = new Set<string>();
  return async (url, init) => {
    const target = new URL(url);
    const key = target.origin + target.pathname;
    if (!checked.has(key)) {
      await urlPolicy.check(target, init?.signal ?? undefined);
      checked.add(key);
    }
    const headers = requestHeaders(server.headers, dynamic());
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    // Never followed here: the SDK follows a redirect only within the origin,
    // and through this same function, so every target is checked above.
    return await fetch(target, { ...init, headers, redirect: "manual" });
  };
}

function newClient(): McpClient {
  return new McpClient({ name: "flashduty-runner", version: VERSION }, { capabilities: {} });
}

function closedPromise(client: McpClient): Promise<void> {
  return new Promise((resolve) => {
    client.onclose = () => resolve();
  });
}

function isClientError(err: unknown): boolean {
  return err instanceof StreamableHTTPError && err.code !== undefined && err.code >= 400 &&
    err.code < 500;
}

function startFailure(server: StdioServer, err: unknown, stderrTail: string): string {
  const code = (err as { code?: unknown }).code;
  let why = errorMessage(err);
  if (code === "ENOENT") why = `command not found: ${JSON.stringify(server.command)}`;
  else if (code === "EACCES") why = `command not executable: ${JSON.stringify(server.command)}`;
  else if (err instanceof TaskError) return err.message;
  return `cannot start: ${why}${stderrTail ? `; its stderr ended with: ${stderrTail}` : ""}`;
}

function httpFailure(server: HttpServer, err: unknown): string {
  if (err instanceof TaskError) return err.message;
  const url = new URL(server.url.href);
  url.username = url.password = "";
  url.search = "";
  let why = errorMessage(err);
  if (err instanceof TypeError) why = `connection failed (${why})`; // fetch's network errors
  return `cannot connect to ${url.href}: ${why}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return withDeadline(p, ms, () => undefined);
}
