/**
 * The WebSocket client, behind one small interface so it can be swapped.
 *
 * Default (`--transport tcp`): the runner's own RFC 6455 client on Deno's
 * TCP/TLS (lib/wire/ws_client.ts). Measured against npm:ws in the same
 * session (docs/benchmarks.md): 2-5 MB less idle RSS in the runner child
 * (npm:ws brings Node's net/tls/http compat layers), 15-20% less CPU a
 * `read` task, a 129 MiB frame peaking at 2.0x its size instead of 3.0x;
 * TCP_NODELAY and one write per frame (bench:transport).
 *
 * npm:ws stays selectable (`--transport ws`): it was the default and is
 * the reference the own client was measured against. Deno's native
 * WebSocket (`--transport native`) leaves Nagle's algorithm on and writes
 * a frame's header and payload in separate writes, so a 1.4–64 KB message
 * (most task results) waits ~40 ms for the peer's delayed ACK; kept so we
 * can switch when the bench shows it no longer stalls.
 */
import { beforeLargeText, InboundQueue } from "./large_frames.ts";
import type { TransportName } from "../settings.ts";
import { dialTcp } from "./ws_client.ts";

export interface Socket {
  /** resolves once the frame is handed to the OS; rejects when the socket is no longer open */
  send(text: string): Promise<void>;
  close(code?: number, reason?: string): void;
  /** drops the connection at once, without a closing handshake (a silent peer would not answer one) */
  terminate?(): void;
  /**
   * Transport-level liveness probe: sends a ping and calls `onPong` when the
   * pong comes. Never waits on queued sends; the caller keeps the time.
   */
  ping?(onPong: () => void): void;
  /** bytes sent but not yet handed to the OS (the WebSocket's bufferedAmount) */
  bufferedAmount?(): number;
  /**
   * Runs `write` with the socket's writes held back, then hands them to the
   * OS at once (one writev): frames sent inside cost one system call
   * together. Absent: each send is its own write.
   */
  corked?(write: () => void): void;
}

export interface SocketHandlers {
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
}

export interface DialOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  /** frames larger than this close the connection (1009) instead of exhausting memory */
  maxPayload: number;
  /** an http.Agent to dial through (the CONNECT proxy of lib/wire/proxy.ts); npm:ws only */
  agent?: unknown;
  /** the CONNECT proxy to tunnel through (lib/wire/proxy.ts); the tcp transport only */
  proxy?: URL;
}

/**
 * `auth`: the platform answered the upgrade with 401/403. `network`: anything
 * else that a later dial may not meet. `exhausted`: this process cannot dial
 * again without leaking (lib/wire/ws_client_handshake.ts); a fresh process can.
 */
export type DialErrorKind = "auth" | "network" | "exhausted";

/** Why a dial failed: `auth` when the platform answered the upgrade with 401/403. */
export class DialError extends Error {
  constructor(readonly kind: DialErrorKind, message: string, readonly status?: number) {
    super(message);
    this.name = "DialError";
  }
}

export type Dialer = (url: string, handlers: SocketHandlers, opts: DialOptions) => Promise<Socket>;

export function dialer(name: TransportName): Dialer {
  return name === "native" ? dialNative : name === "ws" ? dialWs : dialTcp;
}

function statusError(status: number, detail: string): DialError {
  return status === 401 || status === 403
    ? new DialError("auth", `HTTP ${status} on upgrade`, status)
    : new DialError("network", `HTTP ${status} on upgrade${detail ? `: ${detail}` : ""}`, status);
}

/**
 * npm:ws: sets TCP_NODELAY, exposes the upgrade's HTTP status and ping/pong.
 * Imported on the first dial, so the supervisor (which reads TRANSPORTS from
 * this module but never dials) does not load it.
 */
export const dialWs: Dialer = async (url, handlers, opts) => {
  const { NodeWebSocket } = await import("../deps/ws.ts");
  return await new Promise((resolve, reject) => {
    const ws = new NodeWebSocket(url, {
      headers: opts.headers,
      handshakeTimeout: opts.timeoutMs,
      maxPayload: opts.maxPayload,
      perMessageDeflate: false,
      followRedirects: false,
      // deno-lint-ignore no-explicit-any
      ...(opts.agent ? { agent: opts.agent as any } : {}),
    });
    let open = false;
    ws.on("unexpected-response", (_req, res) => {
      reject(statusError(res.statusCode ?? 0, res.statusMessage ?? ""));
      ws.terminate();
    });
    let lastError = "";
    ws.on("error", (err: Error) => {
      if (!open) reject(new DialError("network", err.message));
      else lastError = err.message; // e.g. "Max payload size exceeded": said when it closes
    });
    let pong: (() => void) | undefined;
    ws.on("pong", () => pong?.());
    const inbound = new InboundQueue((text) => handlers.onMessage(text));
    ws.on("open", () => {
      open = true;
      resolve({
        send: (text) =>
          new Promise<void>((done, fail) => {
            // Without a callback ws silently drops a frame sent while closing.
            if (ws.readyState !== NodeWebSocket.OPEN) fail(new Error("socket is not open"));
            else ws.send(text, (err?: Error) => err ? fail(err) : done());
          }),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
        bufferedAmount: () => ws.bufferedAmount,
        corked: (write) => {
          // ws writes each frame to its net.Socket (`_socket`, not in its typings); corked, the
          // stream keeps them and writes them together on uncork. Cork counts nest, so ws's own
          // cork/uncork around a frame's header and body does not flush early.
          const net = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
          net?.cork();
          try {
            write();
          } finally {
            net?.uncork();
          }
        },
        ping: (onPong) => {
          pong = onPong;
          try {
            ws.ping();
          } catch { /* not open: no pong will come, and the caller's timer says so */ }
        },
      });
    });
    ws.on("message", (data: unknown, isBinary: boolean) => {
      if (isBinary) return; // the protocol is JSON text frames only
      const bytes = (data as Uint8Array).length;
      beforeLargeText(bytes);
      inbound.push(String(data), bytes);
    });
    ws.on("close", (code: number, reason: unknown) => {
      if (open) handlers.onClose(code, String(reason ?? "") || lastError);
      else reject(new DialError("network", `closed during handshake (${code})`));
    });
  });
};

/** Deno's native WebSocket: kept selectable, see the module comment for why it is not the default. */
export const dialNative: Dialer = (url, handlers, opts) =>
  new Promise((resolve, reject) => {
    // Deno accepts `headers` in the constructor's options bag (not in the DOM typings).
    const ws = new WebSocket(url, { headers: opts.headers } as unknown as string[]);
    let open = false;
    const timer = setTimeout(() => {
      if (!open) {
        reject(new DialError("network", `handshake timed out after ${opts.timeoutMs} ms`));
        ws.close();
      }
    }, opts.timeoutMs);
    ws.onerror = (ev) => {
      if (open) return;
      clearTimeout(timer);
      const message = (ev as ErrorEvent).message ?? "WebSocket error";
      const status = /Invalid status code:? (\d{3})/.exec(message);
      reject(status ? statusError(Number(status[1]), "") : new DialError("network", message));
    };
    ws.onopen = () => {
      open = true;
      clearTimeout(timer);
      resolve({
        send: (text) => {
          // The spec's send() silently discards frames once closing: refuse instead.
          if (ws.readyState !== WebSocket.OPEN) {
            return Promise.reject(new Error("socket is not open"));
          }
          ws.send(text);
          return Promise.resolve();
        },
        close: (code, reason) => ws.close(code, reason),
        bufferedAmount: () => ws.bufferedAmount,
      });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      if (ev.data.length > opts.maxPayload) {
        ws.close(1009, "message too big");
        return;
      }
      handlers.onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      clearTimeout(timer);
      if (open) handlers.onClose(ev.code, ev.reason);
    };
  });
