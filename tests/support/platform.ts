/**
 * A platform simulator: a real WebSocket server on 127.0.0.1 that speaks the
 * platform's side of docs/protocol.md. Tests and `deno task demo` drive the real
 * runner through it; nothing of the runner is mocked.
 */
import {
  type Envelope,
  envelope,
  type HeartbeatPayload,
  type McpResultPayload,
  type MessageType,
  parseFrame,
  type TaskOutputPayload,
  type TaskResultPayload,
  type WelcomePayload,
} from "../../lib/wire/protocol.ts";

export interface SimulatorOptions {
  token?: string;
  welcome?: WelcomePayload | null;
  path?: string;
  /** PEM certificate and key: serve wss:// instead of ws:// */
  tls?: { cert: string; key: string };
  /** added to the welcome's timestamp: a platform whose clock is off (doctor's clock check) */
  clockOffsetMs?: number;
}

export interface UpgradeRecord {
  token: string | null;
  authorization: string | null;
  accepted: boolean;
}

type Waiter = {
  match: (env: Envelope<Record<string, unknown>>) => boolean;
  resolve: (e: Envelope<Record<string, unknown>>) => void;
};

export class PlatformSimulator {
  /** every frame the runner sent, in order */
  readonly received: Envelope<Record<string, unknown>>[] = [];
  readonly upgrades: UpgradeRecord[] = [];
  private socket?: WebSocket;
  private waiters: Waiter[] = [];
  private connectionWaiters: (() => void)[] = [];
  private counter = 0;
  rejectAll = false;

  private constructor(
    private readonly server: Deno.HttpServer<Deno.NetAddr>,
    readonly token: string,
    readonly path: string,
    readonly scheme: "ws" | "wss",
  ) {}

  static start(opts: SimulatorOptions = {}): Promise<PlatformSimulator> {
    const token = opts.token ?? "wnt_test_token";
    const path = opts.path ?? "/safari/worknode/ws";
    const welcome = opts.welcome === undefined
      ? { worknode_id: "wn_sim_1", name: "simulated-runner", labels: ["sim"] }
      : opts.welcome;
    const listening = Promise.withResolvers<void>();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => listening.resolve(),
      ...(opts.tls ?? {}),
    }, (req) => {
      const url = new URL(req.url);
      if (url.pathname !== path) return new Response("not found", { status: 404 });
      const record: UpgradeRecord = {
        token: url.searchParams.get("token"),
        authorization: req.headers.get("authorization"),
        accepted: false,
      };
      sim.upgrades.push(record);
      if (sim.rejectAll || record.token !== token) {
        return new Response("invalid token", { status: 401 });
      }
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("expected a WebSocket upgrade", { status: 400 });
      }
      record.accepted = true;
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onopen = () => {
        sim.socket = socket;
        if (welcome) {
          const frame = envelope("welcome", welcome);
          frame.timestamp += opts.clockOffsetMs ?? 0;
          socket.send(JSON.stringify(frame));
        }
        for (const w of sim.connectionWaiters.splice(0)) w();
      };
      socket.onmessage = (ev) => {
        const frame = parseFrame(String(ev.data));
        if (!frame.ok) return;
        sim.received.push(frame.envelope);
        for (const w of [...sim.waiters]) {
          if (w.match(frame.envelope)) {
            sim.waiters.splice(sim.waiters.indexOf(w), 1);
            w.resolve(frame.envelope);
          }
        }
      };
      socket.onclose = () => {
        if (sim.socket === socket) sim.socket = undefined;
      };
      return response;
    });
    // The handler above runs only for requests, which come after this line.
    const sim = new PlatformSimulator(server, token, path, opts.tls ? "wss" : "ws");
    return listening.promise.then(() => sim);
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.server.addr.port}${this.path}`;
  }

  get port(): number {
    return this.server.addr.port;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /**
   * Resolves when a runner is connected (now or later). The default deadlines
   * are generous: a runner starting under a supervisor on a loaded 2-core
   * machine has taken over 15 s to its first heartbeat.
   */
  waitForConnection(timeoutMs = 60_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return withTimeout(
      new Promise<void>((r) => this.connectionWaiters.push(r)),
      timeoutMs,
      "no runner connected",
    );
  }

  /** The first frame (already received or still to come) that matches. */
  waitFor<T = Record<string, unknown>>(
    match: (env: Envelope<Record<string, unknown>>) => boolean,
    timeoutMs = 60_000,
    what = "a matching message",
    from = 0,
  ): Promise<Envelope<T>> {
    const seen = this.received.slice(from).find(match);
    if (seen) return Promise.resolve(seen as Envelope<T>);
    const p = new Promise<Envelope<Record<string, unknown>>>((resolve) =>
      this.waiters.push({ match, resolve })
    );
    return withTimeout(p, timeoutMs, `timed out waiting for ${what}`) as Promise<Envelope<T>>;
  }

  heartbeats(): HeartbeatPayload[] {
    return this.received.filter((e) => e.type === "heartbeat").map((e) =>
      e.payload as unknown as HeartbeatPayload
    );
  }

  send(type: MessageType | string, payload: unknown): void {
    this.sendRaw(JSON.stringify({ ...envelope(type as MessageType, payload) }));
  }

  sendRaw(text: string): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      throw new Error("no runner is connected");
    }
    this.socket.send(text);
  }

  newTaskId(): string {
    return `task_${++this.counter}_${crypto.randomUUID().slice(0, 8)}`;
  }

  /** Sends a task.request; returns its task_id. */
  sendTask(
    operation: string,
    args: unknown,
    extra: { task_id?: string; trace_id?: string; source_instance_id?: string } = {},
  ): string {
    const task_id = extra.task_id ?? this.newTaskId();
    this.send("task.request", { task_id, operation, args, ...extra });
    return task_id;
  }

  result(taskId: string, timeoutMs = 30_000, from = 0): Promise<TaskResultPayload> {
    return this.waitFor<TaskResultPayload>(
      (e) => e.type === "task.result" && e.payload.task_id === taskId,
      timeoutMs,
      `task.result for ${taskId}`,
      from,
    ).then((e) => e.payload);
  }

  /** Sends a task and waits for its result. */
  request(
    operation: string,
    args: unknown,
    opts: { timeoutMs?: number; trace_id?: string; source_instance_id?: string } = {},
  ): Promise<TaskResultPayload> {
    const from = this.received.length;
    const id = this.sendTask(operation, args, {
      trace_id: opts.trace_id,
      source_instance_id: opts.source_instance_id,
    });
    return this.result(id, opts.timeoutMs, from);
  }

  cancel(taskId: string): void {
    this.send("task.cancel", { task_id: taskId });
  }

  mcpCall(
    server: unknown,
    toolName: string,
    args: Record<string, unknown>,
    timeoutMs = 30_000,
  ): Promise<McpResultPayload> {
    const call_id = `call_${++this.counter}`;
    this.send("mcp.call", { call_id, server, tool_name: toolName, arguments: args });
    return this.waitFor<McpResultPayload>(
      (e) => e.type === "mcp.result" && e.payload.call_id === call_id,
      timeoutMs,
      `mcp.result for ${call_id}`,
    ).then((e) => e.payload);
  }

  outputs(taskId: string): TaskOutputPayload[] {
    return this.received.filter((e) => e.type === "task.output" && e.payload.task_id === taskId)
      .map((e) => e.payload as unknown as TaskOutputPayload);
  }

  /** Closes the runner's connection from the platform side (it should reconnect). */
  dropConnection(code = 1012, reason = "simulated restart"): void {
    this.socket?.close(code, reason);
    this.socket = undefined;
  }

  async close(): Promise<void> {
    this.socket?.close(1001, "simulator closing");
    await this.server.shutdown();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
  ]);
}
