/**
 * The platform side of `deno task bench`: a WebSocket server on 127.0.0.1
 * that keeps nothing but what the figures need (the simulator in
 * tests/support keeps every frame and checks each one, which would make the
 * platform, not the runner, the bottleneck at 15,000 tasks a second).
 */
export interface BenchResult {
  task_id: string;
  success: boolean;
  result?: Record<string, unknown>;
  error?: string;
}

export class BenchPlatform {
  /** performance.now() when the first heartbeat of the current connection came */
  firstHeartbeat = Promise.withResolvers<number>();
  /** bytes of task.output data received */
  outputChars = 0;
  private socket?: WebSocket;
  private pending = new Map<string, (r: BenchResult) => void>();
  private counter = 0;

  private server!: Deno.HttpServer<Deno.NetAddr>;

  static async start(token = "wnt_bench"): Promise<BenchPlatform> {
    const listening = Promise.withResolvers<void>();
    const platform = new BenchPlatform();
    platform.server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => listening.resolve() },
      (req) => {
        if (new URL(req.url).searchParams.get("token") !== token) {
          return new Response("invalid token", { status: 401 });
        }
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onopen = () => {
          platform.socket = socket;
          socket.send(
            platform.envelope("welcome", { worknode_id: "wn_bench", name: "bench", labels: [] }),
          );
        };
        socket.onmessage = (ev) => platform.receive(String(ev.data));
        return response;
      },
    );
    await listening.promise;
    return platform;
  }

  url(token = "wnt_bench"): string {
    return `ws://127.0.0.1:${this.server.addr.port}/safari/worknode/ws?token=${token}`;
  }

  /** the URL without its token, for `--url` (the token goes in `--token`) */
  get baseUrl(): string {
    return `ws://127.0.0.1:${this.server.addr.port}/safari/worknode/ws`;
  }

  /** A new connection's heartbeat is awaited afresh. */
  expectNewConnection(): void {
    this.firstHeartbeat = Promise.withResolvers<number>();
  }

  request(operation: string, args: unknown): Promise<BenchResult> {
    const task_id = `task_${++this.counter}`;
    const done = new Promise<BenchResult>((resolve) => this.pending.set(task_id, resolve));
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      throw new Error("no client is connected");
    }
    this.socket.send(this.envelope("task.request", { task_id, operation, args }));
    return done;
  }

  async close(): Promise<void> {
    this.socket?.close(1001, "bench done");
    await this.server.shutdown();
  }

  private receive(text: string): void {
    const msg = JSON.parse(text);
    if (msg.type === "task.result") {
      const resolve = this.pending.get(msg.payload.task_id);
      this.pending.delete(msg.payload.task_id);
      resolve?.(msg.payload);
    } else if (msg.type === "task.output") {
      this.outputChars += msg.payload.data.length;
    } else if (msg.type === "heartbeat") {
      this.firstHeartbeat.resolve(performance.now());
    }
  }

  private envelope(type: string, payload: unknown): string {
    return JSON.stringify({
      id: `msg_bench${++this.counter}`,
      type,
      payload,
      timestamp: Date.now(),
    });
  }
}

/**
 * `deno run` arguments that start the runner (supervised) against `platform`:
 * one definition for every benchmark that starts it.
 */
export function runnerArgs(
  platform: BenchPlatform,
  o: { main: string; workspace: string; config: string; logLevel: string; denoFlags?: string[] },
): string[] {
  return [
    "run",
    "--allow-all",
    ...(o.denoFlags ?? []),
    o.main,
    "run",
    "--url",
    platform.baseUrl,
    "--token",
    "wnt_bench",
    "--workspace",
    o.workspace,
    "--config",
    o.config,
    "--log-level",
    o.logLevel,
  ];
}
